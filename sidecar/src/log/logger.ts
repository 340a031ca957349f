/**
 * The one logger configuration of Airlock, used by the sidecar and the operator: pino, JSON lines,
 * a `component` on every line, what `context` adds (the trace a line was written in:
 * telemetry/log-trace.ts), every line scrubbed of known secret values before it is written.
 */
import { pino, type DestinationStream, type Logger } from 'pino';
import type { SecretRegistry } from './redact.js';

export type { Logger } from 'pino';

export interface LoggerOptions {
  level: string;
  /** `airlock-sidecar` unless said otherwise. */
  component?: string;
  /** Secret values to scrub from every line; the sidecar registers its keys here. */
  secrets?: SecretRegistry;
  /** Where lines go; default stdout. Tests pass a capturing stream. */
  destination?: DestinationStream;
  /** Fields for each line as it is written (the active trace); none for a process without telemetry (airlock-tools). */
  context?: () => object;
}

/** Creates a logger with Airlock's configuration. */
export function createLogger(options: LoggerOptions): Logger {
  const { secrets } = options;
  return pino(
    {
      level: options.level,
      base: { component: options.component ?? 'airlock-sidecar' },
      ...(options.context ? { mixin: options.context } : {}),
      ...(secrets ? { hooks: { streamWrite: (line: string) => secrets.scrub(line) } } : {}),
      // Headers are never logged: requests to providers carry keys in them.
      serializers: { req: (req: { method?: string; url?: string }) => ({ method: req.method, url: req.url }) },
    },
    options.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}

