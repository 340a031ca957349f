/**
 * The sidecar's side of sandbox-wide usage (ADR 0014). It asks the operator for the sandbox's
 * totals every few seconds, and from them sets this pod's share of the limits: per-minute and
 * concurrency limits split evenly between the pods, and of the budget left each pod may spend
 * its even part until the next answer. It also answers the agent's `GET /v1/usage`.
 */
import { readCredentialText } from '../config/seal.js';
import type { Logger } from '../log/logger.js';
import type { SecretRegistry } from '../log/redact.js';
import type { Limiter, SandboxShare } from '../router/limits.js';
import { ProviderClient } from '../upstream/client.js';
import { UsageLedger } from './ledger.js';
import { combine, emptyTotals, SandboxUsageReport, type UsageTotals } from './wire.js';

export interface SandboxUsageOptions {
  sandbox: string;
  /** The operator's usage URL for this sandbox and how often to ask (read at each sync, so a reload applies); undefined: this pod only knows itself. */
  endpoint: () => { url: string; intervalMs: number; tokenFile?: string | undefined } | undefined;
  /** The sandbox's limiter (it outlives config reloads). */
  limiter: () => Limiter;
  dailyBudgetUSD: () => number | undefined;
  log: Logger;
  /** Where the usage token is registered, so no log line carries it. */
  secrets: SecretRegistry;
  now?: () => number;
}

/** What `GET /v1/usage` answers. */
export interface SandboxUsageView extends UsageTotals {
  sandbox: string;
  day: string;
  dailyBudgetUSD: number | null;
  remainingUSD: number | null;
  /** Pods whose usage is in the totals (1 when this pod has not heard from the operator). */
  pods: number;
  /** Whether the totals include the other pods (false until the operator answered). */
  sandboxWide: boolean;
  /** When the operator last answered (ISO time), or null. */
  syncedAt: string | null;
  thisPod: UsageTotals;
}

/** The longest wait for the operator's answer (the first one's, whatever the interval). */
const START_WAIT_MS = 2_000;

export class SandboxUsage {
  readonly ledger: UsageLedger;
  private last: { report: SandboxUsageReport; at: number } | undefined;
  /** The sandbox's pods as the operator last counted them, whatever the day. */
  private pods: number | undefined;
  /** The share last given to the limiter. */
  private share: SandboxShare | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Whether the operator's refusal was logged since it last answered: one warning, not one per interval. */
  private refusalLogged = false;
  /** The token last read ('' for none). */
  private token = '';
  private readonly now: () => number;
  /** The operator's endpoint through the sidecar's one HTTP client (a keep-alive pool of its own). */
  private readonly client = new ProviderClient({ name: 'operator', timeouts: { connectMs: 2_000, firstByteMs: 2_000, idleMs: 2_000 }, maxResponseBytes: 1024 * 1024 });

  constructor(private readonly options: SandboxUsageOptions) {
    this.now = options.now ?? Date.now;
    this.ledger = new UsageLedger(this.now);
  }

  /** Syncs once (briefly waiting, so a restarted sidecar knows the sandbox's spend before serving) and then every interval. */
  async start(): Promise<void> {
    // Up to 2 s whatever the interval: a short interval (or a loaded node) must not have a
    // restarted sidecar serve before it knows what the sandbox spent.
    await this.sync(START_WAIT_MS);
    this.schedule();
  }

  private schedule(): void {
    this.timer = setTimeout(() => void this.sync().finally(() => this.schedule()), this.options.endpoint()?.intervalMs ?? 5_000);
    this.timer.unref();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    void this.client.close();
  }

  /** Asks the operator once (waiting up to the interval, at most 2 s, or `waitMs`) and applies the answer; false when it could not. */
  async sync(waitMs?: number): Promise<boolean> {
    const endpoint = this.options.endpoint();
    if (!endpoint) return false;
    const { url, intervalMs, tokenFile } = endpoint;
    const { log } = this.options;
    try {
      // Read at each ask: the kubelet updates the file in place when the Secret changes.
      const token = tokenFile === undefined ? undefined : await this.readToken(tokenFile);
      const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
      const request = { method: 'GET' as const, url: `${url}?instance=${encodeURIComponent(this.ledger.instance)}`, headers };
      const response = await this.client.whole(request, waitMs ?? Math.min(START_WAIT_MS, intervalMs));
      if (response.status === 401) return this.refused(url, tokenFile, token !== undefined);
      if (response.status !== 200) throw new Error(`HTTP ${response.status}`);
      const report = SandboxUsageReport.parse(JSON.parse(response.body.toString('utf8')));
      this.apply(report);
      if (this.refusalLogged) log.info({ url }, 'the operator accepts the usage token again; sandbox-wide limits resume');
      this.refusalLogged = false;
      return true;
    } catch (err) {
      log.warn({ url, reason: (err as Error).message }, 'sandbox usage unavailable; enforcing the last known share');
      return false;
    }
  }

  /** The token file's value (registered as a secret), or undefined when it cannot be read: the operator then refuses, which is logged. */
  private async readToken(file: string): Promise<string | undefined> {
    const token = await readCredentialText(file).then(
      (text) => text.trim(),
      () => '',
    );
    // Registered when it changes only: each registration rebuilds the log redactor.
    if (token !== this.token) this.options.secrets.set('usage/token', token ? [token] : []);
    this.token = token;
    return token || undefined;
  }

  /** The operator refused this sidecar (no token, or not the sandbox's): logged once until it answers again. */
  private refused(url: string, tokenFile: string | undefined, sent: boolean): false {
    if (!this.refusalLogged) {
      const why = sent ? "the token it sent is not the sandbox's" : 'it has no usage token to send';
      this.options.log.warn(
        { url, tokenFile, status: 401 },
        `the operator refused this sidecar's usage request (${why}): it enforces its last known share, and from the next UTC day its even part of the daily budget; logged once until the operator answers again`,
      );
    }
    this.refusalLogged = true;
    return false;
  }

  private apply(report: SandboxUsageReport): void {
    const own = this.ledger.snapshot();
    // The pod count is not day-bound: an answer without one (0: a day the operator has not
    // counted, as one of the previous version answered it) keeps the last, or each pod would get
    // the whole budget.
    if (report.pods > 0) this.pods = report.pods;
    const pods = this.pods ?? 1;
    if (report.day === own.day) this.last = { report, at: this.now() };
    // An answer that does not count this pod's day (of another day: the operator's clock or this
    // pod's is on the other side of midnight; or with no pods: not counted yet) says nothing of
    // what was spent on it: the share this pod holds for its day stays. Without one, the limiter
    // takes only the pod count from a share of another day (`budget / pods`, nothing spent).
    if ((report.day !== own.day || report.pods === 0) && this.share?.day === own.day) return;
    // The share is measured from the operator's last count, not from now: asking again before
    // the operator counted again gives nothing more, so the pods together never get more than
    // what was left when it counted (ADR 0014).
    const budget = this.options.dailyBudgetUSD();
    const left = budget === undefined ? Infinity : Math.max(0, budget - report.total.spentUSD);
    this.share = { day: report.day, pods, baseUSD: report.counted?.spentUSD ?? 0, allowanceUSD: left / pods };
    this.options.limiter().setShare(this.share);
  }

  /** The sandbox's usage as far as this pod knows: the operator's totals plus what it has not counted yet of this pod. */
  view(): SandboxUsageView {
    const own = this.ledger.snapshot();
    const { instance: _instance, day, ...thisPod } = own;
    const report = this.last?.report.day === day ? this.last.report : undefined;
    const total = report ? combine(report.total, combine(thisPod, report.counted ?? emptyTotals(), -1)) : thisPod;
    const budget = this.options.dailyBudgetUSD();
    return {
      sandbox: this.options.sandbox,
      day,
      ...total,
      dailyBudgetUSD: budget ?? null,
      remainingUSD: budget === undefined ? null : Math.max(0, budget - total.spentUSD),
      pods: report ? (this.pods ?? 1) : 1,
      sandboxWide: report !== undefined,
      syncedAt: this.last && report ? new Date(this.last.at).toISOString() : null,
      thisPod,
    };
  }
}
