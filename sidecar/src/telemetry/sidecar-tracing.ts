/** The sidecar's tracing from its config's `telemetry.otlp`; off when the config has none. */
import type { SidecarConfig } from '../config/schema.js';
import type { SecretRegistry } from '../log/redact.js';
import { resolveValues } from '../mcp/secrets.js';
import { startTracing, type Tracing } from './tracing.js';

/**
 * Starts tracing as the config says. Header values from files (a collector token in a Secret)
 * are read on each export, so a rotated token is picked up, and registered as secrets so no log
 * line shows them. A changed `telemetry.otlp` takes effect when the sidecar restarts.
 */
export function startSidecarTracing(config: SidecarConfig, secrets: SecretRegistry, onError: (message: string) => void, warn?: (record: { reason: string }, message: string) => void): Promise<Tracing> {
  const otlp = config.telemetry.otlp;
  if (!otlp) return startTracing({ serviceName: 'airlock-sidecar', endpoint: undefined });
  return startTracing({
    serviceName: 'airlock-sidecar',
    endpoint: otlp.endpoint,
    resource: { 'airlock.sandbox': config.sandbox.name },
    ...(warn ? { warn } : {}),
    headers: async () => {
      // Each header on its own: one that cannot be read, or is bound to another collector (the
      // operator's secret headers), is left out and said, the others still go.
      const destination = new URL(otlp.endpoint).origin;
      const values: Record<string, string> = {};
      const found: string[] = [];
      for (const header of otlp.headers) {
        try {
          const resolved = await resolveValues('otlp', 'header', [header], destination);
          Object.assign(values, resolved.values);
          found.push(...resolved.secrets);
        } catch (err) {
          // The exporter's header factory must not throw; the collector will refuse, and say so.
          onError((err as Error).message);
        }
      }
      secrets.set('telemetry/otlp', found);
      return values;
    },
  });
}
