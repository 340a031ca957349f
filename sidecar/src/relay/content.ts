/**
 * What a canonical stream chunk carries for the client: content (text, tool calls, a finish) or
 * only framing (OpenAI's role-only first chunk, what Anthropic's message_start becomes). Frames
 * without content are held back so a provider that fails right after them can still fail over.
 */

import { textTokens } from '../ingress/estimate.js';

interface ChoiceLike {
  delta?: Record<string, unknown>;
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
 * Tokens of text, reasoning and tool arguments in the chunk, for a usage estimate (by character
 * class, ingress/estimate.ts textTokens: summed per delta, it errs high). Reasoning
 * is billed as output: every translator writes it as `reasoning_content` (Anthropic thinking,
 * Gemini thought parts, Ollama thinking, Responses reasoning deltas), and OpenAI-compatible
 * servers pass theirs as `reasoning_content` or `reasoning` (one of them: some send both, alike).
 * Whole thinking blocks (`thinking_blocks`) repeat the text already counted and are not.
 */
export function contentTokens(chunk: { choices?: readonly unknown[] }): number {
  let n = 0;
  for (const c of (chunk.choices ?? []) as ChoiceLike[]) {
    if (typeof c.text === 'string') n += textTokens(c.text);
    const delta = c.delta;
    if (!delta) continue;
    if (typeof delta.content === 'string') n += textTokens(delta.content);
    const reasoning = typeof delta.reasoning_content === 'string' ? delta.reasoning_content : delta.reasoning;
    if (typeof reasoning === 'string') n += textTokens(reasoning);
    if (Array.isArray(delta.tool_calls)) {
      for (const t of delta.tool_calls as { function?: { name?: unknown; arguments?: unknown } }[]) {
        if (typeof t.function?.arguments === 'string') n += textTokens(t.function.arguments);
        if (typeof t.function?.name === 'string') n += textTokens(t.function.name);
      }
    }
  }
  return n;
}
