/** Standard conditions: set one, keeping lastTransitionTime unless the status really changes. */
import type { z } from 'zod';
import type { Condition } from '../api/index.js';

export type ConditionValue = z.infer<typeof Condition>;
export type ConditionInput = { type: string; status: 'True' | 'False' | 'Unknown'; reason: string; message: string };

/** The new condition list with `next` applied; the transition time moves only when the status changes. */
export function setConditions(current: readonly ConditionValue[] | undefined, next: readonly ConditionInput[], generation: number | undefined): ConditionValue[] {
  const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  const byType = new Map((current ?? []).map((c) => [c.type, c]));
  for (const condition of next) {
    const old = byType.get(condition.type);
    byType.set(condition.type, {
      ...condition,
      message: condition.message.slice(0, 32_768),
      observedGeneration: generation,
      lastTransitionTime: old && old.status === condition.status ? old.lastTransitionTime : now,
    });
  }
  return [...byType.values()];
}

/** The condition of one type in a list (a status read or one being built), or undefined. */
export function findCondition<C extends { type: string }>(conditions: readonly C[] | undefined, type: string): C | undefined {
  return conditions?.find((c) => c.type === type);
}
