import { describe, expect, it } from 'vitest';
import type { ProviderType } from '../config/schema.js';
import { ResponseStore } from '../ingress/responses-store.js';
import { adapterFor } from '../providers/index.js';
import type { TranslateContext } from '../providers/types.js';
import type { ProviderRuntime } from '../router/router.js';
import type { Operation, StreamChunk } from '../relay/operation.js';
import type { ChatCompletionChunk } from '../wire/openai.js';
import { anthropicIngress } from './anthropic-routes.js';
import { geminiIngress } from './gemini-routes.js';
import { openAIIngress } from './openai-routes.js';
import { chatOperation, generateContentOperation, messagesOperation } from './operations.js';
import { responsesOperation } from './responses-routes.js';

const CLIENT_NAME = 'fs.read_file';
/** What OpenAI-compatible servers and Anthropic are sent for `fs.read_file`. */
const SENT_NAME = 'fs_read_file';
const context: TranslateContext = { requestedModel: 'm', id: 'call-1', created: 0 };
const target = { baseURL: 'http://upstream.invalid', apiKey: 'k', model: 'm', headers: {} };

function provider(type: ProviderType): ProviderRuntime {
  return { config: { name: type, type }, adapter: adapterFor(type) } as unknown as ProviderRuntime;
}

/** A provider's answer calling `name`, whole and streamed, in its own API. */
const answers: Record<'anthropic' | 'openai-compatible', (name: string) => { body: unknown; stream: string }> = {
  anthropic: (name) => ({
    body: { id: 'msg_1', type: 'message', role: 'assistant', model: 'm', content: [{ type: 'tool_use', id: 'toolu_1', name, input: {} }], stop_reason: 'tool_use', usage: { input_tokens: 1, output_tokens: 1 } },
    stream: [
      ['message_start', { type: 'message_start', message: { id: 'msg_1', type: 'message', role: 'assistant', model: 'm', content: [], usage: { input_tokens: 1, output_tokens: 0 } } }],
      ['content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'tool_use', id: 'toolu_1', name, input: {} } }],
      ['content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: '{}' } }],
      ['content_block_stop', { type: 'content_block_stop', index: 0 }],
      ['message_delta', { type: 'message_delta', delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 1 } }],
      ['message_stop', { type: 'message_stop' }],
    ]
      .map(([event, data]) => `event: ${event as string}\ndata: ${JSON.stringify(data)}\n\n`)
      .join(''),
  }),
  'openai-compatible': (name) => {
    const call = { id: 'call_1', type: 'function', function: { name, arguments: '{}' } };
    return {
      body: { id: 'c1', object: 'chat.completion', created: 0, model: 'm', choices: [{ index: 0, finish_reason: 'tool_calls', message: { role: 'assistant', content: null, tool_calls: [call] } }], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } },
      stream: [
        { id: 'c1', object: 'chat.completion.chunk', created: 0, model: 'm', choices: [{ index: 0, delta: { role: 'assistant', tool_calls: [{ index: 0, ...call }] }, finish_reason: null }] },
        { id: 'c1', object: 'chat.completion.chunk', created: 0, model: 'm', choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls' }], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } },
      ]
        .map((chunk) => `data: ${JSON.stringify(chunk)}\n\n`)
        .concat('data: [DONE]\n\n')
        .join(''),
    };
  },
};

/** The names of the calls in a whole answer, whichever API it is written in (a Responses object's echo of the tools left out). */
function calledNames(result: unknown): string[] {
  const names: string[] = [];
  JSON.stringify(result, (key, value: unknown) => {
    if (key === 'tools') return undefined;
    if (key === 'name' && typeof value === 'string') names.push(value);
    return value;
  });
  return names;
}

/** The names of the calls in a stream's chunks. */
function streamedNames(chunks: StreamChunk[]): string[] {
  return (chunks as ChatCompletionChunk[]).flatMap((chunk) => chunk.choices.flatMap((choice) => choice.delta.tool_calls?.flatMap((call) => call.function?.name ?? []) ?? []));
}

type AnyOperation = Operation<unknown, StreamChunk>;

/** Each ingress calling a provider of another API, with the client's tool named `fs.read_file`. */
const calls: { ingress: string; type: 'anthropic' | 'openai-compatible'; op: (stream: boolean) => AnyOperation }[] = [
  {
    ingress: 'OpenAI chat',
    type: 'anthropic',
    op: (stream) => chatOperation(openAIIngress, { model: 'm', max_tokens: 100, stream, messages: [{ role: 'user', content: 'hi' }], tools: [{ type: 'function', function: { name: CLIENT_NAME, parameters: { type: 'object' } } }] }, undefined) as AnyOperation,
  },
  {
    ingress: 'Anthropic',
    type: 'openai-compatible',
    op: (stream) => messagesOperation(anthropicIngress, { model: 'm', max_tokens: 100, stream, messages: [{ role: 'user', content: 'hi' }], tools: [{ name: CLIENT_NAME, input_schema: { type: 'object' } }] } as never, Buffer.from('{}'), {}) as AnyOperation,
  },
  {
    ingress: 'Gemini',
    type: 'openai-compatible',
    op: (stream) => generateContentOperation(geminiIngress, { contents: [{ role: 'user', parts: [{ text: 'hi' }] }], tools: [{ functionDeclarations: [{ name: CLIENT_NAME, parameters: { type: 'object' } }] }] } as never, 'm', stream, Buffer.from('{}')) as AnyOperation,
  },
  {
    ingress: 'Responses',
    type: 'openai-compatible',
    op: (stream) => responsesOperation({ model: 'm', stream, input: 'hi', tools: [{ type: 'function', name: CLIENT_NAME, parameters: { type: 'object' } }] } as never, Buffer.from('{}'), new ResponseStore()) as unknown as AnyOperation,
  },
];

/**
 * After the request is built, the client's request gains a tool already named as the provider was
 * sent `fs.read_file`: worked out again from it, the renaming would differ (a digest), and the
 * answer's call would keep the provider's name.
 */
function builtThenChanged(op: AnyOperation, type: ProviderType): void {
  const sent = JSON.stringify(JSON.parse(String(op.build(provider(type), target).body)));
  expect(sent).toContain(`"${SENT_NAME}"`);
  expect(sent).not.toContain(CLIENT_NAME);
  op.chatRequest!().tools!.push({ type: 'function', function: { name: SENT_NAME, parameters: { type: 'object' } } });
}

describe('a translated call works out its tool names once, when its request is translated', () => {
  for (const { ingress, type, op: make } of calls) {
    it(`${ingress} to ${type}: the whole answer is named back with the names its request was sent with`, () => {
      const op = make(false);
      builtThenChanged(op, type);
      expect(calledNames(op.render(op.parse(provider(type), answers[type](SENT_NAME).body, context)))).toEqual([CLIENT_NAME]);
    });

    it(`${ingress} to ${type}: the streamed answer is named back with the names its request was sent with`, () => {
      const op = make(true);
      builtThenChanged(op, type);
      const translator = op.streamFrames!.translator(provider(type), context);
      const chunks = [...translator.push(Buffer.from(answers[type](SENT_NAME).stream)), ...translator.end()];
      expect(streamedNames(chunks)).toEqual([CLIENT_NAME]);
    });
  }
});
