/**
 * HTTP backends (the MCP SDK's own server in a child process) killed and started again, ten
 * times each: every call once the backend is back succeeds and reaches the new process; while
 * it is down its tools are withdrawn with list_changed. Half of the restarts are quicker than
 * the gateway can notice the crash (the case where an SSE transport reconnected by itself onto
 * a fresh, never-initialised session, and a Streamable HTTP backend answered `404 Session not
 * found`). What each restart costs is printed: for the quick ones, seconds from the backend
 * accepting connections to the first answered call; for the others, to the gateway listing its
 * tools again by itself (bounded by the backoff: the test tuning's 100 ms to 1 s).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { serveGateway, text, until, type ServedGateway } from './harness.js';
import { startProcessBackend, type HttpTransport, type ProcessBackend } from './process-backend.js';

const RESTARTS = 10;
let served: ServedGateway | undefined;
let backend: ProcessBackend | undefined;

afterEach(async () => {
  await served?.close();
  await backend?.close();
  served = undefined;
  backend = undefined;
});

describe.each<HttpTransport>(['sse', 'streamable-http'])('a %s backend restarted %#', (transport) => {
  it(`serves every call after each of ${RESTARTS} restarts, on a new session of the new process`, async () => {
    backend = await startProcessBackend(transport);
    const b = backend;
    served = await serveGateway({ backends: [{ name: 'fix', prefix: 'fix', transport, url: b.url }] });
    const gateway = served.gateway;
    const state = () => gateway.view().backends.find((x) => x.name === 'fix');
    await until('the backend ready', () => state()?.state === 'ready');
    const agent = await served.connect();
    const whoami = async () => text(await agent.client.callTool({ name: 'fix__whoami', arguments: {} }));
    expect(await whoami()).toBe(`pid ${b.pid()}`);

    const costs: number[] = [];
    const passive: number[] = [];
    for (let i = 0; i < RESTARTS; i++) {
      const quick = i % 2 === 0;
      const snapshots = agent.toolSnapshots().length;
      await b.kill();
      if (!quick) {
        // Noticed without any call: shown not ready, its tools withdrawn with list_changed.
        await until(`restart ${i}: the crash noticed`, () => state()?.state !== 'ready');
        await until(`restart ${i}: tools withdrawn`, () => agent.toolSnapshots().slice(snapshots).some((names) => !names.includes('fix__whoami')));
        await expect(whoami()).rejects.toThrow(/backend "fix"/);
      }
      await b.start();
      const back = performance.now();
      if (quick) {
        // A call at once: it finds the lost session and re-initialises, or makes the gateway reconnect now.
        expect(await whoami(), `restart ${i}: the first call`).toBe(`pid ${b.pid()}`);
        costs.push((performance.now() - back) / 1000);
      } else {
        // No call: the gateway comes back by itself within its backoff, and says so with list_changed.
        await until(`restart ${i}: ready again`, () => state()?.state === 'ready' && agent.toolSnapshots().at(-1)?.includes('fix__whoami'));
        passive.push((performance.now() - back) / 1000);
      }
      // A fresh session on the backend: the per-session counter starts again.
      expect(text(await agent.client.callTool({ name: 'fix__count', arguments: {} }))).toBe('1');
      for (let j = 0; j < 3; j++) expect(await whoami()).toBe(`pid ${b.pid()}`);
      await until(`restart ${i}: tools listed again`, () => agent.toolSnapshots().at(-1)?.includes('fix__whoami') ?? true);
      expect((await agent.client.listTools()).tools.map((t) => t.name)).toContain('fix__whoami');
    }
    const seconds = (values: number[]) => values.map((c) => c.toFixed(3)).join(' ');
    console.info(`[restart-cost] ${transport}: seconds from the backend listening to the first answered call (quick restarts): ${seconds(costs)}`);
    console.info(`[restart-cost] ${transport}: seconds from the backend listening to ready and listed again with no call (test backoff 100 ms to 1 s): ${seconds(passive)}`);
    expect(costs.length + passive.length).toBe(RESTARTS);
    expect(state()?.state).toBe('ready');
  });
});
