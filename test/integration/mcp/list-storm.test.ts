/**
 * A hostile MCP backend's list_changed storm: it announces `notifications/tools/list_changed`
 * without pause and answers each re-read with a few thousand tools. Re-reads coalesced only while
 * one was in flight, so the gateway re-read, hashed, re-indexed and notified back to back for as
 * long as the backend kept going, on the sidecar's only thread (the agent's model calls' thread).
 * One list of one backend is now re-read at most once per second; the last change is still read.
 * The backend is a child process (./fixtures/storm-server.ts), over HTTP and over stdio, so the
 * CPU time this process spends during the storm is the gateway's (and its one client's).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { Metrics } from '../../../sidecar/src/telemetry/metrics.js';
import { DEFAULT_BACKEND_TUNING } from '../../../sidecar/src/mcp/backoff.js';
import { serveMcp, type ServedMcp } from '../../mocks/mcp-sessions.js';
import { fixtureServer, serveGateway, text, until, type McpInput, type ServedGateway } from './harness.js';

const TOOLS = 3_000;
const STORM_MS = 5_000;
/**
 * The storm goes on until this many re-reads came, however long a loaded machine makes each: the
 * warning needs three held in a row, and a storm timed alone saw only two on a loaded CI machine.
 */
const STORM_REREADS = 6;
const stormServer = (mode: 'stdio' | 'http') => {
  const server = fixtureServer('storm-server.ts');
  return { ...server, args: [...server.args, mode, String(TOOLS), String(STORM_MS), String(STORM_REREADS)] };
};

let quiet: ServedMcp;
let httpStorm: ChildProcess | undefined;
const served: ServedGateway[] = [];

beforeAll(async () => {
  quiet = await serveMcp(() => {
    const server = new McpServer({ name: 'quiet', version: '1.0.0' });
    server.registerTool('echo', { description: 'Echoes a word.' }, async () => ({ content: [{ type: 'text', text: 'still here' }] }));
    return server;
  });
});

afterAll(async () => {
  await Promise.all(served.map((s) => s.close()));
  httpStorm?.kill();
  await quiet?.close();
});

/** The HTTP storm server as a child process, and its URL. */
async function startHttpStorm(): Promise<string> {
  const { command, args } = stormServer('http');
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  httpStorm = child;
  const [url] = (await once(createInterface({ input: child.stdout }), 'line')) as [string];
  return url;
}

it.each(['http', 'stdio'] as const)(
  're-reads a storming %s backend at most once per second per list, notifies at most once per re-read, keeps serving calls and still reads the last change',
  async (mode) => {
    const storm: NonNullable<McpInput['backends']>[number] =
      mode === 'http'
        ? { name: 'storm', prefix: 'storm', transport: 'streamable-http', url: await startHttpStorm() }
        : { name: 'storm', prefix: 'storm', transport: 'stdio', stdio: stormServer('stdio') };
    const metrics = new Metrics();
    // Health pings at the product's interval: the harness's 1 s ping, timed out after 1 s, fails the
    // quiet backend (served from this process, whose thread the storm keeps busy) on a loaded machine.
    const tuning = { healthIntervalMs: DEFAULT_BACKEND_TUNING.healthIntervalMs };
    const gateway = await serveGateway({ backends: [storm, { name: 'quiet', prefix: 'quiet', transport: 'streamable-http', url: quiet.url }] }, { metrics, tuning });
    served.push(gateway);
    await until('both backends ready', () => gateway.gateway.view().backends.every((b) => b.state === 'ready'));
    const agent = await gateway.connect();
    // The gateway's event stream to the backend opens after ready (it re-reads every list then).
    await sleep(1_500);
    const notifiedBefore = agent.toolListChanges();
    const stats = async () => JSON.parse(text(await agent.client.callTool({ name: 'storm__stats', arguments: {} }))) as { version: number; announced: number; rereads: number; storming: boolean };

    const cpu = process.cpuUsage();
    const started = performance.now();
    await agent.client.callTool({ name: 'storm__storm', arguments: {} });
    await until('the storm under way', async () => (await stats()).rereads > 0);
    // A call through the gateway during the storm is answered.
    expect(text(await agent.client.callTool({ name: 'quiet__echo', arguments: {} }))).toBe('still here');
    const done = await until('the storm over', async () => {
      const now = await stats();
      return !now.storming && now;
    });
    const elapsedMs = performance.now() - started;
    const used = process.cpuUsage(cpu);
    console.info(
      `${mode} list storm: ${done.announced} announcements in ${Math.round(elapsedMs)} ms; ${done.rereads} re-reads of ${TOOLS} tools; ` +
        `${((used.user + used.system) / 1e6).toFixed(2)} CPU s of the gateway's process`,
    );

    const interval = DEFAULT_BACKEND_TUNING.listRereadMinMs;
    // At most one re-read per interval, plus the one under way when the storm began.
    expect(done.rereads).toBeLessThanOrEqual(Math.ceil(elapsedMs / interval) + 1);
    // The last version is read (trailing edge).
    await until('the last list version listed to the client', async () => {
      const { tools } = await agent.client.listTools();
      return tools.find((t) => t.name === 'storm__tool_0')?.description?.includes(`list version ${done.version},`) ?? false;
    });
    // Clients were told at most once per re-read (the re-read after the storm included).
    await sleep(interval + 200);
    const notified = agent.toolListChanges() - notifiedBefore;
    expect(notified).toBeGreaterThan(0);
    expect(notified).toBeLessThanOrEqual(done.rereads + 1);
    // Said once in the log, counted in the metrics.
    expect(gateway.logs().match(/keeps announcing list changes/g)).toHaveLength(1);
    const held = /airlock_mcp_list_rereads_held_total\{backend="storm",list="tools"\} (\d+)/.exec(await metrics.registry.metrics());
    expect(Number(held?.[1])).toBeGreaterThan(0);
  },
  60_000,
);
