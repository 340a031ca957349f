/**
 * Tracing set-up shared by the sidecar and the operator: the OpenTelemetry Node SDK exporting
 * spans over OTLP/HTTP protobuf, W3C trace context in and out. Without an endpoint nothing is
 * registered, so the OpenTelemetry API stays a no-op and spans cost nothing — and the SDK is not
 * even loaded: it is imported only when tracing is on (it adds ~70 MiB of resident memory and
 * most of a second to start-up, which every sidecar would otherwise pay).
 */
import { context, diag, DiagLogLevel, propagation, trace } from '@opentelemetry/api';
import { MAX_CONTENT_CHARS } from './content.js';

export interface TracingOptions {
  /** `service.name` of every span. */
  serviceName: string;
  /**
   * The collector's OTLP/HTTP base URL (as OTEL_EXPORTER_OTLP_ENDPOINT): spans go to
   * `<endpoint>/v1/traces`, or to the URL as given when it already ends in `/v1/traces`.
   * Tracing is off when undefined.
   */
  endpoint: string | undefined;
  /** Headers for the collector (e.g. an auth token), read on each export. */
  headers?: () => Promise<Record<string, string>>;
  /** Further resource attributes (the sandbox name, the operator's identity). */
  resource?: Record<string, string>;
  /**
   * Where the SDK's own warnings and errors go (a failed export: the collector down, refusing,
   * unreachable): one JSON line each, as `warn`, instead of the SDK's bare console output.
   */
  warn?: (record: { reason: string }, message: string) => void;
}

/** Running tracing; `shutdown` flushes what is buffered and unregisters the SDK. */
export interface Tracing {
  readonly enabled: boolean;
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

let running = 0;

/** Spans in one export request, and spans waiting for export (see `startTracing`). */
export const EXPORT_BATCH_SPANS = 128;
export const QUEUED_SPANS = 1024;

/**
 * Whether an SDK started here is registered. Without one every span, context and propagation call
 * of the OpenTelemetry API is a no-op, so the hot path can skip building them (see ./model-call.ts).
 */
export function tracingActive(): boolean {
  return running > 0;
}

const OFF: Tracing = { enabled: false, flush: async () => undefined, shutdown: async () => undefined };

/** Starts exporting spans to `options.endpoint`; returns a no-op handle when it is unset. */
export async function startTracing(options: TracingOptions): Promise<Tracing> {
  if (!options.endpoint) return OFF;
  const [{ W3CTraceContextPropagator }, { OTLPTraceExporter }, { startNodeSdk }, { BatchSpanProcessor }] = await Promise.all([
    import('@opentelemetry/core'),
    import('@opentelemetry/exporter-trace-otlp-proto'),
    import('@opentelemetry/sdk-node'),
    import('@opentelemetry/sdk-trace'),
  ]);
  const url = options.endpoint.replace(/\/+$/, '').endsWith('/v1/traces') ? options.endpoint : `${options.endpoint.replace(/\/+$/, '')}/v1/traces`;
  const exporter = new OTLPTraceExporter({ url, ...(options.headers ? { headers: options.headers } : {}) });
  // Bounded for what an agent can make a span carry (captured content, ./content.ts): a batch of
  // 128 spans, each at most three content attributes of MAX_CONTENT_CHARS, is under the 20 MiB a
  // collector takes in one request by default, and the queue (1,024 spans, not the SDK's 2,048)
  // holds at most ~100 MiB while a collector is slow; past it spans are dropped (counted in a warning).
  const processor = new BatchSpanProcessor({ exporter, maxExportBatchSize: EXPORT_BATCH_SPANS, maxQueueSize: QUEUED_SPANS });
  const sdk = startNodeSdk({
    resourceAttributes: { 'service.name': options.serviceName, ...options.resource },
    // Only what is set here: no host or process detection, no metrics or logs pipeline (Prometheus
    // serves metrics), no instrumentation of libraries (model calls and tool calls are spanned by hand).
    resourceDetectors: [],
    spanProcessors: [processor],
    // No attribute longer than the content cap, whatever sets it (OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT is overridden).
    spanLimits: { attributeValueLengthLimit: MAX_CONTENT_CHARS },
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: [],
    propagators: [new W3CTraceContextPropagator()],
  });
  // After the SDK's start, which registers a console logger of its own.
  if (options.warn) routeDiagnostics(options.warn);
  running += 1;
  return {
    enabled: true,
    flush: () => processor.forceFlush(),
    async shutdown() {
      await sdk.shutdown();
      running -= 1;
      // A later start in the same process (a test, a restart in place) registers afresh.
      trace.disable();
      propagation.disable();
      context.disable();
      diag.disable();
    },
  };
}

/** The SDK's diagnostics (export failures, dropped spans) as the product's log lines. */
function routeDiagnostics(warn: NonNullable<TracingOptions['warn']>): void {
  const say = (message: string, ...args: unknown[]) => warn({ reason: [message, ...args].map(describe).join(' ') }, 'OpenTelemetry: spans not exported');
  const quiet = () => undefined;
  diag.setLogger({ error: say, warn: say, info: quiet, debug: quiet, verbose: quiet }, { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true });
}

function describe(value: unknown): string {
  if (value instanceof Error) return value.message;
  if (typeof value === 'string') {
    // The SDK's error handler hands over an exception as its JSON (stack and all): its message is what says why.
    if (value.startsWith('{')) {
      try {
        const { message, code } = JSON.parse(value) as { message?: unknown; code?: unknown };
        if (typeof message === 'string') return typeof code === 'string' && !message.includes(code) ? `${message} (${code})` : message;
      } catch {
        return value;
      }
    }
    return value;
  }
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}
