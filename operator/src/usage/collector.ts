/**
 * The leader's usage round (ADR 0014): every interval, for each sandbox with running sidecars,
 * read each sidecar's `GET /usage` on its admin port, sum them into AgentSandbox.status.usage
 * (only when something changed) and into the spend gauge. Sidecars read the totals back from
 * `GET /usage/<namespace>/<name>` on the operator's health port (./report.ts).
 */
import type { V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { ProviderClient } from '@airlock/sidecar/upstream';
import { SidecarReport, utcDay } from '@airlock/sidecar/usage';
import { SANDBOX_LABEL, type AgentSandbox } from '../api/index.js';
import type { Caches } from '../runtime/informers.js';
import type { Kube } from '../kube/client.js';
import type { OperatorMetrics } from '../telemetry/metrics.js';
import { sharesLimits } from '../webhook/lifecycle.js';
import { ADMIN_PORT, RESERVED_CONTAINERS } from '../webhook/settings.js';
import { mergeUsage, usageChanged } from './merge.js';
import type { CredentialRejections } from './rejections.js';

export interface UsageCollectorOptions {
  caches: Caches;
  kube: Kube;
  log: Logger;
  metrics: OperatorMetrics;
  intervalMs: number;
  /** Port of the sidecars' admin API (tests run several sidecars on loopback addresses). */
  adminPort?: number;
  /** Where the sidecars' reports of refused keys go (shown on the ModelProvider's status). */
  rejections: CredentialRejections;
  /** Called with `namespace/name` of each provider whose refused-keys reports changed this round. */
  onRejectionsChanged: (providers: ReadonlySet<string>) => void;
}

/** Runs rounds while started (on the leader only). */
export class UsageCollector {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly options: UsageCollectorOptions) {}

  start(): void {
    if (this.timer) return;
    const tick = () => {
      this.running = this.round().finally(() => {
        if (this.timer) this.timer = setTimeout(tick, this.options.intervalMs);
      });
    };
    this.timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One round over every sandbox. */
  async round(): Promise<void> {
    const { caches, metrics, rejections } = this.options;
    const changed = new Set<string>();
    const spends = await Promise.all(
      caches.sandboxes.list().map((s) =>
        this.collect(s as AgentSandbox, changed).catch((err: unknown) => {
          this.options.log.warn({ sandbox: s.metadata?.name, err: String(err) }, 'usage collection failed');
          return { sandbox: s as AgentSandbox, spentUSD: (s as AgentSandbox).status?.usage?.spentUSD ?? 0 };
        }),
      ),
    );
    rejections.retain(new Set(caches.sandboxes.list().map((s) => `${s.metadata?.namespace ?? 'default'}/${s.metadata?.name}`))).forEach((p) => changed.add(p));
    // After the first round every provider can say CredentialsAccepted, not only those that changed.
    if (rejections.roundDone()) caches.providers.list().forEach((p) => changed.add(`${p.metadata?.namespace ?? 'default'}/${p.metadata?.name}`));
    if (changed.size > 0) this.options.onRejectionsChanged(changed);
    // Set all at once, so a deleted sandbox's series goes and no scrape sees a half-done round.
    metrics.sandboxSpend.reset();
    for (const { sandbox, spentUSD } of spends) metrics.sandboxSpend.set({ sandbox_namespace: sandbox.metadata.namespace ?? 'default', sandbox: sandbox.metadata.name }, spentUSD);
  }

  /** Collects one sandbox; returns its spend today. */
  private async collect(sandbox: AgentSandbox, changed: Set<string>): Promise<{ sandbox: AgentSandbox; spentUSD: number }> {
    const { caches, kube, rejections } = this.options;
    const namespace = sandbox.metadata.namespace ?? 'default';
    const name = sandbox.metadata.name;
    const pods = sandboxPods(caches.pods.list(namespace), name);
    const livePods = new Set(pods.map((p) => p.metadata!.name!));
    if (pods.length === 0 && !sandbox.status?.usage) {
      rejections.record(namespace, name, [], livePods).forEach((p) => changed.add(p));
      return { sandbox, spentUSD: 0 };
    }
    const reports = (await Promise.all(pods.map((pod) => this.read(pod)))).filter((r) => r !== undefined);
    const answered = reports.map((r) => ({ pod: r.pod, credentialsRejected: r.usage.credentialsRejected }));
    rejections.record(namespace, name, answered, livePods).forEach((p) => changed.add(p));
    const now = new Date();
    const next = mergeUsage(sandbox.status?.usage, {
      day: utcDay(now.getTime()),
      reports,
      livePods,
      sharing: pods.filter(sharesNow).length,
      dailyBudgetUSD: sandbox.spec.limits?.dailyBudgetUSD,
      now,
    });
    if (usageChanged(sandbox.status?.usage, next)) {
      await kube.patchStatus('agentsandboxes', namespace, name, { usage: next });
      // The cache sees the patch through the watch; until then the next round must not start from the old status.
      sandbox.status = { ...sandbox.status, usage: next };
    }
    return { sandbox, spentUSD: next.spentUSD };
  }

  /**
   * A running sidecar's counters, or undefined when it does not answer (it keeps its last report in
   * the status). A stopping pod is read too: while its sidecar waits for this read after SIGTERM
   * (ADR 0014) the pod is `Running`, deleted or not, its app containers ended or not (the kubelet
   * counts a running native sidecar as running for the phase).
   */
  private async read(pod: V1Pod): Promise<{ pod: string; usage: SidecarReport } | undefined> {
    const ip = pod.status?.podIP;
    if (!ip || pod.status?.phase !== 'Running') return undefined;
    try {
      const usage = await readSidecarReport(ip, this.options.adminPort ?? ADMIN_PORT);
      return usage && { pod: pod.metadata!.name!, usage };
    } catch (err) {
      this.options.log.debug({ pod: pod.metadata?.name, err: String(err) }, 'sidecar usage not readable this round');
      return undefined;
    }
  }
}

/** The pods of sandbox `name` among `pods` (of its namespace) that have not ended. */
export function sandboxPods(pods: readonly V1Pod[], name: string): V1Pod[] {
  return pods.filter((p) => p.metadata?.labels?.[SANDBOX_LABEL] === name && !['Succeeded', 'Failed'].includes(p.status?.phase ?? ''));
}

/**
 * Whether a pod takes a share of its sandbox's limits this round: its sidecar runs or is about to
 * ({@link sharesLimits}), and an app container of it runs or will run again. A pod whose app
 * containers have all ended for good (a Job's; a deleted pod's, which none restarts) makes no new
 * call; its sidecar only waits for its last read (ADR 0014), and counting it would shrink the
 * other pods' shares meanwhile. A deleted pod whose agent still runs (its grace period, or a
 * SIGTERM it ignores) still calls through its sidecar, so it still shares: left out, it had its
 * old share while the others took the whole (ver18: 8 calls admitted for 4 left).
 */
export function sharesNow(pod: V1Pod): boolean {
  if (!sharesLimits(pod)) return false;
  const restartPolicy = pod.metadata?.deletionTimestamp ? 'Never' : (pod.spec?.restartPolicy ?? 'Always');
  const apps = (pod.spec?.containers ?? []).filter((c) => !RESERVED_CONTAINERS.has(c.name));
  const ended = (name: string) => {
    const terminated = pod.status?.containerStatuses?.find((s) => s.name === name)?.state?.terminated;
    return terminated !== undefined && (restartPolicy === 'Never' || (restartPolicy === 'OnFailure' && terminated.exitCode === 0));
  };
  return apps.length === 0 || !apps.every((c) => ended(c.name));
}

/**
 * One sidecar's `GET /usage` at the pod's IP (IPv4 or IPv6, as `status.podIP` gives it);
 * undefined on any status but 200, throws when nothing answers within 2 s. Whatever answers
 * there is believed: the sidecar holds the port on every address (admin host `pod`), and the
 * firewall lets no other UID answer from it (ADR 0018).
 */
export async function readSidecarReport(podIP: string, port: number): Promise<SidecarReport | undefined> {
  const host = podIP.includes(':') ? `[${podIP}]` : podIP;
  const response = await sidecars.whole({ method: 'GET', url: `http://${host}:${port}/usage`, headers: {} }, 2_000);
  if (response.status !== 200) return undefined;
  return SidecarReport.parse(JSON.parse(response.body.toString('utf8')));
}

/** The sidecar's own HTTP client (one way to make an HTTP call), pooled across the sidecars of every sandbox. */
const sidecars = new ProviderClient({ name: 'sidecar', timeouts: { connectMs: 2_000, firstByteMs: 2_000, idleMs: 2_000 }, maxResponseBytes: 1024 * 1024 });
