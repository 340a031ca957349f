/**
 * Which sidecars report a provider that refused every key (401), learnt in the usage round
 * (ADR 0014: the leader already reads each sidecar's `GET /usage`). The ModelProvider reconciler
 * turns it into the CredentialsAccepted condition. Names only: which provider, which sandbox,
 * which pod; never a key or what the provider answered (the sidecar does not report either).
 */

/** One pod that reported the provider's keys refused. */
export interface Rejection {
  sandbox: string;
  pod: string;
}

interface PodReport {
  namespace: string;
  sandbox: string;
  providers: readonly string[];
}

/** The leader's view of rejected credentials, per pod, kept between rounds. */
export class CredentialRejections {
  private readonly pods = new Map<string, PodReport>();
  private rounds = 0;

  /**
   * Records one sandbox's round: what the pods that answered say, and which pods still exist. A
   * live pod that did not answer keeps its last report (no flapping on a slow sidecar); a gone pod
   * is forgotten. Returns the providers (`namespace/name`) whose rejections changed.
   */
  record(namespace: string, sandbox: string, answered: readonly { pod: string; credentialsRejected: readonly string[] }[], livePods: ReadonlySet<string>): Set<string> {
    const changed = new Set<string>();
    const touch = (report: PodReport | undefined) => report?.providers.forEach((p) => changed.add(`${report.namespace}/${p}`));
    for (const [key, report] of this.pods) {
      if (report.namespace !== namespace || report.sandbox !== sandbox) continue;
      const pod = key.slice(namespace.length + 1);
      if (!livePods.has(pod)) {
        touch(report);
        this.pods.delete(key);
      }
    }
    for (const { pod, credentialsRejected } of answered) {
      const key = `${namespace}/${pod}`;
      const before = this.pods.get(key);
      const next = { namespace, sandbox, providers: [...credentialsRejected].sort() };
      if (before && before.sandbox === sandbox && before.providers.join('\n') === next.providers.join('\n')) continue;
      touch(before);
      touch(next);
      if (next.providers.length > 0) this.pods.set(key, next);
      else this.pods.delete(key);
    }
    return changed;
  }

  /** Forgets the pods of sandboxes that are gone; returns the providers whose rejections changed. */
  retain(sandboxes: ReadonlySet<string>): Set<string> {
    const changed = new Set<string>();
    for (const [key, report] of this.pods) {
      if (sandboxes.has(`${report.namespace}/${report.sandbox}`)) continue;
      report.providers.forEach((p) => changed.add(`${report.namespace}/${p}`));
      this.pods.delete(key);
    }
    return changed;
  }

  /** Counts a finished round: until the first one, nothing is known. Returns whether it was the first. */
  roundDone(): boolean {
    this.rounds += 1;
    return this.rounds === 1;
  }

  /** The pods reporting the provider's keys refused, or undefined before the first round (keep what the status says). */
  forProvider(namespace: string, name: string): Rejection[] | undefined {
    if (this.rounds === 0) return undefined;
    const found: Rejection[] = [];
    for (const [key, report] of this.pods) {
      if (report.namespace === namespace && report.providers.includes(name)) found.push({ sandbox: report.sandbox, pod: key.slice(namespace.length + 1) });
    }
    return found.sort((a, b) => a.sandbox.localeCompare(b.sandbox) || a.pod.localeCompare(b.pod));
  }
}
