/**
 * The agent holding the sidecar's only thread with a small body: a JSON schema whose `$defs` name
 * each other twice a level (2^64 paths in 4 KB), sent as structured output to a Claude model,
 * where the sidecar checks whether Claude can take the schema as `output_config.format` (ADR 0020).
 * That walk followed every path: the call never ended and nothing else (other calls, /healthz)
 * was answered. Now it gives up and the schema goes as the instruction, as for any schema Claude
 * cannot take.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startMock, type MockProvider } from '../../mocks/index.js';
import { keyFile, stackDir, startStack, type Stack } from './harness.js';

const MODEL = 'claude-sonnet-4-6';
let mock: MockProvider;
let stack: Stack;

beforeAll(async () => {
  mock = await startMock('anthropic', { models: [MODEL], keys: ['sk-ant-bomb'] });
  const dir = await stackDir();
  stack = await startStack(dir, {
    version: 1,
    sandbox: { name: 'bomb' },
    providers: [{ name: 'a', type: 'anthropic', baseURL: mock.url, apiKeys: [{ file: await keyFile(dir, 'key', 'sk-ant-bomb') }], models: [{ name: MODEL }] }],
    mcp: { backends: [] },
  });
});

afterAll(async () => {
  await stack?.close();
  await mock?.close();
});

it('answers a structured-output call whose schema has 2^64 paths, with the schema as the instruction', async () => {
  const defs: Record<string, unknown> = { L64: { type: 'string' } };
  for (let i = 0; i < 64; i++) defs[`L${i}`] = { anyOf: [{ $ref: `#/$defs/L${i + 1}` }, { $ref: `#/$defs/L${i + 1}` }] };
  const schema = { type: 'object', properties: { a: { $ref: '#/$defs/L0' } }, required: ['a'], additionalProperties: false, $defs: defs };
  const answer = await stack.openai().chat.completions.create({
    model: MODEL,
    messages: [{ role: 'user', content: 'fill it in' }],
    response_format: { type: 'json_schema', json_schema: { name: 'bomb', schema } },
  });
  expect(answer.choices[0]!.message.role).toBe('assistant');
  const sent = mock.received.at(-1)!.body as Record<string, unknown>;
  expect(sent).not.toHaveProperty('output_config');
  expect(JSON.stringify(sent.system)).toContain('It must conform to this JSON Schema (bomb)');
  expect((await fetch(`http://127.0.0.1:${stack.sidecar.adminPort}/healthz`)).status).toBe(200);
});
