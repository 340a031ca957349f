/**
 * Canonical completion → GenerateContentResponse, and canonical chunks → a Gemini SSE stream
 * (`data: {GenerateContentResponse}` events, no `[DONE]`): text as it comes, each function call
 * whole once its arguments are complete (as Gemini sends them), and the last event carrying
 * `finishReason` and `usageMetadata`.
 */
import { geminiErrorBody } from '../../wire/gemini.js';
import type { ResponseThinkingBlock } from '../../wire/openai-responses.js';
import { sealThinking } from '../../wire/responses.js';
import type { ChatCompletion, ChatCompletionChunk, FinishReason, Usage } from '../../wire/openai.js';
import type { ProviderError } from '../../providers/types.js';
import { toolInput } from './anthropic-response.js';

const FINISH: Record<FinishReason, string> = { stop: 'STOP', length: 'MAX_TOKENS', tool_calls: 'STOP', function_call: 'STOP', content_filter: 'SAFETY' };

type Part = Record<string, unknown>;

/** Canonical usage as Gemini's usageMetadata (reasoning tokens reported as thoughts). */
export function usageMetadata(usage: Usage | null | undefined): Record<string, number> | undefined {
  if (!usage) return undefined;
  const thoughts = usage.completion_tokens_details?.reasoning_tokens ?? 0;
  const cached = usage.prompt_tokens_details?.cached_tokens ?? 0;
  return {
    promptTokenCount: usage.prompt_tokens,
    candidatesTokenCount: usage.completion_tokens - thoughts,
    totalTokenCount: usage.prompt_tokens + usage.completion_tokens,
    ...(thoughts ? { thoughtsTokenCount: thoughts } : {}),
    ...(cached ? { cachedContentTokenCount: cached } : {}),
  };
}

function responseOf(parts: Part[], id: string, model: string, finish?: FinishReason | null, usage?: Usage | null): Record<string, unknown> {
  const meta = usageMetadata(usage);
  return {
    candidates: [{ content: { role: 'model', parts }, ...(finish ? { finishReason: FINISH[finish] } : {}), index: 0 }],
    ...(meta ? { usageMetadata: meta } : {}),
    modelVersion: model,
    responseId: id,
  };
}

/**
 * Claude's signed thinking as a Gemini thought signature (bytes, base64 in JSON): the thinking
 * blocks sealed as for the Responses API (wire/responses.ts), so a Gemini client that keeps its
 * parts as they came (google-genai, ADK) hands Claude its thinking back on the next step, and
 * ./gemini.ts reads them again. No Gemini model ever gets one (server/operations.ts).
 */
export function thinkingSignature(blocks: readonly ResponseThinkingBlock[] | null | undefined): string | undefined {
  const sealed = sealThinking(blocks);
  return sealed === undefined ? undefined : Buffer.from(sealed).toString('base64');
}

/**
 * A canonical completion (first choice) as a GenerateContentResponse; its reasoning as thought
 * parts only when the client asked for them (`thinkingConfig.includeThoughts`), as Gemini does,
 * and signed thinking as the first answer part's `thoughtSignature`, as Gemini puts its own.
 */
export function chatToGemini(completion: ChatCompletion, thoughts = false): Record<string, unknown> {
  const message = completion.choices[0]?.message;
  const parts: Part[] = [];
  if (thoughts && message?.reasoning_content) parts.push({ text: message.reasoning_content, thought: true });
  if (message?.content) parts.push({ text: message.content });
  for (const call of message?.tool_calls ?? []) parts.push({ functionCall: { id: call.id, name: call.function.name, args: toolInput(call.function.arguments) } });
  sign(parts, thinkingSignature(message?.thinking_blocks));
  return responseOf(parts, completion.id, completion.model, completion.choices[0]?.finish_reason ?? 'stop', completion.usage);
}

/** Puts `signature` on the first part that is not a thought (or a part of its own when there is none). */
function sign(parts: Part[], signature: string | undefined): void {
  if (signature === undefined) return;
  const answer = parts.find((p) => !p.thought);
  if (answer) answer.thoughtSignature = signature;
  else parts.push({ text: '', thoughtSignature: signature });
}

/** One SSE event of a Gemini stream. */
function sse(value: unknown): string {
  return `data: ${JSON.stringify(value)}\r\n\r\n`;
}

/**
 * A stateful encoder for one stream; each method returns the SSE text to write (maybe ""). Thought
 * parts only with `thoughts` (the client's includeThoughts).
 */
export function geminiStreamEncoder(options: { id: string; model: string; thoughts?: boolean }) {
  const calls = new Map<number, { id: string; name: string; args: string }>();
  // Signed thinking waiting for the next answer part to ride on.
  let signature: string | undefined;
  let finish: FinishReason | null = null;
  let usage: Usage | null = null;
  const flushCalls = (): Part[] => {
    const parts = [...calls.values()].map((c) => ({ functionCall: { id: c.id, name: c.name, args: toolInput(c.args) } }));
    calls.clear();
    return parts;
  };
  return {
    chunk(chunk: ChatCompletionChunk): string {
      if (chunk.usage) usage = chunk.usage;
      const choice = chunk.choices.find((c) => c.index === 0);
      if (!choice) return '';
      const delta = choice.delta;
      const parts: Part[] = [];
      if (options.thoughts && delta.reasoning_content) parts.push({ text: delta.reasoning_content, thought: true });
      signature ??= thinkingSignature(delta.thinking_blocks);
      if (delta.content) {
        parts.push({ text: delta.content, ...(signature ? { thoughtSignature: signature } : {}) });
        signature = undefined;
      }
      for (const call of delta.tool_calls ?? []) {
        if (call.id) calls.set(call.index, { id: call.id, name: call.function?.name ?? '', args: '' });
        const open = calls.get(call.index);
        if (open && call.function?.arguments) open.args += call.function.arguments;
      }
      if (choice.finish_reason) finish = choice.finish_reason;
      return parts.length > 0 ? sse(responseOf(parts, options.id, options.model)) : '';
    },
    end(): string {
      const parts = flushCalls();
      sign(parts, signature);
      // The last event has a part, as Gemini's does: google-genai's `chunk.text` of an event
      // without one is None, which `print(chunk.text, end="")` writes out.
      if (parts.length === 0) parts.push({ text: '' });
      return sse(responseOf(parts, options.id, options.model, finish ?? 'stop', usage));
    },
    error(error: ProviderError): string {
      return sse(geminiErrorBody(error));
    },
  };
}
