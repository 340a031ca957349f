/**
 * `item_reference` as the agent can abuse it: each reference to an output item the sidecar holds
 * becomes that whole item (ADR 0012), so a body of small references could expand into an input
 * far past the body limit the sidecar enforces (32 MiB of references to one long answer: hundreds
 * of gigabytes), which the sidecar would build, serialise and store before anything refused it.
 * The expanded input is held to the same limit as the body (`listen.maxBodyBytes`).
 *
 * And the held responses belong to whichever client made them, while nothing on the socket says
 * who that is: the id is the only key. Ids were the process's call-id prefix plus a counter
 * (`resp_<prefix><n>`), so any client that made one call knew every other client's ids and could
 * read their conversations (`responses.retrieve`, `input_items.list`), continue or delete them, or
 * pull their answers into its own input (`item_reference`). Ids are now unguessable from one's own.
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

/** What an attacker who read the id scheme tries: the ids of the calls just before its own. */
function neighbours(own: string, prefix: string): string[] {
  const body = own.slice(prefix.length);
  const guesses: string[] = [];
  // The process prefix is 12 characters; try every split, the counter in base 36 after it.
  for (let split = 1; split < body.length; split++) {
    const counter = Number.parseInt(body.slice(split), 36);
    if (!Number.isSafeInteger(counter)) continue;
    for (let back = 1; back <= 3 && counter - back >= 0; back++) guesses.push(`${prefix}${body.slice(0, split)}${(counter - back).toString(36)}`);
  }
  return guesses;
}

it("gives one client no way to another client's held responses from the ids of its own", async () => {
  const victim = stack.openai();
  const theirs = await victim.responses.create({ model: 'm', input: 'victim secret 7c1e' });
  const attacker = stack.openai();
  const mine = await attacker.responses.create({ model: 'm', input: 'hello' });

  const responseGuesses = neighbours(mine.id, 'resp_');
  for (const id of responseGuesses) {
    await expect(attacker.responses.retrieve(id), id).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(attacker.responses.inputItems.list(id), id).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(attacker.responses.create({ model: 'm', input: 'go on', previous_response_id: id }), id).rejects.toBeInstanceOf(OpenAI.BadRequestError);
  }
  const before = mock.received.length;
  for (const id of neighbours(mine.output[0]!.id!, 'msg_')) {
    await attacker.responses.create({ model: 'm', input: [{ type: 'item_reference', id }, { role: 'user', content: 'go on' }] }).catch(() => undefined);
  }
  expect(JSON.stringify(mock.received.slice(before))).not.toContain('victim secret 7c1e');

  // The victim's own id still works for the victim.
  expect((await victim.responses.retrieve(theirs.id)).id).toBe(theirs.id);
  expect(responseGuesses.length).toBeGreaterThan(0);
});
