/**
 * `parallel_tool_calls: false` where the provider has no such switch (Gemini, Ollama): the model
 * may still call several functions in one turn, and a client that asked for one at a time (the
 * Agents SDK's `parallel_tool_calls=False`) would run them all. The answer keeps its first call;
 * the model is asked again for the others on the next turn, as OpenAI's would be.
 */
import type { ChatCompletion, ChatCompletionChunk } from '../../wire/openai.js';
import type { ProviderType } from '../../config/schema.js';
import type { StreamTranslator } from '../types.js';

/** Provider types that cannot be told to make one call at a time. */
const NO_SWITCH: ReadonlySet<ProviderType> = new Set<ProviderType>(['gemini', 'ollama']);

/** Whether the sidecar must hold the answer to one call for this provider. */
export function mustKeepOneCall(type: ProviderType, request: { parallel_tool_calls?: boolean | null }): boolean {
  return request.parallel_tool_calls === false && NO_SWITCH.has(type);
}

/** The completion with its first tool call only. */
export function firstCallOnly(completion: ChatCompletion): ChatCompletion {
  const message = completion.choices[0]?.message;
  if (!message?.tool_calls || message.tool_calls.length < 2) return completion;
  return { ...completion, choices: [{ ...completion.choices[0]!, message: { ...message, tool_calls: message.tool_calls.slice(0, 1) } }, ...completion.choices.slice(1)] };
}

/** The stream with the deltas of its first tool call only (index 0). */
export function firstCallStream(translator: StreamTranslator): StreamTranslator {
  const keep = (chunks: ChatCompletionChunk[]) => chunks.map(firstCallChunk);
  const wrapped: StreamTranslator = { push: (bytes) => keep(translator.push(bytes)), end: () => keep(translator.end()) };
  if (translator.complete) wrapped.complete = () => translator.complete!();
  if (translator.earlyUsage) wrapped.earlyUsage = () => translator.earlyUsage!();
  return wrapped;
}

function firstCallChunk(chunk: ChatCompletionChunk): ChatCompletionChunk {
  const choice = chunk.choices[0];
  const calls = choice?.delta.tool_calls;
  if (!calls?.some((c) => c.index > 0)) return chunk;
  const first = calls.filter((c) => c.index === 0);
  const { tool_calls: _all, ...delta } = choice!.delta;
  return { ...chunk, choices: [{ ...choice!, delta: first.length > 0 ? { ...delta, tool_calls: first } : delta }, ...chunk.choices.slice(1)] };
}
