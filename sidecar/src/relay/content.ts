/**
 * What a canonical stream chunk carries for the client: content (text, tool calls, a finish) or
 * only framing (OpenAI's role-only first chunk, what Anthropic's message_start becomes). Frames
 * without content are held back so a provider that fails right after them can still fail over.
 */

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
 * Characters of text, reasoning and tool arguments in the chunk, for a usage estimate. Reasoning
 * is billed as output: every translator writes it as `reasoning_content` (Anthropic thinking,
 * Gemini thought parts, Ollama thinking, Responses reasoning deltas), and OpenAI-compatible
 * servers pass theirs as `reasoning_content` or `reasoning` (one of them: some send both, alike).
 * Whole thinking blocks (`thinking_blocks`) repeat the text already counted and are not.
 */
export function contentChars(chunk: { choices?: readonly unknown[] }): number {
  let n = 0;
  for (const c of (chunk.choices ?? []) as ChoiceLike[]) {
    if (typeof c.text === 'string') n += c.text.length;
    const delta = c.delta;
    if (!delta) continue;
    if (typeof delta.content === 'string') n += delta.content.length;
    const reasoning = typeof delta.reasoning_content === 'string' ? delta.reasoning_content : delta.reasoning;
    if (typeof reasoning === 'string') n += reasoning.length;
    if (Array.isArray(delta.tool_calls)) {
      for (const t of delta.tool_calls as { function?: { name?: unknown; arguments?: unknown } }[]) {
        if (typeof t.function?.arguments === 'string') n += t.function.arguments.length;
        if (typeof t.function?.name === 'string') n += t.function.name.length;
      }
    }
  }
  return n;
}
