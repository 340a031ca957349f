/**
 * The Anthropic SDK's other calls through the socket, against every provider type: token
 * counting, model listing and retrieval, `msg_` ids and the input count in `message_start` on
 * translated providers, and Anthropic-shaped errors on every /v1/messages* path.
 */
import Anthropic from '@anthropic-ai/sdk';
import { jsonSchemaOutputFormat } from '@anthropic-ai/sdk/helpers/json-schema';
import { describe, expect, it } from 'vitest';
import type { MockKind } from '../../mocks/index.js';
import { EVERY_PROVIDER, providerStackForFile } from './harness.js';

const PROVIDERS = EVERY_PROVIDER;
// Remote MCP servers allowed (models.providerReach), so what is asked here is what each provider can serve; provider-reach.test.ts refuses them.
const suite = providerStackForFile('anthropic-complete', { extra: { models: { providerReach: ['mcp'] } } });

const tools = [{ name: 'get_weather', description: 'Current weather for a city', input_schema: { type: 'object' as const, properties: { city: { type: 'string' } } } }];

/** Where each provider's own token counter lives; openai and ollama have none. */
const COUNT_PATH: Partial<Record<MockKind, RegExp>> = {
  anthropic: /^\/v1\/messages\/count_tokens$/,
  gemini: /^\/v1beta\/models\/via-gemini:countTokens$/,
};

describe.each(PROVIDERS)('Anthropic SDK through a %s provider', (kind) => {
  const model = `via-${kind}`;

  it('counts input tokens with messages.countTokens', async () => {
    const mock = suite.mocks.get(kind)!;
    const before = mock.received.length;
    const counted = await suite.stack.anthropic().messages.countTokens({
      model,
      system: 'You answer briefly.',
      tools,
      messages: [{ role: 'user', content: 'How many tokens are in this question about the weather in Oslo?' }],
    });
    expect(counted.input_tokens).toBeGreaterThan(10);
    const path = COUNT_PATH[kind];
    if (path) {
      // The provider's own counter answered.
      expect(mock.received.at(-1)?.path).toMatch(path);
    } else {
      // Nothing to ask: the sidecar estimated, and no generation was paid for.
      expect(mock.received.length).toBe(before);
    }
  });

  it('answers with msg_ ids and a filled message_start input count', async () => {
    const client = suite.stack.anthropic();
    const message = await client.messages.create({ model, max_tokens: 64, messages: [{ role: 'user', content: 'id please' }] });
    expect(message.id).toMatch(/^msg_/);
    const stream = await client.messages.create({ model, max_tokens: 64, stream: true, messages: [{ role: 'user', content: 'count the words of this prompt please' }] });
    let start: Anthropic.Messages.RawMessageStartEvent | undefined;
    for await (const event of stream) if (event.type === 'message_start') start = event;
    expect(start?.message.id).toMatch(/^msg_/);
    expect(start?.message.usage.input_tokens).toBeGreaterThan(0);
  });

  it('answers messages.parse with structured output the SDK parses, constrained on OpenAI too (strict) where the schema allows', async () => {
    const mock = suite.mocks.get(kind)!;
    const closed = { type: 'object', properties: { city: { type: 'string' }, days: { type: 'integer' } }, required: ['city', 'days'], additionalProperties: false } as const;
    const message = await suite.stack.anthropic().messages.parse({ model, max_tokens: 256, messages: [{ role: 'user', content: 'plan a trip' }], output_config: { format: jsonSchemaOutputFormat(closed) } });
    expect(message.parsed_output).toEqual({ city: expect.any(String), days: expect.any(Number) });
    const format = (mock.received.at(-1)!.body as { response_format?: { json_schema?: { strict?: boolean } } }).response_format;
    if (kind === 'openai') expect(format?.json_schema?.strict).toBe(true);

    // An optional property: OpenAI's strict mode would refuse the schema, so it is asked without.
    const open = { type: 'object', properties: { city: { type: 'string' }, note: { type: 'string' } }, required: ['city'], additionalProperties: false } as const;
    const loose = await suite.stack.anthropic().messages.parse({ model, max_tokens: 256, messages: [{ role: 'user', content: 'plan a trip' }], output_config: { format: jsonSchemaOutputFormat(open) } });
    expect(loose.parsed_output).toMatchObject({ city: expect.any(String) });
    if (kind === 'openai') expect((mock.received.at(-1)!.body as { response_format?: { json_schema?: object } }).response_format?.json_schema).not.toHaveProperty('strict');
  });

  it('takes the structured-outputs beta spelling (output_format) as output_config.format', async () => {
    const schema = { type: 'object', properties: { answer: { type: 'string' } }, required: ['answer'], additionalProperties: false };
    const message = await suite.stack.anthropic().messages.create({ model, max_tokens: 256, messages: [{ role: 'user', content: 'answer me' }], output_format: { type: 'json_schema', schema } } as Anthropic.MessageCreateParamsNonStreaming);
    const text = message.content.find((b) => b.type === 'text')?.text ?? '';
    expect(JSON.parse(text)).toEqual({ answer: expect.any(String) });
  });

  it('reads a PDF document block (what @ai-sdk/anthropic and LangChain send for a PDF) and a text one', async () => {
    const pdf = Buffer.from('%PDF-1.4 a tiny document').toString('base64');
    const result = await suite.stack
      .anthropic()
      .messages.create({
        model,
        max_tokens: 128,
        messages: [{ role: 'user', content: [{ type: 'document', title: 'report.pdf', source: { type: 'base64', media_type: 'application/pdf', data: pdf } }, { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'plain notes' } }, { type: 'text', text: 'summarise these' }] }],
      })
      .catch((e: unknown) => e);
    if (kind === 'ollama') {
      // Ollama takes no files: refused naming the part, as an OpenAI file part is.
      expect(result).toBeInstanceOf(Anthropic.BadRequestError);
      return;
    }
    expect(result).toMatchObject({ type: 'message' });
    const sent = JSON.stringify(suite.mocks.get(kind)!.received.at(-1)!.body);
    expect(sent).toContain(pdf);
    expect(sent).toContain('plain notes');
  });

  it(kind === 'anthropic' ? 'passes mcp_servers to Anthropic' : 'refuses mcp_servers (Anthropic calls those servers itself) with a 400 naming it', async () => {
    const mock = suite.mocks.get(kind)!;
    const received = mock.received.length;
    const result = await suite.stack
      .anthropic()
      .messages.create({ model, max_tokens: 64, messages: [{ role: 'user', content: 'use the server' }], mcp_servers: [{ type: 'url', url: 'https://mcp.example/sse', name: 'x' }] } as Anthropic.MessageCreateParamsNonStreaming)
      .catch((e: unknown) => e);
    if (kind === 'anthropic') {
      expect(mock.received.at(-1)!.body).toMatchObject({ mcp_servers: [{ name: 'x' }] });
      return;
    }
    expect(result).toBeInstanceOf(Anthropic.BadRequestError);
    expect((result as Error).message).toContain('mcp_servers can only be served by an Anthropic provider');
    expect(mock.received.length).toBe(received);
  });

  it('hands back a tool result that carries an image (a screenshot tool) whoever serves the model', async () => {
    const client = suite.stack.anthropic();
    const user = { role: 'user' as const, content: 'take a screenshot' };
    const first = await client.messages.create({ model, max_tokens: 128, tools, tool_choice: { type: 'tool', name: 'get_weather' }, messages: [user] });
    const use = first.content.find((b) => b.type === 'tool_use')!;
    const png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
    const second = await client.messages
      .create({
        model,
        max_tokens: 128,
        tools,
        messages: [user, { role: 'assistant', content: first.content }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: [{ type: 'text', text: 'the screen' }, { type: 'image', source: { type: 'base64', media_type: 'image/png', data: png } }] }] }],
      })
      .catch((e: unknown) => e);
    expect(second).toMatchObject({ type: 'message' });
    expect(JSON.stringify(suite.mocks.get(kind)!.received.at(-1)!.body)).toContain(png);
  });

  it('calls tools named as Anthropic allows and others refuse (100 characters; a digit first) under their own names, plain and streamed', async () => {
    const client = suite.stack.anthropic();
    const long = `lookup_${'x'.repeat(93)}`;
    const named = [long, '1st_lookup'].map((name) => ({ ...tools[0]!, name }));
    const asked = { model, max_tokens: 256, tools: named, messages: [{ role: 'user' as const, content: 'look both up in parallel' }] };
    const message = await client.messages.create(asked);
    const calls = message.content.filter((b) => b.type === 'tool_use');
    expect(calls.map((b) => b.name)).toEqual([long, '1st_lookup']);
    const streamed = await client.messages.stream(asked).finalMessage();
    expect(streamed.content.flatMap((b) => (b.type === 'tool_use' ? [b.name] : []))).toEqual([long, '1st_lookup']);
    const results = calls.map((b) => ({ type: 'tool_result' as const, tool_use_id: b.type === 'tool_use' ? b.id : '', content: 'found' }));
    const next = await client.messages.create({ ...asked, messages: [...asked.messages, { role: 'assistant', content: message.content }, { role: 'user', content: results }] });
    expect(next.content).toEqual([expect.objectContaining({ type: 'text', text: 'tool result: found' })]);
  });

  it('retrieves the model with models.retrieve', async () => {
    const info = await suite.stack.anthropic().models.retrieve(model);
    expect(info).toMatchObject({ type: 'model', id: model, display_name: model });
  });
});

describe('Anthropic SDK models and errors', () => {
  it('lists the served models in Anthropic shape', async () => {
    const ids: string[] = [];
    for await (const info of suite.stack.anthropic().models.list()) ids.push(info.id);
    expect(ids.sort()).toEqual(PROVIDERS.map((k) => `via-${k}`).sort());
  });

  it('raises NotFoundError with an Anthropic body for an unknown model', async () => {
    const error = await suite.stack.anthropic().models.retrieve('no-such-model').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.NotFoundError);
    expect((error as InstanceType<typeof Anthropic.NotFoundError>).error).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });
  });

  it('answers an unserved /v1/messages path (batches) in Anthropic shape', async () => {
    const error = await suite.stack.anthropic().messages.batches.list().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.NotFoundError);
    expect((error as InstanceType<typeof Anthropic.NotFoundError>).error).toMatchObject({ type: 'error', error: { type: 'not_found_error', message: expect.stringContaining('/v1/messages/batches') } });
  });

  it('answers bad count_tokens bodies and wrong methods in Anthropic shape', async () => {
    const error = await suite.stack
      .anthropic()
      .messages.countTokens({ model: 'via-anthropic', messages: 'not a list' as never })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.BadRequestError);
    expect((error as InstanceType<typeof Anthropic.BadRequestError>).error).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', message: expect.stringMatching(/^messages/) } });
    for (const [method, path] of [
      ['GET', '/v1/messages'],
      ['GET', '/v1/messages/count_tokens'],
    ] as const) {
      const response = await suite.stack.fetch(path, { method });
      expect(response.status).toBe(404);
      expect(await response.json()).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });
    }
  });
});
