/**
 * The operator's spans: one per reconcile and one per admission decision. They name objects
 * (kind, namespace, name) and decisions, never a Secret's content. No-ops while tracing is off.
 */
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Span } from '@opentelemetry/api';

const tracer = () => trace.getTracer('airlock-operator');

/** Runs `fn` in a span `name`; the span records a thrown error's type and ends with `fn`. */
export async function inSpan<T>(name: string, attributes: Attributes, fn: (span: Span) => Promise<T>, options: { kind?: SpanKind; headers?: Record<string, string | string[] | undefined> } = {}): Promise<T> {
  // The API server sends a traceparent to webhooks when its own tracing is on.
  const parent = options.headers ? propagation.extract(ROOT_CONTEXT, options.headers) : context.active();
  return tracer().startActiveSpan(name, { kind: options.kind ?? SpanKind.INTERNAL, attributes }, parent, async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      span.setAttribute('error.type', (err as Error).name || 'Error');
      span.setStatus({ code: SpanStatusCode.ERROR });
      throw err;
    } finally {
      span.end();
    }
  });
}

/** Attributes of a reconciled object. */
export function objectAttributes(kind: string, namespace: string, name: string): Attributes {
  return { 'k8s.namespace.name': namespace, 'airlock.kind': kind, 'airlock.name': name };
}
