/**
 * Every Prometheus metric the operator exports, named in this one file. Label values are
 * bounded: kinds are the three CRDs, results and reasons fixed sets, sandboxes the cluster's own
 * AgentSandbox objects.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { registerProcessMetrics } from '@airlock/sidecar/telemetry';

/** What the scrape-time gauges read. */
export interface OperatorState {
  /** Keys waiting or running in the leader's work queue (0 on a follower). */
  queueDepth(): number;
  /** notAfter of the webhook serving certificate in use. */
  certificateNotAfter(): Date | undefined;
}

/** The operator's metrics on their own registry (served on the health port's /metrics). */
export class OperatorMetrics {
  readonly registry = new Registry();
  private state: OperatorState = { queueDepth: () => 0, certificateNotAfter: () => undefined };

  readonly reconciles = new Counter({
    name: 'airlock_operator_reconciles_total',
    help: 'Reconciles by kind and result (ok, error).',
    labelNames: ['kind', 'result'] as const,
    registers: [this.registry],
  });
  readonly reconcileDuration = new Histogram({
    name: 'airlock_operator_reconcile_duration_seconds',
    help: 'Time one reconcile took, by kind.',
    labelNames: ['kind'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly queueRetries = new Counter({
    name: 'airlock_operator_queue_retries_total',
    help: 'Keys put back on the work queue with backoff after a failed reconcile, by kind.',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly admissions = new Counter({
    name: 'airlock_operator_admission_decisions_total',
    help: 'Webhook admission decisions by operation, result (allowed, patched, denied) and reason.',
    labelNames: ['operation', 'result', 'reason'] as const,
    registers: [this.registry],
  });
  readonly admissionDuration = new Histogram({
    name: 'airlock_operator_admission_duration_seconds',
    help: 'Time the webhook took to answer an AdmissionReview.',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly leader = new Gauge({
    name: 'airlock_operator_leader',
    help: '1 while this replica is the leader.',
    registers: [this.registry],
  });
  /** Sandbox-wide spend today, summed over the sandbox's pods by the usage collector. */
  readonly sandboxSpend = new Gauge({
    name: 'airlock_operator_sandbox_spend_usd',
    help: "Each AgentSandbox's spend today (UTC) in USD, summed over all its pods.",
    labelNames: ['sandbox_namespace', 'sandbox'] as const,
    registers: [this.registry],
  });

  constructor() {
    registerProcessMetrics(this.registry);
    // Known label sets start at 0, so a dashboard's rate() sees the series before the first event.
    for (const kind of ['ModelProvider', 'MCPBackend', 'AgentSandbox']) {
      for (const result of ['ok', 'error']) this.reconciles.inc({ kind, result }, 0);
      this.queueRetries.inc({ kind }, 0);
    }
    const state = () => this.state;
    new Gauge({
      name: 'airlock_operator_queue_depth',
      help: "Keys waiting or running in the leader's work queue.",
      registers: [this.registry],
      collect() {
        this.set(state().queueDepth());
      },
    });
    new Gauge({
      name: 'airlock_operator_webhook_certificate_expiry_timestamp_seconds',
      help: 'When the webhook serving certificate in use expires (Unix seconds).',
      registers: [this.registry],
      collect() {
        const notAfter = state().certificateNotAfter();
        if (notAfter) this.set(notAfter.getTime() / 1000);
      },
    });
  }

  /** Where the scrape-time gauges read from. */
  watch(state: OperatorState): void {
    this.state = state;
  }
}
