/**
 * Tool names a provider refuses, renamed for the one request. The APIs disagree on what a
 * function may be called: Gemini takes dots and colons (`fs.read_file`, `ns:tool`, as MCP-style
 * clients name them), OpenAI and OpenAI-compatible servers only `^[a-zA-Z0-9_-]{1,64}$`, Anthropic
 * `^[a-zA-Z0-9_-]{1,128}$`, and Gemini wants a letter or `_` first and at most 64 characters. A
 * translated request carrying a name its provider refuses was a 400.
 *
 * Every name in the request (declared tools, the tool choice, earlier calls in the history) that
 * the provider refuses gets a name it takes: its characters outside `[a-zA-Z0-9_-]` made `_`, a
 * `_` before a first character Gemini refuses; when that is too long or already a name of the
 * request, it is cut and ends in a digest of the client's name instead. The same request always
 * gives the same names, so the turns of one conversation agree, and no two client names share one.
 * The answer's calls (plain and streamed) are named back, so the client sees its own names: a call
 * keeps the renaming its request was sent with (CallToolNames). Names the provider takes are never
 * changed; Ollama takes any.
 */
import { createHash } from 'node:crypto';
import type { ProviderType } from '../../config/schema.js';
import type { ChatCompletion, ChatCompletionChunk, ChatMessage, ChatRequest } from '../../wire/openai.js';
import type { StreamTranslator } from '../types.js';

interface NameRule {
  /** What the provider takes. */
  valid: RegExp;
  max: number;
  /** Whether the first character must be a letter or `_` (Gemini). */
  letterFirst: boolean;
}

const OPENAI: NameRule = { valid: /^[a-zA-Z0-9_-]{1,64}$/, max: 64, letterFirst: false };

/** The tool names each provider type takes; none listed: any (Ollama). */
const RULES: Partial<Record<ProviderType, NameRule>> = {
  openai: OPENAI,
  'openai-compatible': OPENAI,
  anthropic: { valid: /^[a-zA-Z0-9_-]{1,128}$/, max: 128, letterFirst: false },
  gemini: { valid: /^[a-zA-Z_][a-zA-Z0-9_.:-]{0,63}$/, max: 64, letterFirst: true },
};

/** The client's tool names the provider refuses, and the names they are sent under. */
export interface ToolNames {
  /** Client name → provider name. */
  readonly sent: ReadonlyMap<string, string>;
  /** Provider name → client name. */
  readonly client: ReadonlyMap<string, string>;
}

/** Every tool name a request carries, in a fixed order: declared tools, the choice, the history's calls. */
function namesOf(request: ChatRequest): string[] {
  const names = (request.tools ?? []).map((t) => t.function.name);
  const choice = request.tool_choice;
  if (typeof choice === 'object' && choice !== null) names.push(choice.function.name);
  for (const message of request.messages) if (message.role === 'assistant') for (const call of message.tool_calls ?? []) names.push(call.function.name);
  return names;
}

/** The renaming `type` needs for `request`; undefined when it takes every name as it is. */
export function toolNamesFor(request: ChatRequest, type: ProviderType): ToolNames | undefined {
  const rule = RULES[type];
  if (!rule) return undefined;
  const names = [...new Set(namesOf(request))];
  const refused = names.filter((name) => !rule.valid.test(name));
  if (refused.length === 0) return undefined;
  const taken = new Set(names.filter((name) => rule.valid.test(name)));
  const sent = new Map<string, string>();
  for (const name of refused) {
    let renamed = name.replace(/[^a-zA-Z0-9_-]/g, '_');
    if (rule.letterFirst && !/^[a-zA-Z_]/.test(renamed)) renamed = `_${renamed}`;
    if (renamed.length > rule.max || taken.has(renamed)) {
      const digest = createHash('sha256').update(name).digest('hex').slice(0, 8);
      renamed = `${renamed.slice(0, rule.max - digest.length - 1)}_${digest}`;
    }
    taken.add(renamed);
    sent.set(name, renamed);
  }
  return { sent, client: new Map([...sent].map(([from, to]) => [to, from])) };
}

/** The request with the tool names `type` refuses renamed. */
export function withSentToolNames(request: ChatRequest, type: ProviderType): ChatRequest {
  return renamed(request, toolNamesFor(request, type));
}

/**
 * One call's renamings, one per provider type it is translated for: worked out when the request
 * is translated (`sent`) and used as they are for that provider's answer, whole or streamed, not
 * worked out again from a request. A call that fails over to a provider of another type works
 * out that type's; a call passed through to a provider of the client's own API works out none.
 */
export class CallToolNames {
  /** Provider type → its renaming (undefined: it takes every name); made at the first translation. */
  private byType: Map<ProviderType, ToolNames | undefined> | undefined;

  /** The request with the tool names `type` refuses renamed, the renaming kept for the answer. */
  sent(request: ChatRequest, type: ProviderType): ChatRequest {
    const byType = (this.byType ??= new Map());
    if (!byType.has(type)) byType.set(type, toolNamesFor(request, type));
    return renamed(request, byType.get(type));
  }

  /** `type`'s completion with its calls named as the client named them. */
  completion(completion: ChatCompletion, type: ProviderType): ChatCompletion {
    return clientNamed(completion, this.byType?.get(type));
  }

  /** `type`'s stream with its calls named as the client named them. */
  stream(translator: StreamTranslator, type: ProviderType): StreamTranslator {
    const names = this.byType?.get(type);
    if (!names) return translator;
    const back = (chunks: ChatCompletionChunk[]) => chunks.map((chunk) => clientNamedChunk(chunk, names));
    const wrapped: StreamTranslator = { push: (bytes) => back(translator.push(bytes)), end: () => back(translator.end()) };
    if (translator.complete) wrapped.complete = () => translator.complete!();
    if (translator.earlyUsage) wrapped.earlyUsage = () => translator.earlyUsage!();
    return wrapped;
  }
}

function renamed(request: ChatRequest, names: ToolNames | undefined): ChatRequest {
  if (!names) return request;
  const rename = (name: string) => names.sent.get(name) ?? name;
  const choice = request.tool_choice;
  return {
    ...request,
    ...(request.tools ? { tools: request.tools.map((t) => ({ ...t, function: { ...t.function, name: rename(t.function.name) } })) } : {}),
    ...(typeof choice === 'object' && choice !== null ? { tool_choice: { ...choice, function: { ...choice.function, name: rename(choice.function.name) } } } : {}),
    messages: request.messages.map((message): ChatMessage => {
      if (message.role !== 'assistant' || !message.tool_calls?.length) return message;
      return { ...message, tool_calls: message.tool_calls.map((call) => ({ ...call, function: { ...call.function, name: rename(call.function.name) } })) };
    }),
  };
}

function clientNamed(completion: ChatCompletion, names: ToolNames | undefined): ChatCompletion {
  if (!names) return completion;
  return {
    ...completion,
    choices: completion.choices.map((choice) => {
      const calls = choice.message.tool_calls;
      if (!calls?.length) return choice;
      return { ...choice, message: { ...choice.message, tool_calls: calls.map((call) => ({ ...call, function: { ...call.function, name: names.client.get(call.function.name) ?? call.function.name } })) } };
    }),
  };
}

function clientNamedChunk(chunk: ChatCompletionChunk, names: ToolNames): ChatCompletionChunk {
  if (!chunk.choices.some((choice) => choice.delta.tool_calls?.some((call) => call.function?.name !== undefined && names.client.has(call.function.name)))) return chunk;
  return {
    ...chunk,
    choices: chunk.choices.map((choice) => {
      const calls = choice.delta.tool_calls;
      if (!calls) return choice;
      return { ...choice, delta: { ...choice.delta, tool_calls: calls.map((call) => (call.function?.name === undefined ? call : { ...call, function: { ...call.function, name: names.client.get(call.function.name) ?? call.function.name } })) } };
    }),
  };
}
