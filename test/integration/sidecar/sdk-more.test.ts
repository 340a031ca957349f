/**
 * The rest of the OpenAI surface through the socket against every provider type: embeddings,
 * legacy completions, parallel tool calls, image parts, JSON mode, and /v1/models.
 */
import { stat } from 'node:fs/promises';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { mockEmbedding } from '../../mocks/index.js';
import { EVERY_PROVIDER, providerStackForFile } from './harness.js';

const PROVIDERS = EVERY_PROVIDER;
const suite = providerStackForFile('more', { extra: { models: { aliases: { default: 'via-openai' } } }, keys: Object.fromEntries(PROVIDERS.filter((k) => k !== 'ollama').map((k) => [k, `key-${k}-0123456789abcdef`])) });

it('creates the socket with the configured mode', async () => {
  expect((await stat(suite.stack.socketPath)).mode & 0o777).toBe(0o600);
});

it('lists the sandbox models and aliases for both SDKs', async () => {
  const openaiIds = (await suite.stack.openai().models.list()).data.map((m) => m.id).sort();
  expect(openaiIds).toEqual(['default', 'via-anthropic', 'via-gemini', 'via-ollama', 'via-openai']);
  const anthropicIds = (await suite.stack.anthropic().models.list()).data.map((m) => m.id).sort();
  expect(anthropicIds).toEqual(openaiIds);
});

describe.each(PROVIDERS)('through a %s provider', (kind) => {
  const model = `via-${kind}`;

  it('makes parallel tool calls', async () => {
    const tool = (name: string) => ({ type: 'function' as const, function: { name, parameters: { type: 'object', properties: { input: { type: 'string' } } } } });
    const completion = await suite.stack.openai().chat.completions.create({ model, tools: [tool('search'), tool('fetch_page')], messages: [{ role: 'user', content: 'do both in parallel' }] });
    const calls = completion.choices[0]!.message.tool_calls ?? [];
    expect(calls.map((c) => c.type === 'function' && c.function.name)).toEqual(['search', 'fetch_page']);
    expect(new Set(calls.map((c) => c.id)).size).toBe(2);
  });

  it('streams parallel tool calls with their arguments whole', async () => {
    const tool = (name: string) => ({ type: 'function' as const, function: { name, parameters: { type: 'object', properties: { input: { type: 'string' } } } } });
    const stream = await suite.stack.openai().chat.completions.create({ model, stream: true, tools: [tool('a'), tool('b')], messages: [{ role: 'user', content: 'parallel please' }] });
    const args = new Map<number, { name: string; arguments: string }>();
    for await (const chunk of stream) {
      for (const call of chunk.choices[0]?.delta.tool_calls ?? []) {
        const entry = args.get(call.index) ?? { name: '', arguments: '' };
        entry.name += call.function?.name ?? '';
        entry.arguments += call.function?.arguments ?? '';
        args.set(call.index, entry);
      }
    }
    expect([...args.values()].map((a) => [a.name, JSON.parse(a.arguments)])).toEqual([
      ['a', { input: 'parallel please' }],
      ['b', { input: 'parallel please' }],
    ]);
  });

  it('takes an image part', async () => {
    const png = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
    const completion = await suite.stack.openai().chat.completions.create({
      model,
      messages: [{ role: 'user', content: [{ type: 'text', text: 'what is this' }, { type: 'image_url', image_url: { url: png } }] }],
    });
    expect(completion.choices[0]!.message.content).toBe('echo: what is this [image]');
  });

  it('passes JSON mode on', async () => {
    const completion = await suite.stack.openai().chat.completions.create({
      model,
      response_format: { type: 'json_schema', json_schema: { name: 'answer', schema: { type: 'object', properties: { a: { type: 'string' } } } } },
      messages: [{ role: 'user', content: 'json please' }],
    });
    expect(completion.choices[0]!.message.content).toContain('json please');
    const body = JSON.stringify(suite.mocks.get(kind)!.received.at(-1)!.body);
    const marker = { openai: '"json_schema"', anthropic: '"output_config"', gemini: 'responseJsonSchema', ollama: '"format"' }[kind as 'openai'];
    expect(body).toContain(marker);
  });

  it('parses a strict schema with bounds (a Pydantic Field(ge=, max_length=)), and calls a strict tool with them, whoever serves the model', async () => {
    // Bounds that OpenAI's strict mode takes and Claude's constrained decoding refuses.
    const review = { type: 'object', properties: { score: { type: 'integer', minimum: 1, maximum: 10 }, summary: { type: 'string', maxLength: 200 } }, required: ['score', 'summary'], additionalProperties: false };
    const completion = await suite.stack.openai().chat.completions.parse({
      model,
      response_format: { type: 'json_schema', json_schema: { name: 'review', strict: true, schema: review } },
      messages: [{ role: 'user', content: 'review this' }],
    });
    expect(completion.choices[0]!.message.parsed).toEqual({ score: expect.any(Number), summary: expect.any(String) });
    const called = await suite.stack.openai().chat.completions.create({
      model,
      tools: [{ type: 'function', function: { name: 'rate', strict: true, parameters: review } }],
      tool_choice: { type: 'function', function: { name: 'rate' } },
      messages: [{ role: 'user', content: 'rate this' }],
    });
    expect(called.choices[0]!.message.tool_calls?.[0]).toMatchObject({ function: { name: 'rate' } });
    if (kind === 'anthropic') {
      // Still a strict tool on Claude, its bounds told in the description.
      const tool = (suite.mocks.get(kind)!.received.at(-1)!.body as { tools: Record<string, unknown>[] }).tools[0];
      expect(tool).toMatchObject({ strict: true, input_schema: { properties: { score: { type: 'integer', description: '{minimum: 1, maximum: 10}' } } } });
    }
  });

  it('serves 22 strict tools (pydantic-ai marks every tool strict), whoever serves the model', async () => {
    const tools = Array.from({ length: 22 }, (_, i) => ({ type: 'function' as const, function: { name: `tool_${i}`, strict: true, parameters: { type: 'object', properties: { input: { type: 'string' } }, required: ['input'], additionalProperties: false } } }));
    const completion = await suite.stack.openai().chat.completions.create({ model, tools, messages: [{ role: 'user', content: 'use one' }] });
    expect(completion.choices[0]!.message.tool_calls?.[0]).toMatchObject({ function: { name: 'tool_0' } });
  });

  it('serves 12 strict tools of an ordinary size (the Agents SDK marks every tool strict), plain and streamed, and a large strict output schema, whoever serves the model', async () => {
    // Within every published bound (20 strict tools, 24 optional, 16 unions), yet past the grammar
    // size Anthropic refuses without saying where it lies ("The compiled grammar is too large").
    const field = (what: string) => ({ type: 'string', description: `The ${what} of the record, as the user wrote it, without any normalisation.` });
    const parameters = { type: 'object', properties: Object.fromEntries(['name', 'owner', 'region', 'status', 'notes', 'source'].map((f) => [f, field(f)])), required: ['name', 'owner', 'region', 'status', 'notes', 'source'], additionalProperties: false };
    const tools = Array.from({ length: 12 }, (_, i) => ({ type: 'function' as const, function: { name: `tool_${i}`, description: `Tool number ${i}.`, strict: true, parameters } }));
    const mock = suite.mocks.get(kind)!;
    const before = mock.received.length;
    const completion = await suite.stack.openai().chat.completions.create({ model, tools, messages: [{ role: 'user', content: 'use one' }] });
    expect(completion.choices[0]!.message.tool_calls?.[0]).toMatchObject({ function: { name: 'tool_0' } });
    const stream = await suite.stack.openai().chat.completions.create({ model, tools, stream: true, messages: [{ role: 'user', content: 'use one' }] });
    let name = '';
    for await (const chunk of stream) name += chunk.choices[0]?.delta.tool_calls?.[0]?.function?.name ?? '';
    expect(name).toBe('tool_0');
    const record = { type: 'object', properties: Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`field_${i}`, field(`field ${i}`)])), required: Array.from({ length: 60 }, (_, i) => `field_${i}`), additionalProperties: false };
    const structured = await suite.stack.openai().chat.completions.create({ model, response_format: { type: 'json_schema', json_schema: { name: 'record', strict: true, schema: record } }, messages: [{ role: 'user', content: 'json please' }] });
    expect(structured.choices[0]!.message.content).toContain('json please');
    if (kind === 'anthropic') {
      // Asked strictly first, refused for the grammar, then asked again without: three calls, six requests.
      const sent = mock.received.slice(before).map((r) => r.body as { tools?: { strict?: boolean }[]; output_config?: unknown; system?: unknown });
      expect(sent.map((b) => (b.tools ? b.tools.some((t) => t.strict === true) : b.output_config !== undefined))).toEqual([true, false, true, false, true, false]);
      expect(JSON.stringify(sent[5]!.system)).toContain('field_59');
    }
  });

  it('takes tool_choice allowed_tools (pydantic-ai sends it): the model calls only the allowed tools', async () => {
    const tool = (name: string) => ({ type: 'function' as const, function: { name, parameters: { type: 'object', properties: { input: { type: 'string' } } } } });
    const completion = await suite.stack.openai().chat.completions.create({
      model,
      tools: [tool('search'), tool('fetch_page'), tool('final_result')],
      tool_choice: { type: 'allowed_tools', allowed_tools: { mode: 'required', tools: [{ type: 'function', function: { name: 'final_result' } }] } },
      messages: [{ role: 'user', content: 'answer now' }],
    });
    expect(completion.choices[0]!.message.tool_calls?.map((c) => (c as { function: { name: string } }).function.name)).toEqual(['final_result']);
  });

  it(kind === 'openai' ? 'passes a custom tool to OpenAI' : 'refuses a custom tool (only OpenAI runs them) with a 400 naming it', async () => {
    const mock = suite.mocks.get(kind)!;
    const received = mock.received.length;
    const result = await suite.stack
      .openai()
      .chat.completions.create({ model, tools: [{ type: 'custom', custom: { name: 'shell' } }], messages: [{ role: 'user', content: 'run it' }] })
      .catch((e: unknown) => e);
    if (kind === 'openai') {
      expect(result).toMatchObject({ object: 'chat.completion' });
      expect(mock.received.at(-1)!.body).toMatchObject({ tools: [{ type: 'custom', custom: { name: 'shell' } }] });
      return;
    }
    expect(result).toBeInstanceOf(OpenAI.BadRequestError);
    expect(result).toMatchObject({ param: 'tools[0]', message: expect.stringContaining('custom tools can only be served by an OpenAI provider') });
    expect(mock.received.length).toBe(received);
  });

  it('serves legacy completions', async () => {
    const completion = await suite.stack.openai().completions.create({ model, prompt: 'complete this', max_tokens: 50 });
    expect(completion.object).toBe('text_completion');
    expect(completion.choices[0]!.text).toContain('complete this');
  });

  it('streams legacy completions', async () => {
    const stream = await suite.stack.openai().completions.create({ model, prompt: 'stream this prompt', stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.text ?? '';
    expect(text).toContain('stream this prompt');
  });

  it(kind === 'anthropic' ? 'refuses embeddings (Anthropic has none) with a clear 400' : 'creates embeddings, as floats and as the SDK default base64', async () => {
    const client = suite.stack.openai();
    if (kind === 'anthropic') {
      const error = await client.embeddings.create({ model, input: 'x' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OpenAI.BadRequestError);
      expect((error as Error).message).toContain('supports embeddings');
      return;
    }
    const floats = await client.embeddings.create({ model, input: ['alpha', 'beta'], encoding_format: 'float' });
    expect(floats.data.map((d) => d.embedding)).toEqual([mockEmbedding('alpha'), mockEmbedding('beta')].map((v) => v.map((x) => expect.closeTo(x, 5))));
    const defaults = await client.embeddings.create({ model, input: 'alpha' });
    expect(defaults.data[0]!.embedding.map((x) => Math.round(x * 1e4))).toEqual(mockEmbedding('alpha').map((x) => Math.round(x * 1e4)));
  });
});
