/**
 * Refused requests on the loopback port, repeated at will with large headers (red team 22, item 4):
 * each was logged with its Host and Origin whole, ~14 KiB a line, 392 MiB of log in 5 s, and the
 * log's backlog grew the sidecar 108 → 593 MiB. Now at most 10 refusals are logged per 10 s, each
 * header value cut to 200 characters; the rest is counted in `airlock_log_lines_dropped_total`.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freePort, stackDir, startStack, type Stack } from './harness.js';
import { request, responsesOf } from './raw-http.js';

const REQUESTS = 100;
let stack: Stack;
let port: number;

beforeAll(async () => {
  port = await freePort();
  stack = await startStack(await stackDir(), { version: 1, sandbox: { name: 'refusal-flood' }, listen: { loopbackPort: port }, providers: [] });
});

afterAll(async () => stack?.close());

it('logs at most 10 refusals per 10 s, their header values cut, and counts the rest', async () => {
  const host = `evil-${'h'.repeat(7_000)}.example`;
  const origin = `http://${'o'.repeat(7_000)}.example`;
  const refusal = request(['GET /v1/models HTTP/1.1', `Host: ${host}`, `Origin: ${origin}`]);
  // Ten keep-alive connections, ten refusals each, as fast as they are answered.
  await Promise.all(
    Array.from({ length: 10 }, async () => {
      const { responses } = await responsesOf({ port }, REQUESTS / 10, refusal.repeat(REQUESTS / 10));
      expect(responses.map((r) => r.status)).toEqual(Array(REQUESTS / 10).fill(403));
    }),
  );
  const logged = stack.logs.map((line) => JSON.parse(line) as { msg: string; host?: string; origin?: string }).filter((line) => line.msg.startsWith('refused a request with a foreign Host'));
  expect(logged).toHaveLength(10);
  for (const line of logged) {
    expect(line.host).toBe(`evil-${'h'.repeat(195)}… (6813 more characters)`);
    expect(line.origin).toBe(`http://${'o'.repeat(193)}… (6815 more characters)`);
  }
  const metrics = await (await fetch(`http://127.0.0.1:${stack.sidecar.adminPort}/metrics`)).text();
  expect(metrics).toContain(`airlock_log_lines_dropped_total{reason="rate"} ${REQUESTS - 10}`);
  expect(metrics).toContain('airlock_log_lines_dropped_total{reason="backlog"} 0');
});
