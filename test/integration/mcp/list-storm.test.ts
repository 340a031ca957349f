/**
 * A hostile MCP backend's list_changed storm: it announces `notifications/tools/list_changed`
 * without pause and answers each re-read with a few thousand tools. Re-reads coalesced only while
 * one was in flight, so the gateway re-read, hashed, re-indexed and notified back to back for as
 * long as the backend kept going, on the sidecar's only thread (the agent's model calls' thread).
 * One list of one backend is now re-read at most once per second; the last change is still read.
 * Over HTTP the backend runs in this process; over stdio it is a child process, so the CPU time
 * this process spends during the storm is the gateway's (and its one client's).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { setImmediate as yieldToLoop, setTimeout as sleep } from 'node:timers/promises';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { Metrics } from '../../../sidecar/src/telemetry/metrics.js';
import { DEFAULT_BACKEND_TUNING } from '../../../sidecar/src/mcp/backoff.js';
import { serveMcp, type ServedMcp } from '../../mocks/mcp-sessions.js';
import { fixtureServer, serveGateway, text, until, type ServedGateway, type TestClient } from './harness.js';

const TOOLS = 3_000;
const STORM_MS = 5_000;

/** What the hostile backend did: its list's version, how many announcements and re-reads. */
const storm = { version: 0, announced: 0, rereads: 0, storming: false };
/** The backend's sessions; the first is the gateway's own client, the one its list_changed goes to. */
const hostileSessions: Server[] = [];
let hostile: ServedMcp;
let quiet: ServedMcp;
const served: ServedGateway[] = [];

beforeAll(async () => {
  hostile = await serveMcp(() => {
    const server = new Server({ name: 'storm', version: '1.0.0' }, { capabilities: { tools: { listChanged: true } } });
    hostileSessions.push(server);
    server.setRequestHandler(ListToolsRequestSchema, () => {
      if (storm.storming) storm.rereads++;
      return {
        tools: Array.from({ length: TOOLS }, (_, i) => ({
          name: `tool_${i}`,
          description: `Tool ${i} of list version ${storm.version}, padded so the list is large: ${'lorem ipsum '.repeat(8)}`,
          inputSchema: { type: 'object' as const, properties: { q: { type: 'string' } } },
        })),
      };
    });
    return server;
  });
  quiet = await serveMcp(() => {
    const server = new McpServer({ name: 'quiet', version: '1.0.0' });
    server.registerTool('echo', { description: 'Echoes a word.' }, async () => ({ content: [{ type: 'text', text: 'still here' }] }));
    return server;
  });
});

afterAll(async () => {
  storm.storming = false;
  await Promise.all(served.map((s) => s.close()));
  await hostile?.close();
  await quiet?.close();
});

it('re-reads a storming HTTP backend at most once per second per list, notifies at most once per re-read, keeps serving calls and still reads the last change', async () => {
  const metrics = new Metrics();
  const gateway = await serveGateway(
    {
      backends: [
        { name: 'storm', prefix: 'storm', transport: 'streamable-http', url: hostile.url },
        { name: 'quiet', prefix: 'quiet', transport: 'streamable-http', url: quiet.url },
      ],
    },
    { metrics },
  );
  served.push(gateway);
  const agent = await settle(gateway);
  const notifiedBefore = agent.toolListChanges();

  // The storm: one announcement per turn of the backend's event loop, each a new list version.
  const announce = (async () => {
    const backendSession = await until('the gateway session of the hostile backend', () => hostileSessions[0]);
    storm.storming = true;
    const started = performance.now();
    while (performance.now() - started < STORM_MS) {
      storm.version++;
      storm.announced++;
      await backendSession.sendToolListChanged();
      await yieldToLoop();
    }
    storm.storming = false;
    return performance.now() - started;
  })();

  // A call through the gateway during the storm is answered.
  await until('the storm under way', () => storm.rereads > 0);
  expect(text(await agent.client.callTool({ name: 'quiet__echo', arguments: {} }))).toBe('still here');
  const elapsedMs = await announce;
  console.info(`HTTP list storm: ${storm.announced} announcements in ${Math.round(elapsedMs)} ms; ${storm.rereads} re-reads of ${TOOLS} tools`);
  await expectBounded(gateway, agent, metrics, { ...storm, elapsedMs }, notifiedBefore);
}, 60_000);

it('re-reads a storming stdio backend at most once per second per list, with the same guarantees', async () => {
  const metrics = new Metrics();
  const server = fixtureServer('storm-server.ts');
  const gateway = await serveGateway(
    {
      backends: [
        { name: 'storm', prefix: 'storm', transport: 'stdio', stdio: { ...server, args: [...server.args, String(TOOLS), String(STORM_MS)] } },
        { name: 'quiet', prefix: 'quiet', transport: 'streamable-http', url: quiet.url },
      ],
    },
    { metrics },
  );
  served.push(gateway);
  const agent = await settle(gateway);
  const notifiedBefore = agent.toolListChanges();
  const stats = async () => JSON.parse(text(await agent.client.callTool({ name: 'storm__stats', arguments: {} }))) as typeof storm;

  const cpu = process.cpuUsage();
  const started = performance.now();
  await agent.client.callTool({ name: 'storm__storm', arguments: {} });
  await until('the storm under way', async () => (await stats()).rereads > 0);
  expect(text(await agent.client.callTool({ name: 'quiet__echo', arguments: {} }))).toBe('still here');
  const done = await until('the storm over', async () => {
    const now = await stats();
    return !now.storming && now;
  });
  const elapsedMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  console.info(
    `stdio list storm: ${done.announced} announcements in ${Math.round(elapsedMs)} ms; ${done.rereads} re-reads of ${TOOLS} tools; ` +
      `${((used.user + used.system) / 1e6).toFixed(2)} CPU s of the gateway's process`,
  );
  await expectBounded(gateway, agent, metrics, { ...done, elapsedMs }, notifiedBefore);
}, 60_000);

/** Both backends ready, a client connected, and the re-reads of the event stream's opening over. */
async function settle(gateway: ServedGateway): Promise<TestClient> {
  await until('both backends ready', () => gateway.gateway.view().backends.every((b) => b.state === 'ready'));
  const agent = await gateway.connect();
  // The gateway's event stream to the backend opens after ready (it re-reads every list then).
  await sleep(1_500);
  return agent;
}

/** What a user would notice of a storm: re-reads bounded by the interval, the last version listed, clients told at most once per re-read, a warning and a metric. */
async function expectBounded(
  gateway: ServedGateway,
  agent: TestClient,
  metrics: Metrics,
  result: { version: number; rereads: number; elapsedMs: number },
  notifiedBefore: number,
): Promise<void> {
  const interval = DEFAULT_BACKEND_TUNING.listRereadMinMs;
  // At most one re-read per interval, plus the one under way when the storm began.
  expect(result.rereads).toBeLessThanOrEqual(Math.ceil(result.elapsedMs / interval) + 1);
  // The last version is read (trailing edge).
  await until('the last list version listed to the client', async () => {
    const { tools } = await agent.client.listTools();
    return tools.find((t) => t.name === 'storm__tool_0')?.description?.includes(`list version ${result.version},`) ?? false;
  });
  // Clients were told at most once per re-read (the re-read after the storm included).
  await sleep(interval + 200);
  const notified = agent.toolListChanges() - notifiedBefore;
  expect(notified).toBeGreaterThan(0);
  expect(notified).toBeLessThanOrEqual(result.rereads + 1);
  // Said once in the log, counted in the metrics.
  expect(gateway.logs().match(/keeps announcing list changes/g)).toHaveLength(1);
  const held = /airlock_mcp_list_rereads_held_total\{backend="storm",list="tools"\} (\d+)/.exec(await metrics.registry.metrics());
  expect(Number(held?.[1])).toBeGreaterThan(0);
}
