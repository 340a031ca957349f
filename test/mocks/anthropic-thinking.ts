/**
 * Extended thinking for the Anthropic mock, with the API's rules: `thinking: {type: enabled,
 * budget_tokens}` needs a budget of at least 1024 and below max_tokens, refuses temperature other
 * than 1, top_k, top_p outside 0.95..1 and a tool_choice that forces a tool (any, tool); a final
 * assistant message (a prefill) must start with a thinking block, and when the conversation ends
 * in tool results the assistant turn that made the calls must start with a thinking block whose
 * signature is the one the API gave. Answers start with a signed thinking block.
 */
import { createHash } from 'node:crypto';
import { arr, intField, obj, str } from './server.js';

/** The signature the mock gives a thinking text (and checks when it comes back). */
export function signatureOf(thinking: string): string {
  return createHash('sha256').update(`mock-thinking:${thinking}`).digest('base64');
}

/** The budget when the request enables thinking. */
export function thinkingBudget(body: Record<string, unknown>): number | undefined {
  const thinking = obj(body.thinking);
  return thinking.type === 'enabled' ? (intField(thinking.budget_tokens) ?? 0) : undefined;
}

/** The 400 message for a request that breaks a thinking rule; undefined when it keeps them. */
export function thinkingProblem(body: Record<string, unknown>): string | undefined {
  const budget = thinkingBudget(body);
  if (budget === undefined) return undefined;
  if (budget < 1024) return 'thinking.enabled.budget_tokens: Input should be greater than or equal to 1024';
  if ((intField(body.max_tokens) ?? 0) <= budget) return '`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size';
  if (body.temperature !== undefined && body.temperature !== 1) return '`temperature` may only be set to 1 when thinking is enabled. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#feature-compatibility';
  if (body.top_k !== undefined) return '`top_k` is not compatible with thinking.';
  const topP = body.top_p;
  if (typeof topP === 'number' && (topP < 0.95 || topP > 1)) return '`top_p` must be between 0.95 and 1 when thinking is enabled. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#feature-compatibility';
  const choice = str(obj(body.tool_choice).type);
  if (choice === 'any' || choice === 'tool') return 'Thinking may not be enabled when tool_choice forces tool use.';
  const messages = arr(body.messages);
  const last = obj(messages.at(-1));
  if (last.role === 'assistant') {
    const opening = obj(arr(last.content)[0]);
    if (typeof last.content === 'string' || (opening.type !== 'thinking' && opening.type !== 'redacted_thinking')) {
      return `messages.${messages.length - 1}.content.0.type: Expected \`thinking\` or \`redacted_thinking\`, but found \`${typeof last.content === 'string' ? 'text' : String(opening.type)}\`. When \`thinking\` is enabled, a final \`assistant\` message must start with a thinking block.`;
    }
  }
  const answersTools = last.role === 'user' && arr(last.content).some((b) => obj(b).type === 'tool_result');
  if (!answersTools) return undefined;
  const index = messages.findLastIndex((m) => obj(m).role === 'assistant');
  const first = obj(arr(obj(messages[index]).content)[0]);
  if (first.type !== 'thinking' && first.type !== 'redacted_thinking') {
    return `messages.${index}.content.0.type: Expected \`thinking\` or \`redacted_thinking\`, but found \`${String(first.type)}\`. When \`thinking\` is enabled, a final \`assistant\` message must start with a thinking block (preceeding the lastmost set of \`tool_use\` and \`tool_result\` blocks). We recommend you include thinking blocks from previous turns.`;
  }
  if (first.type === 'thinking' && first.signature !== signatureOf(str(first.thinking) ?? '')) return `messages.${index}.content.0: Invalid \`signature\` in \`thinking\` block`;
  return undefined;
}

/** The thinking the mock "does" before answering `text`. */
export function thoughtsAbout(text: string): string {
  return `Considering: ${text}`;
}
