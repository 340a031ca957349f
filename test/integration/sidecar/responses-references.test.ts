/**
 * `item_reference` as the agent can abuse it: each reference to an output item the sidecar holds
 * becomes that whole item (ADR 0012), so a body of small references could expand into an input
 * far past the body limit the sidecar enforces (32 MiB of references to one long answer: hundreds
 * of gigabytes), which the sidecar would build, serialise and store before anything refused it.
 * The expanded input is held to the same limit as the body (`listen.maxBodyBytes`).
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startMock, type MockProvider } from '../../mocks/index.js';
import { stackDir, startStack, type Stack } from './harness.js';

const LIMIT = 64 * 1024;
let mock: MockProvider;
let stack: Stack;

beforeAll(async () => {
  mock = await startMock('ollama', { models: ['m'] });
  stack = await startStack(await stackDir(), {
    version: 1,
    sandbox: { name: 'refs' },
    listen: { maxBodyBytes: LIMIT },
    providers: [{ name: 'o', type: 'ollama', baseURL: mock.url, models: [{ name: 'm' }] }],
    mcp: { backends: [] },
  });
});

afterAll(async () => {
  await stack?.close();
  await mock?.close();
});

it('refuses references that expand the input past the body limit with a 400 in OpenAI shape, and still resolves a few', async () => {
  const client = stack.openai({ maxRetries: 0 });
  // An answer of 20 KB (the mock echoes its input): well under the limit on its own.
  const first = await client.responses.create({ model: 'm', input: 'x'.repeat(20_000) });
  const held = first.output[0]!.id!;
  expect(held).toMatch(/^msg_/);

  const reference = { type: 'item_reference' as const, id: held };
  const twice = await client.responses.create({ model: 'm', input: [reference, reference, { role: 'user', content: 'go on' }] });
  expect(twice.status).toBe('completed');

  const before = mock.received.length;
  // 200 references in a 10 KB body: 4 MB of input once resolved.
  const error = await client.responses.create({ model: 'm', input: [...Array<typeof reference>(200).fill(reference), { role: 'user', content: 'go on' }] }).catch((err: unknown) => err);
  expect(error).toBeInstanceOf(OpenAI.BadRequestError);
  const bad = error as InstanceType<typeof OpenAI.BadRequestError>;
  expect(bad.status).toBe(400);
  expect(bad.error).toMatchObject({ type: 'invalid_request_error', param: 'input' });
  expect(bad.message).toContain(`more than ${LIMIT}`);
  expect(bad.message).toContain('item_reference');
  expect(mock.received.length, 'the expanded input reached the provider').toBe(before);
});
