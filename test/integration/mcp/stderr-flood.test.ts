/**
 * A stdio backend that floods its stderr (red team 21, item 4): each line was logged whole, as
 * fast as the pipe delivered, ~130 MiB of log a second; the log's backlog grew the sidecar until its
 * memory limit killed it, 4 s in. Now a backend's stderr is logged within a bound per second, each
 * line cut, and one line per second says how many were held back; the backend serves meanwhile.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { fixtureServer, serveGateway, text, until, type ServedGateway } from './harness.js';

/** Lines the fixture writes. */
const FLOOD_LINES = 3000;
let served: ServedGateway;

beforeAll(async () => {
  const server = fixtureServer('stderr-flood-server.ts');
  served = await serveGateway({ backends: [{ name: 'flood', prefix: 'flood', transport: 'stdio', stdio: server }] });
});

afterAll(async () => {
  await served?.close();
});

interface Line {
  msg: string;
  stream?: string;
  time: number;
  suppressedLines?: number;
}

const logLines = () =>
  served
    .logs()
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as Line);

it('logs a flooding backend’s stderr within its bound, each line cut, and says how many lines it held back', async () => {
  // Every line is either logged or counted in a "suppressed" line (one a second, after the flood).
  const lines = await until(
    'every stderr line logged or counted',
    () => {
      const all = logLines();
      const logged = all.filter((line) => line.stream === 'stderr').length;
      const suppressed = all.reduce((sum, line) => sum + (line.suppressedLines ?? 0), 0);
      return logged + suppressed === FLOOD_LINES ? all : undefined;
    },
    15_000,
  );
  const stderr = lines.filter((line) => line.stream === 'stderr');
  expect(stderr[0]!.msg).toMatch(/^flood 0 e+… \(\d+ more characters\)$/);
  for (const line of stderr) expect(line.msg.length).toBeLessThanOrEqual(2_000 + 30);
  // At most 100 lines or 64 Ki characters a second: 32 of these cut lines a second.
  const first = stderr[0]!.time;
  expect(stderr.filter((line) => line.time < first + 1_000).length).toBeLessThanOrEqual(33);
  expect(stderr.length).toBeLessThan(FLOOD_LINES / 10);
  expect(lines.some((line) => /^MCP backend stderr: suppressed \d+ log lines \(more than 100 lines or 65536 characters per 1 s\)$/.test(line.msg))).toBe(true);
}, 30_000);

it('serves the flooding backend’s tools meanwhile', async () => {
  const agent = await served.connect();
  await until('the flood backend’s tool to be listed', async () => ((await agent.client.listTools()).tools.some((t) => t.name === 'flood__ping') ? true : undefined));
  expect(text(await agent.client.callTool({ name: 'flood__ping', arguments: {} }))).toBe('pong');
  await agent.close();
});
