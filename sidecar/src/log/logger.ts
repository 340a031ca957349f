/**
 * The one logger configuration of Airlock, used by the sidecar and the operator: pino, JSON lines,
 * a `component` on every line, the trace it was written in (`trace_id`, `span_id`, as OpenTelemetry's
 * log correlation names them) when there is one, every line scrubbed of known secret values before
 * it is written.
 */
import { isSpanContextValid, trace } from '@opentelemetry/api';
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
}

/** Creates a logger with Airlock's configuration. */
export function createLogger(options: LoggerOptions): Logger {
  const { secrets } = options;
  return pino(
    {
      level: options.level,
      base: { component: options.component ?? 'airlock-sidecar' },
      mixin: traceOfLine,
      ...(secrets ? { hooks: { streamWrite: (line: string) => secrets.scrub(line) } } : {}),
      // Headers are never logged: requests to providers carry keys in them.
      serializers: { req: (req: { method?: string; url?: string }) => ({ method: req.method, url: req.url }) },
    },
    options.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}

const NO_TRACE = {};

/** The active trace of a line written inside a traced call or request; nothing without tracing (no span is active then). */
function traceOfLine(): object {
  const span = trace.getActiveSpan();
  if (!span) return NO_TRACE;
  const context = span.spanContext();
  return isSpanContextValid(context) ? { trace_id: context.traceId, span_id: context.spanId } : NO_TRACE;
}
