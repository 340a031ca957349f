import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Stream } from '@anthropic-ai/sdk/core/streaming';
import { MessageStream } from '@anthropic-ai/sdk/lib/MessageStream';
import { describe, expect, it } from 'vitest';
import { adapterFor } from '../../providers/index.js';
import { splits, translate } from '../../providers/testing/golden.js';
import { StreamError, TranslationError, type TranslateContext } from '../../providers/types.js';
import { MessagesRequest, type AnthropicMessage } from '../../wire/anthropic.js';
import { ChatRequest } from '../../wire/openai.js';
import { anthropicStreamEncoder, anthropicToChat, chatToAnthropic } from './anthropic.js';

const anthropic = adapterFor('anthropic');
const target = { baseURL: 'https://api.anthropic.com', apiKey: 'k', model: 'claude-sonnet-4-5', headers: {} };
const providerStreams = join(import.meta.dirname, '../../providers/anthropic/golden');

type Block = Record<string, unknown> & { type: string };

/** A Messages body in one spelling: string content as a text block, and the model left out. */
function normalise(body: Record<string, unknown>): unknown {
  const blocks = (content: unknown): Block[] => (typeof content === 'string' ? [{ type: 'text', text: content }] : (content as Block[]));
  const { model: _model, messages, system, ...rest } = body;
  return {
    ...rest,
    ...(system !== undefined ? { system: blocks(system) } : {}),
    messages: (messages as { role: string; content: unknown }[]).map((m) => ({ role: m.role, content: blocks(m.content) })),
  };
}

/** Anthropic request → canonical (through the OpenAI schema, as a router would hold it) → Anthropic request. */
function roundTrip(request: Record<string, unknown>): Record<string, unknown> {
  const canonical = ChatRequest.parse(anthropicToChat(MessagesRequest.parse(request)));
  return JSON.parse(anthropic.chatRequest(canonical, target).body as string) as Record<string, unknown>;
}

describe('Anthropic requests through the canonical form', () => {
  it("carry Claude Code's effort (output_config.effort with adaptive thinking) as reasoning_effort, max as the top level", () => {
    const chat = (effort: string, thinking: Record<string, unknown> = { type: 'adaptive', display: 'omitted' }) =>
      anthropicToChat(MessagesRequest.parse({ model: 'c', max_tokens: 64, messages: [{ role: 'user', content: 'hi' }], thinking, output_config: { effort } }));
    expect(chat('high').reasoning_effort).toBe('high');
    expect(chat('low').reasoning_effort).toBe('low');
    expect(chat('max').reasoning_effort).toBe('xhigh');
    expect(chat('high', { type: 'disabled' }).reasoning_effort).toBeUndefined();
  });

  it('keep a mid-conversation system message (as Claude Code sends) where it stands, text only', () => {
    const request = MessagesRequest.parse({
      model: 'c',
      max_tokens: 64,
      system: 'top',
      messages: [
        { role: 'user', content: 'hi' },
        { role: 'system', content: [{ type: 'text', text: 'you are in /work', cache_control: { type: 'ephemeral' } }] },
        { role: 'assistant', content: 'hello' },
        { role: 'user', content: 'again' },
        { role: 'system', content: 'be brief' },
      ],
    });
    expect(anthropicToChat(request).messages.map((m) => [m.role, m.content])).toEqual([
      ['system', 'top'],
      ['user', 'hi'],
      ['system', [{ type: 'text', text: 'you are in /work', cache_control: { type: 'ephemeral' } }]],
      ['assistant', 'hello'],
      ['user', 'again'],
      ['system', 'be brief'],
    ]);
  });

  it('come back equivalent: system, images, tool use and results, tools, choices, sampling', () => {
    const original = {
      model: 'claude-sonnet-4-5',
      max_tokens: 1024,
      system: [{ type: 'text', text: 'You are a coding agent.' }, { type: 'text', text: 'Repo: airlock.' }],
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'Look' }, { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } }, { type: 'image', source: { type: 'url', url: 'https://x.test/a.png' } }] },
        { role: 'assistant', content: [{ type: 'text', text: 'Zooming.' }, { type: 'tool_use', id: 'toolu_1', name: 'zoom', input: { factor: 2, box: [1, 2] } }, { type: 'tool_use', id: 'toolu_2', name: 'crop', input: {} }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'zoomed' }, { type: 'tool_result', tool_use_id: 'toolu_2', content: [{ type: 'text', text: 'cropped' }] }, { type: 'text', text: 'And?' }] },
        { role: 'assistant', content: 'A red pixel.' },
        { role: 'user', content: 'Thanks' },
      ],
      tools: [{ name: 'zoom', description: 'Zoom in', input_schema: { type: 'object', properties: { factor: { type: 'number' } } } }, { name: 'crop', input_schema: { type: 'object', properties: {} } }],
      tool_choice: { type: 'any', disable_parallel_tool_use: true },
      stop_sequences: ['</answer>'],
      temperature: 0.3,
      top_k: 50,
      metadata: { user_id: 'u-42' },
      stream: true,
    };
    expect(normalise(roundTrip(original))).toEqual(normalise(original));
  });

  it('keep a string system prompt a string, and every tool choice', () => {
    for (const tool_choice of [{ type: 'auto' }, { type: 'none' }, { type: 'tool', name: 't' }, { type: 'auto', disable_parallel_tool_use: true }]) {
      const original = { model: 'c', max_tokens: 5, system: 'Be brief.', messages: [{ role: 'user', content: 'Hi' }], tools: [{ name: 't', input_schema: { type: 'object' } }], tool_choice, top_p: 0.5 };
      const back = roundTrip(original);
      expect(back.system).toBe('Be brief.');
      expect(normalise(back)).toEqual(normalise(original));
    }
  });

  it('serve any provider type: the canonical request builds for each', () => {
    const canonical = ChatRequest.parse(
      anthropicToChat(
        MessagesRequest.parse({
          model: 'c',
          max_tokens: 64,
          messages: [
            { role: 'user', content: 'weather?' },
            { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_9', name: 'w', input: { at: 'Paris' } }] },
            { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_9', content: 'sunny' }] },
          ],
        }),
      ),
    );
    for (const type of ['openai', 'openai-compatible', 'gemini', 'ollama'] as const) {
      const request = adapterFor(type).chatRequest(canonical, { ...target, baseURL: 'http://x.test' });
      expect(request.body, type).toContain('Paris');
    }
    expect(JSON.parse(adapterFor('openai').chatRequest(canonical, target).body as string)).toMatchObject({ max_completion_tokens: 64 });
    expect(JSON.parse(adapterFor('openai-compatible').chatRequest(canonical, target).body as string)).toMatchObject({ max_tokens: 64 });
  });

  it('carry structured outputs (output_config.format) to every provider type as its JSON-schema mode', () => {
    const schema = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false };
    const canonical = ChatRequest.parse(anthropicToChat(MessagesRequest.parse({ model: 'c', max_tokens: 64, messages: [{ role: 'user', content: 'city?' }], output_config: { format: { type: 'json_schema', schema } } })));
    // Strict: constrained on OpenAI as on Claude (every property is required, the object closed).
    expect(canonical.response_format).toEqual({ type: 'json_schema', json_schema: { name: 'response', schema, strict: true } });
    const bodies = Object.fromEntries((['openai', 'gemini', 'ollama'] as const).map((type) => [type, JSON.parse(adapterFor(type).chatRequest(canonical, { ...target, baseURL: 'http://x.test' }).body as string) as Record<string, unknown>]));
    expect(bodies.openai).toMatchObject({ response_format: { type: 'json_schema', json_schema: { schema } } });
    expect(bodies.gemini).toMatchObject({ generationConfig: { responseMimeType: 'application/json' } });
    expect(bodies.ollama).toMatchObject({ format: schema });
  });

  it('carry a strict tool as a strict function where OpenAI takes its schema, and as a plain one where not', () => {
    const closed = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false };
    const open = { type: 'object', properties: { city: { type: 'string' } } };
    const chat = anthropicToChat(MessagesRequest.parse({ model: 'c', max_tokens: 64, messages: [{ role: 'user', content: 'x' }], tools: [{ name: 'a', input_schema: closed, strict: true }, { name: 'b', input_schema: open, strict: true }, { name: 'c', input_schema: closed }] }));
    expect(chat.tools?.map((t) => (t as { function: { strict?: boolean } }).function.strict)).toEqual([true, undefined, undefined]);
  });

  it('refuse, as a 400 naming the block, what only Anthropic can serve', () => {
    const request = MessagesRequest.parse({ model: 'c', max_tokens: 1, messages: [{ role: 'user', content: [{ type: 'text', text: 'a' }, { type: 'search_result', source: 's', title: 't', content: [] }] }] });
    expect(() => anthropicToChat(request)).toThrow(TranslationError);
    try {
      anthropicToChat(request);
    } catch (err) {
      expect((err as TranslationError).error).toMatchObject({ status: 400, param: 'messages[0].content[1]' });
    }
  });
});

describe('Anthropic responses through the canonical form', () => {
  it('come back equivalent (thinking aside)', () => {
    const original: AnthropicMessage = {
      id: 'msg_01',
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-4-5',
      content: [{ type: 'text', text: 'Checking.' }, { type: 'tool_use', id: 'toolu_1', name: 'w', input: { at: 'Paris', days: [1, 2] } }],
      stop_reason: 'tool_use',
      stop_sequence: null,
      usage: { input_tokens: 20, output_tokens: 9, cache_creation_input_tokens: 0, cache_read_input_tokens: 100 },
    };
    const context: TranslateContext = { requestedModel: 'claude-sonnet-4-5', id: 'chatcmpl-1', created: 1 };
    expect(chatToAnthropic(anthropic.chatResponse(original, context))).toEqual(original);
  });
});

/** An SSE text as the official Anthropic SDK accumulates it. */
async function sdkMessage(sse: string): Promise<unknown> {
  const stream = Stream.fromSSEResponse(new Response(sse), new AbortController());
  return MessageStream.fromReadableStream(stream.toReadableStream()).finalMessage();
}

/** Anthropic SSE bytes → anthropic adapter → canonical chunks → encoder → Anthropic SSE text. */
function reencode(bytes: Uint8Array, pieces = [bytes]): string {
  const first = translate(anthropic.chatStream({ requestedModel: 'claude-opus-4-1-20250805', id: 'chatcmpl-1', created: 1 }), pieces);
  if (first.error) throw new StreamError(first.error as never);
  const encoder = anthropicStreamEncoder({ id: first.chunks[0]?.id ?? 'x', model: 'claude-opus-4-1-20250805' });
  return first.chunks.map((c) => encoder.encode(c)).join('') + encoder.end();
}

describe('Anthropic streams through the canonical form', () => {
  it('are read by the Anthropic SDK as the same message (text, parallel tool use, stop reason, usage)', async () => {
    const raw = readFileSync(join(providerStreams, 'stream-tool-use.sse'));
    const original = await sdkMessage(raw.toString('utf8'));
    for (const [how, pieces] of splits(new Uint8Array(raw)).slice(0, 3)) {
      expect(await sdkMessage(reencode(raw, pieces)), how).toEqual(original);
    }
  });

  it('give the SDK a thinking stream whole: thinking text, its signature, then the text', async () => {
    const raw = readFileSync(join(providerStreams, 'stream-thinking.sse'));
    const original = (await sdkMessage(raw.toString('utf8'))) as AnthropicMessage;
    expect(original.content[0]).toMatchObject({ type: 'thinking', signature: expect.any(String) });
    for (const [how, pieces] of splits(new Uint8Array(raw)).slice(0, 3)) {
      const message = (await sdkMessage(reencode(raw, pieces))) as AnthropicMessage;
      expect({ content: message.content, stop_reason: message.stop_reason }, how).toEqual({ content: original.content, stop_reason: 'max_tokens' });
    }
  });

  it('end with an error event the SDK raises as an API error', async () => {
    const encoder = anthropicStreamEncoder({ id: 'msg_1', model: 'c' });
    const text = encoder.encode({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'c', choices: [{ index: 0, delta: { content: 'Par' }, finish_reason: null }] }) + encoder.error({ status: 529, type: 'overloaded_error', message: 'Overloaded' });
    await expect(sdkMessage(text)).rejects.toThrow(/Overloaded/);
  });
});
