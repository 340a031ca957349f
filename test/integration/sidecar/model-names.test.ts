/**
 * Model names with a slash (vLLM and other OpenAI-compatible servers serve
 * `meta-llama/Llama-3.1-8B`) pass `models.allow` globs by the product's one glob rule: `*`
 * crosses `/`, as in tool filters.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startMock, type MockProvider } from '../../mocks/index.js';
import { stackDir, startStack, type Stack } from './harness.js';

const LLAMA = 'meta-llama/Llama-3.1-8B';
let stack: Stack;
let mock: MockProvider;

beforeAll(async () => {
  mock = await startMock('openai-compatible');
  stack = await startStack(await stackDir(), {
    version: 1,
    sandbox: { name: 'names' },
    models: { allow: ['*'] },
    providers: [{ name: 'vllm', type: 'openai-compatible', baseURL: mock.url, models: [{ name: LLAMA }] }],
  });
});

afterAll(async () => {
  await stack?.close();
  await mock?.close();
});

it('allow ["*"] accepts a model name with a slash, and lists it', async () => {
  const completion = await stack.openai().chat.completions.create({ model: LLAMA, messages: [{ role: 'user', content: 'hello' }] });
  expect(completion.choices[0]!.message.content).toBe('echo: hello');
  const models = await stack.openai().models.list();
  expect(models.data.map((m) => m.id)).toContain(LLAMA);
});

it('a model outside allow is still refused', async () => {
  await stack.writeConfig({
    version: 1,
    sandbox: { name: 'names' },
    models: { allow: ['mistralai/*'] },
    providers: [{ name: 'vllm', type: 'openai-compatible', baseURL: mock.url, models: [{ name: LLAMA }] }],
  });
  await stack.sidecar.live.check();
  const error = await stack.openai().chat.completions.create({ model: LLAMA, messages: [{ role: 'user', content: 'hello' }] }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(OpenAI.NotFoundError);
});
