import { describe, expect, it } from 'vitest';
import { Metrics } from './metrics.js';

describe('sidecar provider gauges', () => {
  it('report breaker state and key states per provider at scrape time, never a key value', async () => {
    const metrics = new Metrics();
    metrics.watchProviders(() => [{ name: 'primary', breaker: 'open', keys: ['healthy', 'disabled', 'resting'] }]);
    const text = await metrics.registry.metrics();
    expect(text).toContain('airlock_provider_circuit_state{provider="primary",state="open"} 1');
    expect(text).toContain('airlock_provider_circuit_state{provider="primary",state="closed"} 0');
    expect(text).toContain('airlock_provider_keys{provider="primary",state="disabled"} 1');
    expect(text).toContain('airlock_provider_keys{provider="primary",state="healthy"} 1');
  });
});
