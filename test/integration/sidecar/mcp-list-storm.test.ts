/**
 * The agent's model call while an MCP backend storms list_changed (see
 * test/integration/mcp/list-storm.test.ts for the gateway's side): the whole sidecar in front of
 * the OpenAI mock, a stdio server announcing tools/list_changed without pause with 3,000 tools.
 * A chat completion through the socket during the storm is answered, and the storm's list is
 * re-read at most once per second.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { DEFAULT_BACKEND_TUNING } from '../../../sidecar/src/mcp/backoff.js';
import { fixtureServer, text, until } from '../mcp/harness.js';
import { mcpClient, providerStackForFile, waitForTools } from './harness.js';

// An upper bound: the test calms the storm once the completion is answered (on a loaded machine
// the completion may take longer than any fixed storm).
const STORM_MS = 50_000;
const server = fixtureServer('storm-server.ts');
const mcp = { backends: [{ name: 'storm', prefix: 'storm', transport: 'stdio' as const, stdio: { ...server, args: [...server.args, 'stdio', '3000', String(STORM_MS)] } }] };
const suite = providerStackForFile('storm', { kinds: ['openai'], extra: { mcp } });
let agent: Client;

beforeAll(async () => {
  await waitForTools(suite.stack, ['storm__stats']);
  agent = await mcpClient(suite.stack);
});

afterAll(async () => {
  await agent?.close();
});

it('answers a chat completion through the socket while a backend storms list_changed, and re-reads its list at most once per second', async () => {
  const stats = async () => JSON.parse(text(await agent.callTool({ name: 'storm__stats', arguments: {} }))) as { announced: number; rereads: number; storming: boolean };
  const started = performance.now();
  await agent.callTool({ name: 'storm__storm', arguments: {} });
  await until('the storm under way', async () => (await stats()).rereads > 0);

  const completion = await suite.stack.openai().chat.completions.create({ model: 'via-openai', messages: [{ role: 'user', content: 'Say hello.' }] });
  expect(completion.choices[0]?.message.content).toBeTruthy();
  expect((await stats()).storming).toBe(true);
  // At least five seconds of storm, so an unpaced gateway would have re-read it dozens of times.
  await sleep(Math.max(0, started + 5_000 - performance.now()));
  await agent.callTool({ name: 'storm__calm', arguments: {} });

  const done = await until('the storm over', async () => {
    const now = await stats();
    return !now.storming && now;
  });
  const elapsedMs = performance.now() - started;
  console.info(`sidecar list storm: ${done.announced} announcements, ${done.rereads} re-reads in ${Math.round(elapsedMs)} ms; the chat completion answered`);
  expect(done.rereads).toBeLessThanOrEqual(Math.ceil(elapsedMs / DEFAULT_BACKEND_TUNING.listRereadMinMs) + 1);
}, 60_000);
