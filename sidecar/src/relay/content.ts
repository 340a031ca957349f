/**
 * What a canonical stream chunk carries for the client: content (text, tool calls, a finish) or
 * only framing (OpenAI's role-only first chunk, what Anthropic's message_start becomes). Frames
 * without content are held back so a provider that fails right after them can still fail over.
 */

import { estimateTokens, textTokens } from '../ingress/estimate.js';

interface ChoiceLike {
  delta?: Record<string, unknown>;
  /** A whole answer's choice: the fields a stream's delta has. */
  message?: Record<string, unknown>;
  text?: unknown;
  finish_reason?: unknown;
}

/** Whether the chunk carries anything but framing. */
export function hasContent(chunk: { choices?: readonly unknown[] }): boolean {
  const choices = chunk.choices;
  if (!choices) return false;
  for (const c of choices as ChoiceLike[]) {
    if (c.finish_reason) return true;
    if (typeof c.text === 'string' && c.text.length > 0) return true;
    const delta = c.delta;
    if (!delta) continue;
    for (const key in delta) {
      if (key === 'role') continue;
      const value = delta[key];
      if (typeof value === 'string' ? value.length > 0 : Array.isArray(value) ? value.length > 0 : value != null) return true;
    }
  }
  return false;
}

/**
 * Tokens of text, reasoning, tool arguments, refusals and transcripts in the chunk, for a usage estimate (by character
 * class, ingress/estimate.ts textTokens: summed per delta, it errs high). Reasoning
 * is billed as output: every translator writes it as `reasoning_content` (Anthropic thinking,
 * Gemini thought parts, Ollama thinking, Responses reasoning deltas), and OpenAI-compatible
 * servers pass theirs as `reasoning_content` or `reasoning` (one of them: some send both, alike).
 * Whole thinking blocks (`thinking_blocks`) repeat the text already counted and are not. A whole
 * answer's choice (`message`) is read as a delta.
 */
export function contentTokens(chunk: { choices?: readonly unknown[] }): number {
  let n = 0;
  for (const c of (chunk.choices ?? []) as ChoiceLike[]) {
    if (typeof c.text === 'string') n += textTokens(c.text);
    const delta = c.delta ?? c.message;
    if (!delta) continue;
    if (typeof delta.content === 'string') n += textTokens(delta.content);
    const reasoning = typeof delta.reasoning_content === 'string' ? delta.reasoning_content : delta.reasoning;
    if (typeof reasoning === 'string') n += textTokens(reasoning);
    if (Array.isArray(delta.tool_calls)) for (const t of delta.tool_calls as { function?: unknown }[]) n += callTokens(t.function);
    // The legacy function call, a refusal and an audio answer's transcript are output the provider bills too (red team 26).
    n += callTokens(delta.function_call);
    if (typeof delta.refusal === 'string') n += textTokens(delta.refusal);
    const transcript = (delta.audio as { transcript?: unknown } | undefined)?.transcript;
    if (typeof transcript === 'string') n += textTokens(transcript);
  }
  return n;
}

/**
 * Tokens of a whole answer's content, for the estimate of one its provider gave no output count
 * for: a chat or legacy completion's choices as {@link contentTokens} reads a stream's, a Responses
 * object's output items by every string in them (ingress/estimate.ts estimateTokens: text,
 * arguments, summaries, and the items' ids, over on the safe side). The JSON's keys and
 * punctuation, the answer's id and model, and the instructions a Responses object echoes are not
 * output; any other shape counts all its strings.
 */
export function answerTokens(answer: unknown): number {
  if (typeof answer !== 'object' || answer === null) return 0;
  const { choices, output } = answer as { choices?: unknown; output?: unknown };
  if (Array.isArray(choices)) return contentTokens({ choices });
  return estimateTokens(Array.isArray(output) ? output : answer);
}

/** Tokens of a function call's name and arguments (a tool call's `function`, or the legacy `function_call`). */
function callTokens(call: unknown): number {
  if (typeof call !== 'object' || call === null) return 0;
  const { name, arguments: args } = call as { name?: unknown; arguments?: unknown };
  return (typeof args === 'string' ? textTokens(args) : 0) + (typeof name === 'string' ? textTokens(name) : 0);
}
