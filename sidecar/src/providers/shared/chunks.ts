/** Building canonical stream chunks, shared by the stream translators of non-OpenAI providers. */
import type { ChatCompletion, ChatCompletionChunk, ChunkDelta, FinishReason, ResponseThinkingBlock, ResponseToolCall, Usage } from '../../wire/openai.js';
import type { TranslateContext } from '../types.js';

/**
 * Collects the canonical chunks of one stream in the order OpenAI sends them: the role chunk
 * first (emitted by whatever comes first), then content and tool-call deltas, the finish chunk,
 * and the usage chunk with `choices: []`. Tool-call indexes count tool calls only.
 */
export class ChunkEmitter {
  /** The chunk id; translators replace it with the provider's message id when it has one. */
  id: string;
  private out: ChatCompletionChunk[] = [];
  private started = false;
  private toolCalls = 0;

  constructor(private readonly context: TranslateContext) {
    this.id = context.id;
  }

  /** Number of tool calls started so far. */
  get toolCallCount(): number {
    return this.toolCalls;
  }

  /** Emits the role chunk if nothing was emitted yet. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.push({ role: 'assistant', content: '' });
  }

  /** A text delta (empty text emits nothing but the role chunk). */
  text(text: string): void {
    this.start();
    if (text) this.push({ content: text });
  }

  /** Starts a tool call and returns its OpenAI index. */
  toolStart(id: string, name: string): number {
    this.start();
    const index = this.toolCalls++;
    this.push({ tool_calls: [{ index, id, type: 'function', function: { name, arguments: '' } }] });
    return index;
  }

  /** An argument fragment of a started tool call. */
  toolArguments(index: number, fragment: string): void {
    if (fragment) this.push({ tool_calls: [{ index, function: { arguments: fragment } }] });
  }

  /** A reasoning-text delta (Anthropic thinking, Gemini thoughts, Ollama thinking). */
  reasoning(text: string): void {
    this.start();
    if (text) this.push({ reasoning_content: text });
  }

  /** Whole signed reasoning blocks, once their signature is known. */
  thinkingBlocks(blocks: ResponseThinkingBlock[]): void {
    this.start();
    if (blocks.length > 0) this.push({ thinking_blocks: blocks });
  }

  /** The finish chunk. */
  finish(reason: FinishReason): void {
    this.start();
    this.push({}, reason);
  }

  /** The usage chunk. */
  usage(usage: Usage): void {
    this.out.push({ id: this.id, object: 'chat.completion.chunk', created: this.context.created, model: this.context.requestedModel, choices: [], usage });
  }

  /** Returns and forgets the chunks collected since the last call. */
  drain(): ChatCompletionChunk[] {
    const out = this.out;
    this.out = [];
    return out;
  }

  private push(delta: ChunkDelta, finish: FinishReason | null = null): void {
    this.out.push({
      id: this.id,
      object: 'chat.completion.chunk',
      created: this.context.created,
      model: this.context.requestedModel,
      choices: [{ index: 0, delta, finish_reason: finish }],
    });
  }
}

/** A usage object from prompt and completion counts plus optional details. */
/**
 * A token count from a provider's usage field: 0 when absent, the number when it is one from 0 up,
 * NaN otherwise (a string, a negative): a sum with it is NaN, which the limits do not count as
 * given but estimate (relay/usage.ts countable). Read as given, `"10"` was 0 tokens and a negative
 * cache count took tokens off the input (ver18).
 */
export function tokenCount(value: unknown): number {
  if (value === undefined || value === null) return 0;
  return typeof value === 'number' && value >= 0 ? value : NaN;
}

export function makeUsage(prompt: number, completion: number, cached?: number, reasoning?: number): Usage {
  const usage: Usage = { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
  if (cached) usage.prompt_tokens_details = { cached_tokens: cached };
  if (reasoning) usage.completion_tokens_details = { reasoning_tokens: reasoning };
  return usage;
}

/**
 * A tool call id for providers that give none (Gemini, Ollama): `call_<call id suffix>_<n>`. The
 * suffix makes ids unique across the turns of a conversation, which Anthropic requires should the
 * conversation fail over there; only characters every provider accepts are kept.
 */
export function makeToolCallId(context: TranslateContext, n: number): string {
  const dash = context.id.lastIndexOf('-');
  const suffix = (dash >= 0 ? context.id.slice(dash + 1) : context.id).replace(/[^A-Za-z0-9]/g, '').slice(0, 24);
  return `call_${suffix}_${n}`;
}

/**
 * A one-choice canonical completion from what every provider's response boils down to: text,
 * tool calls, a finish reason and usage. The text is null when the answer is only tool calls,
 * as OpenAI reports it.
 */
export function makeCompletion(
  context: TranslateContext,
  answer: {
    id?: string | undefined;
    text: string;
    toolCalls: ResponseToolCall[];
    finish: FinishReason;
    usage?: Usage | undefined;
    /** Reasoning text and signed blocks, for providers that return them. */
    reasoning?: string;
    thinkingBlocks?: ResponseThinkingBlock[];
  },
): ChatCompletion {
  const { text, toolCalls } = answer;
  const reasoning = {
    ...(answer.reasoning ? { reasoning_content: answer.reasoning } : {}),
    ...(answer.thinkingBlocks?.length ? { thinking_blocks: answer.thinkingBlocks } : {}),
  };
  return {
    id: answer.id ?? context.id,
    object: 'chat.completion',
    created: context.created,
    model: context.requestedModel,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: text || (toolCalls.length > 0 ? null : ''), ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}), ...reasoning },
        finish_reason: answer.finish,
        logprobs: null,
      },
    ],
    ...(answer.usage ? { usage: answer.usage } : {}),
  };
}
