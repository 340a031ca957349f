/**
 * Lease-based leader election (coordination.k8s.io/v1), as client-go does it: the holder renews
 * the Lease every retry period; another replica takes it over once it has not been renewed for
 * leaseDuration. Updates carry the resourceVersion, so two replicas cannot both win. On a
 * graceful stop the leader releases the Lease, so a successor takes over at its next try.
 *
 * client-node has no leader election; this is small enough to own (see docs/adr).
 */
import { CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import type { Logger } from 'pino';

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationSeconds: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  onStartedLeading(): void;
  onStoppedLeading(): void;
  log: Logger;
}

export class LeaderElector {
  private readonly api: CoordinationV1Api;
  private timer: NodeJS.Timeout | undefined;
  private leading = false;
  private lastRenew = 0;
  private stopped = false;
  private attempt: Promise<void> = Promise.resolve();

  constructor(
    kubeConfig: KubeConfig,
    private readonly options: LeaderElectionOptions,
  ) {
    this.api = kubeConfig.makeApiClient(CoordinationV1Api);
  }

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    this.attempt = this.tick();
  }

  /** Stops campaigning; a leader releases the Lease so another replica takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    // An attempt waiting on the API server must not make this replica leader after it stopped.
    await this.attempt;
    if (!this.leading) return;
    this.setLeading(false);
    try {
      const lease = await this.read();
      if (lease?.spec?.holderIdentity === this.options.identity) {
        lease.spec.holderIdentity = undefined;
        lease.spec.renewTime = undefined;
        lease.spec.acquireTime = undefined;
        await this.api.replaceNamespacedLease({ namespace: this.options.namespace, name: this.options.name, body: lease });
      }
    } catch (err) {
      this.options.log.warn({ err }, 'could not release the leader lease; it will expire');
    }
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    try {
      const held = await this.tryAcquireOrRenew();
      if (this.stopped) {
        if (held) this.leading = true; // so stop() releases the Lease it just renewed
        return;
      }
      if (held) this.lastRenew = Date.now();
      if (held && !this.leading) this.setLeading(true);
      if (!held && this.leading) this.setLeading(false);
    } catch (err) {
      this.options.log.debug({ err: String(err) }, 'leader election attempt failed');
      // A leader that cannot renew within the deadline must stop acting as one.
      if (this.leading && Date.now() - this.lastRenew > this.options.renewDeadlineMs) this.setLeading(false);
    }
    if (!this.stopped) {
      this.timer = setTimeout(() => (this.attempt = this.tick()), this.options.retryPeriodMs);
      this.timer.unref();
    }
  }

  private setLeading(leading: boolean): void {
    this.leading = leading;
    this.options.log.info({ identity: this.options.identity, lease: this.options.name }, leading ? 'became leader' : 'stopped leading');
    if (leading) this.options.onStartedLeading();
    else this.options.onStoppedLeading();
  }

  private async read(): Promise<V1Lease | undefined> {
    try {
      return await this.api.readNamespacedLease({ namespace: this.options.namespace, name: this.options.name });
    } catch (err) {
      if ((err as { code?: number }).code === 404) return undefined;
      throw err;
    }
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { namespace, name, identity, leaseDurationSeconds } = this.options;
    const now = new V1MicroTime();
    const lease = await this.read();
    if (!lease) {
      await this.api.createNamespacedLease({
        namespace,
        body: { metadata: { name, namespace }, spec: { holderIdentity: identity, leaseDurationSeconds, acquireTime: now, renewTime: now, leaseTransitions: 0 } },
      });
      return true;
    }
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity;
    const renewed = spec.renewTime ? new Date(spec.renewTime).getTime() : 0;
    const expired = !holder || renewed + (spec.leaseDurationSeconds ?? leaseDurationSeconds) * 1000 < Date.now();
    if (holder !== identity && !expired) return false;
    lease.spec = {
      ...spec,
      holderIdentity: identity,
      leaseDurationSeconds,
      renewTime: now,
      acquireTime: holder === identity ? spec.acquireTime : now,
      leaseTransitions: (spec.leaseTransitions ?? 0) + (holder === identity ? 0 : 1),
    };
    // resourceVersion in metadata makes this a compare-and-swap: a conflict means someone else won.
    await this.api.replaceNamespacedLease({ namespace, name, body: lease });
    return true;
  }
}
