/** The trace a log line is written in, for the logger's `context` (log/logger.ts). */
import { isSpanContextValid, trace } from '@opentelemetry/api';

const NO_TRACE = {};

/**
 * `trace_id` and `span_id` of the active span (OpenTelemetry's log correlation names), so a log
 * line leads to its trace; nothing without tracing, where no span is active.
 */
export function traceOfLine(): object {
  const span = trace.getActiveSpan();
  if (!span) return NO_TRACE;
  const context = span.spanContext();
  return isSpanContextValid(context) ? { trace_id: context.traceId, span_id: context.spanId } : NO_TRACE;
}
