/**
 * A local estimate of a request's input tokens, for the answers the sidecar must give before (or
 * without) a provider counting them: `message_start.usage.input_tokens` on a translated stream,
 * and token-count endpoints whose provider has no counting API (OpenAI, Ollama).
 *
 * About four characters a token (the rule of thumb OpenAI and Anthropic both publish for English
 * text). Base64 payloads (`data`, data URLs) are skipped: an image costs the provider a fixed
 * budget, not its byte length. Keys are not counted; values are.
 */

const CHARS_PER_TOKEN = 4;
const SKIPPED_KEYS = new Set(['data', 'type', 'role', 'signature', 'cache_control']);

/** Estimated tokens of every string in a JSON value (at least 1 for a non-empty value). */
export function estimateTokens(value: unknown): number {
  let chars = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const node = stack.pop();
    if (typeof node === 'string') {
      if (!node.startsWith('data:')) chars += node.length;
    } else if (Array.isArray(node)) {
      stack.push(...(node as unknown[]));
    } else if (typeof node === 'object' && node !== null) {
      for (const [key, child] of Object.entries(node)) if (!SKIPPED_KEYS.has(key)) stack.push(child);
    }
  }
  return chars === 0 ? 0 : Math.max(1, Math.ceil(chars / CHARS_PER_TOKEN));
}
