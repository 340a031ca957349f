/** The trace a log line is written in, for the logger's `context` (log/logger.ts). */
import { isSpanContextValid, trace } from '@opentelemetry/api';

/**
 * `trace_id` and `span_id` of the active span (OpenTelemetry's log correlation names), so a log
 * line leads to its trace; nothing without tracing, where no span is active. A new object each
 * time: pino merges the line's own fields into what this returns, so one shared empty object
 * collected the fields of every line and wrote them on every later one.
 */
export function traceOfLine(): object {
  const span = trace.getActiveSpan();
  const context = span?.spanContext();
  return context && isSpanContextValid(context) ? { trace_id: context.traceId, span_id: context.spanId } : {};
}
