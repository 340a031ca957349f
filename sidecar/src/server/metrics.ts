/** Prometheus metrics of the sidecar, on its own registry (served on the admin port only). */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export class Metrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'airlock_model_requests_total',
    help: 'Model API requests by ingress API, provider, model and outcome status.',
    labelNames: ['api', 'provider', 'model', 'status'] as const,
    registers: [this.registry],
  });
  readonly duration = new Histogram({
    name: 'airlock_model_request_duration_seconds',
    help: 'Time from request to the end of the response, by ingress API and provider.',
    labelNames: ['api', 'provider'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [this.registry],
  });
  readonly attempts = new Counter({
    name: 'airlock_provider_attempts_total',
    help: 'Attempts sent to providers, by provider and result (ok, or the failure kind).',
    labelNames: ['provider', 'result'] as const,
    registers: [this.registry],
  });
  readonly tokens = new Counter({
    name: 'airlock_tokens_total',
    help: 'Tokens used, by provider, model and direction (input, output).',
    labelNames: ['provider', 'model', 'direction'] as const,
    registers: [this.registry],
  });
  readonly cost = new Counter({
    name: 'airlock_cost_usd_total',
    help: 'Spend in USD from the configured model prices, by provider and model.',
    labelNames: ['provider', 'model'] as const,
    registers: [this.registry],
  });
  readonly inFlight = new Gauge({
    name: 'airlock_model_requests_in_flight',
    help: 'Model API requests being served.',
    registers: [this.registry],
  });
  readonly configReloads = new Counter({
    name: 'airlock_config_reloads_total',
    help: 'Config reloads by result (applied, rejected).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
}
