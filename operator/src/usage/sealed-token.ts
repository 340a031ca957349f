/**
 * The usage token of a credentials Secret this operator sealed (ADR 30), its seal judged once per
 * version of the Secret. The usage route asks on every request of every sidecar, the AgentSandbox
 * reconciler on every reconcile (one instance serves both: ControllerContext.sealedTokens); an
 * Ed25519 verify and a sha256 of each file every time would make a usage round, and a resync of
 * every sandbox, cost as much as the Secrets are large, for a verdict that changes only when the
 * Secret does.
 */
import type { V1Secret } from '@kubernetes/client-node';
import type { SealSubject } from '@airlock/sidecar/seal';
import { usageTokenOf } from './token.js';

/** Whether `secret` holds exactly what this operator sealed for `subject`. */
export type SealVerifier = (secret: V1Secret, subject: SealSubject) => boolean;

/** A verdict and what it was made on: one Secret object (uid), at one version, for one sandbox. */
interface Verdict {
  uid: string;
  resourceVersion: string;
  subject: string;
  token: string | undefined;
}

/**
 * Verdicts on credentials Secrets, one per Secret (namespace/name): replaced when the Secret
 * changes (a new resourceVersion, or a new object of the same name: a new uid), dropped by
 * {@link SealedTokens.forget} when it goes.
 */
export class SealedTokens {
  private readonly verdicts = new Map<string, Verdict>();

  constructor(private readonly verify: SealVerifier) {}

  /** The token `secret` holds when this operator sealed it for `subject`, else undefined. */
  tokenOf(secret: V1Secret | undefined, subject: SealSubject): string | undefined {
    const { namespace, name, uid, resourceVersion } = secret?.metadata ?? {};
    if (secret === undefined || name === undefined) return undefined;
    const judge = () => (this.verify(secret, subject) ? usageTokenOf(secret) : undefined);
    // Without both, a version cannot be told from the next: judged every time.
    if (uid === undefined || resourceVersion === undefined) return judge();
    const key = `${namespace ?? ''}/${name}`;
    const sandbox = `${subject.namespace}/${subject.sandbox}`;
    const held = this.verdicts.get(key);
    if (held?.uid === uid && held.resourceVersion === resourceVersion && held.subject === sandbox) return held.token;
    const token = judge();
    this.verdicts.set(key, { uid, resourceVersion, subject: sandbox, token });
    return token;
  }

  /** Drops the verdict on a Secret that is gone. */
  forget(secret: V1Secret): void {
    this.verdicts.delete(`${secret.metadata?.namespace ?? ''}/${secret.metadata?.name ?? ''}`);
  }

  /** How many Secrets have a verdict held. */
  get size(): number {
    return this.verdicts.size;
  }
}
