/** What every admission check returns: the field it refuses and why. */

/** Why a pod is refused: the offending field path (as `kubectl explain` spells it) and the reason. */
export interface Refusal {
  /** e.g. `spec.containers[1].securityContext.runAsUser`. */
  path: string;
  message: string;
}

/** `path: message` for one refusal. */
export const formatRefusal = (refusal: Refusal): string => `${refusal.path}: ${refusal.message}`;
