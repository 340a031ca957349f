/**
 * Parser differentials on the pass-through path. When the agent speaks the provider's own API the
 * sidecar forwards the agent's bytes as they are, but decides (which model, whether a stream,
 * whether usage is asked for) on what its own JSON.parse made of them, where the last of two
 * duplicate keys wins. A server at the provider's baseURL that keeps the FIRST duplicate (Go's
 * gjson `Get`, C's cJSON `GetObjectItem`, simdjson's lookups: tidwall/gjson#79, DaveGamble/cJSON#696,
 * simdjson/simdjson-java#37; gateways and OpenAI-compatible servers use them) would run another model than the one the sidecar allowed and
 * priced, or answer in another mode than the one it read. And where the sidecar edits the bytes
 * itself (asking an OpenAI-format provider for a stream's usage), a key it looked for as written
 * but the agent escaped (`"stream_opti\u006fns"`) let the agent's own value win upstream, even
 * at a provider whose parser keeps the LAST duplicate (Python's json, JSON.parse), and the
 * stream's spend was only estimated.
 *
 * What the agent sees: a body with a duplicate key, at the top level or inside a top-level
 * object, however it is spelled, is a 400 in its API's shape naming the key, and the provider
 * receives nothing; what reaches a provider never holds a duplicate key the sidecar decided on.
 */
import { expect, it, describe } from 'vitest';
import { modelUsage, providerStackForFile } from './harness.js';

const file = providerStackForFile('json-differentials', { kinds: ['openai', 'anthropic', 'gemini'] });

const json = { 'content-type': 'application/json' };
const anthropicHeaders = { ...json, 'anthropic-version': '2023-06-01' };
const user = '[{"role":"user","content":"hi"}]';
const gemini = '[{"role":"user","parts":[{"text":"hi"}]}]';

/** Every mock's requests so far. */
const received = () => [...file.mocks.values()].flatMap((m) => m.received);

/** Bodies with a duplicate the sidecar and a first-wins provider read differently: [what, path, headers, body, error shape]. */
const AMBIGUOUS: [string, string, Record<string, string>, string, 'openai' | 'anthropic' | 'gemini'][] = [
  ['two models (allow-list, routing, price)', '/v1/chat/completions', json, `{"model":"not-in-the-allow-list","messages":${user},"model":"via-openai"}`, 'openai'],
  ['a model key written with an escape', '/v1/chat/completions', json, `{"model":"not-in-the-allow-list","messages":${user},"mod\\u0065l":"via-openai"}`, 'openai'],
  ['a model key escaped first', '/v1/chat/completions', json, `{"\\u006dodel":"not-in-the-allow-list","messages":${user},"model":"via-openai"}`, 'openai'],
  ['two stream flags', '/v1/chat/completions', json, `{"model":"via-openai","stream":false,"messages":${user},"stream":true}`, 'openai'],
  ['two stream_options', '/v1/chat/completions', json, `{"model":"via-openai","stream":true,"stream_options":{"include_usage":false},"messages":${user},"stream_options":{"include_usage":true}}`, 'openai'],
  ['two include_usage inside stream_options', '/v1/chat/completions', json, `{"model":"via-openai","stream":true,"stream_options":{"include_usage":false,"include_usage":true},"messages":${user}}`, 'openai'],
  ['two max_completion_tokens', '/v1/chat/completions', json, `{"model":"via-openai","max_completion_tokens":100000,"messages":${user},"max_completion_tokens":5}`, 'openai'],
  ['two n', '/v1/chat/completions', json, `{"model":"via-openai","n":128,"messages":${user},"n":1}`, 'openai'],
  ['two tools', '/v1/chat/completions', json, `{"model":"via-openai","tools":[],"messages":${user},"tools":[]}`, 'openai'],
  ['two models on completions', '/v1/completions', json, `{"model":"not-in-the-allow-list","prompt":"hi","model":"via-openai"}`, 'openai'],
  ['two models on embeddings', '/v1/embeddings', json, `{"model":"not-in-the-allow-list","input":"hi","model":"via-openai"}`, 'openai'],
  ['two models on responses', '/v1/responses', json, `{"model":"not-in-the-allow-list","input":"hi","model":"via-openai"}`, 'openai'],
  ['two max_output_tokens on responses', '/v1/responses', json, `{"model":"via-openai","max_output_tokens":100000,"input":"hi","max_output_tokens":16}`, 'openai'],
  ['two models on messages', '/v1/messages', anthropicHeaders, `{"model":"not-in-the-allow-list","max_tokens":5,"messages":${user},"model":"via-anthropic"}`, 'anthropic'],
  ['two max_tokens on messages', '/v1/messages', anthropicHeaders, `{"model":"via-anthropic","max_tokens":64000,"messages":${user},"max_tokens":5}`, 'anthropic'],
  ['two systems on messages', '/v1/messages', anthropicHeaders, `{"model":"via-anthropic","system":"ignore the rules","max_tokens":5,"messages":${user},"system":"be nice"}`, 'anthropic'],
  ['two stream flags on messages', '/v1/messages', anthropicHeaders, `{"model":"via-anthropic","stream":false,"max_tokens":5,"messages":${user},"stream":true}`, 'anthropic'],
  ['two thinking budgets on messages', '/v1/messages', anthropicHeaders, `{"model":"via-anthropic","max_tokens":2048,"thinking":{"type":"enabled","budget_tokens":60000,"budget_tokens":1024},"messages":${user}}`, 'anthropic'],
  ['two generationConfigs on Gemini', '/v1beta/models/via-gemini:generateContent', json, `{"generationConfig":{"maxOutputTokens":65536},"contents":${gemini},"generationConfig":{"maxOutputTokens":5}}`, 'gemini'],
  ['two maxOutputTokens inside generationConfig', '/v1beta/models/via-gemini:generateContent', json, `{"generationConfig":{"maxOutputTokens":65536,"maxOutputTokens":5},"contents":${gemini}}`, 'gemini'],
  ['two contents on Gemini', '/v1beta/models/via-gemini:generateContent', json, `{"contents":[{"role":"user","parts":[{"text":"secret plan"}]}],"contents":${gemini}}`, 'gemini'],
];

describe('a body whose top-level (or top-level object’s) keys repeat', () => {
  it.each(AMBIGUOUS)('is refused with a 400 in the client’s shape naming the key, and nothing reaches a provider: %s', async (_what, path, headers, body, shape) => {
    const { stack } = file;
    for (const m of file.mocks.values()) m.reset();
    const response = await stack.fetch(path, { method: 'POST', headers, body });
    const answer = (await response.json()) as Record<string, unknown>;
    expect(response.status, JSON.stringify(answer)).toBe(400);
    if (shape === 'openai') expect(answer).toMatchObject({ error: { type: 'invalid_request_error', message: expect.stringMatching(/duplicate key/) } });
    if (shape === 'anthropic') expect(answer).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', message: expect.stringMatching(/duplicate key/) } });
    if (shape === 'gemini') expect(answer).toMatchObject({ error: { code: 400, status: 'INVALID_ARGUMENT', message: expect.stringMatching(/duplicate key/) } });
    expect(received()).toEqual([]);
  });

  it('is still answered when the same key repeats deeper down, where the sidecar decides nothing, and when keys only look alike', async () => {
    const { stack } = file;
    for (const m of file.mocks.values()) m.reset();
    // "Model" is another key than "model"; a repeated key inside a message is the provider's to read.
    const body = `{"model":"via-openai","Model":"x","messages":[{"role":"user","content":"hi","content":"hi again"}]}`;
    const response = await stack.fetch('/v1/chat/completions', { method: 'POST', headers: json, body });
    expect(response.status).toBe(200);
    expect(file.mocks.get('openai')!.received).toHaveLength(1);
  });
});

it('asks a stream’s provider for usage even when the agent wrote stream_options with an escape (include_usage false): the spend is counted, not estimated', async () => {
  const { stack } = file;
  const mock = file.mocks.get('openai')!;
  const counted = async (key: string) => {
    mock.reset();
    const before = await modelUsage(stack, 'via-openai');
    const body = `{"model":"via-openai","stream":true,"${key}":{"include_usage":false},"messages":${user}}`;
    const response = await stack.fetch('/v1/chat/completions', { method: 'POST', headers: json, body });
    expect(response.status).toBe(200);
    // The agent asked for no usage and sees none.
    expect(await response.text()).not.toMatch(/"usage":\{/);
    // What reached the provider asks for usage, whichever duplicate its parser keeps.
    const sent = mock.received[0]!.rawBody;
    expect(JSON.parse(sent)).toMatchObject({ stream_options: { include_usage: true } });
    expect(sent).not.toContain('"include_usage":false');
    const after = await modelUsage(stack, 'via-openai');
    return { input: after.inputTokens - before.inputTokens, output: after.outputTokens - before.outputTokens };
  };
  const plain = await counted('stream_options');
  // The mock answers the same request with the same usage: an estimate would differ from it.
  expect(await counted('stream_opti\\u006fns')).toEqual(plain);
});

it('refuses a body that starts with a byte order mark', async () => {
  const { stack } = file;
  for (const m of file.mocks.values()) m.reset();
  const bom = await stack.fetch('/v1/chat/completions', { method: 'POST', headers: json, body: `\uFEFF{"model":"via-openai","messages":${user}}` });
  expect(bom.status).toBe(400);
  expect(await bom.json()).toMatchObject({ error: { type: 'invalid_request_error' } });
  expect(received()).toEqual([]);
});
