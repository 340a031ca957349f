/**
 * Reasoning options across providers: OpenAI's `reasoning_effort` levels and exact thinking
 * budgets (Anthropic's `thinking.budget_tokens`, Gemini's `thinkingBudget`) map onto each other
 * through one table, so a request keeps the same intent whichever provider serves it.
 */
import type { ChatRequest } from '../../wire/openai.js';

/** Budget in tokens per effort level; 1024 is Anthropic's smallest budget, minimal means none. */
export const EFFORT_BUDGETS: Readonly<Record<string, number>> = { none: 0, minimal: 0, low: 1024, medium: 8192, high: 24576, xhigh: 32768 };

/** The thinking budget a canonical request asks for (0: thinking off; undefined: not asked). */
export function thinkingBudget(request: Pick<ChatRequest, 'thinking' | 'reasoning_effort'>): number | undefined {
  if (request.thinking) return request.thinking.type === 'disabled' ? 0 : (request.thinking.budget_tokens ?? EFFORT_BUDGETS.medium);
  if (request.reasoning_effort) return EFFORT_BUDGETS[request.reasoning_effort] ?? EFFORT_BUDGETS.medium;
  return undefined;
}

/** The nearest effort level for a budget (0: minimal). */
export function effortFor(budget: number): string {
  if (budget <= 0) return 'minimal';
  if (budget <= 2048) return 'low';
  if (budget <= 16384) return 'medium';
  return 'high';
}
