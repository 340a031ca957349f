/**
 * Answers larger than the sidecar holds, through the official OpenAI SDK: embeddings of 2,048
 * inputs in 2,560 float dimensions (the API's largest batch; ~94 MB of JSON, past the 64 MiB the
 * sidecar reads into memory). Passed through, such an answer is relayed as it comes and accounted
 * from its tail; translated, it is refused once, clearly, without another attempt and without
 * counting against the provider.
 */
import OpenAI from 'openai';
import { expect, it } from 'vitest';
import { mockEmbedding } from '../../mocks/index.js';
import { modelUsage, providerStackForFile } from './harness.js';

const suite = providerStackForFile('large', { kinds: ['openai', 'gemini'] });
const INPUTS = Array.from({ length: 2048 }, (_, i) => `chunk ${i} of a long document`);
const DIMENSIONS = 2560;

it('relays a pass-through embeddings answer larger than 64 MiB whole, with its usage accounted', { timeout: 120_000 }, async () => {
  const before = await modelUsage(suite.stack, 'via-openai');
  // The sidecar runs in this process: a listener left per write that waited for the client (a
  // ~94 MB answer waits hundreds of times) shows as Node's warning.
  const warnings: string[] = [];
  const warned = (warning: Error) => warnings.push(warning.name);
  process.on('warning', warned);
  const response = await suite.stack.openai().embeddings.create({ model: 'via-openai', input: INPUTS, dimensions: DIMENSIONS, encoding_format: 'float' });
  expect(response.data).toHaveLength(INPUTS.length);
  for (const i of [0, 1023, 2047]) expect(response.data[i]!.embedding).toEqual(mockEmbedding(INPUTS[i]!, DIMENSIONS));
  expect(response.usage.prompt_tokens).toBeGreaterThan(0);
  const after = await modelUsage(suite.stack, 'via-openai');
  expect(after.requests - before.requests).toBe(1);
  expect(after.inputTokens - before.inputTokens).toBe(response.usage.prompt_tokens);
  expect(suite.mocks.get('openai')!.received.filter((r) => r.path === '/v1/embeddings')).toHaveLength(1);
  process.off('warning', warned);
  expect(warnings).toEqual([]);
});

it('refuses a translated answer larger than 64 MiB once, saying what to do, and the provider stays in service', { timeout: 120_000 }, async () => {
  const gemini = suite.mocks.get('gemini')!;
  const sent = () => gemini.received.filter((r) => r.path.endsWith(':batchEmbedContents')).length;
  const client = suite.stack.openai();
  const error = await client.embeddings.create({ model: 'via-gemini', input: INPUTS, dimensions: DIMENSIONS, encoding_format: 'float' }, { maxRetries: 0 }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(OpenAI.APIError);
  expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(502);
  expect((error as Error).message).toMatch(/provider gemini sent a response larger than 67108864 bytes, .*ask for less in one call/);
  // One request upstream: the same answer again would be as large (and billed again).
  expect(sent()).toBe(1);
  const small = await client.embeddings.create({ model: 'via-gemini', input: ['alpha'], encoding_format: 'float' });
  expect(small.data[0]!.embedding).toEqual(mockEmbedding('alpha'));
});
