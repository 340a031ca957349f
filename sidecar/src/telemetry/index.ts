/** What the sidecar's telemetry offers the rest of Airlock (the operator shares its tracing set-up). */
export { Metrics, type ProviderState, type UsageState } from './metrics.js';
export { startTracing, type Tracing, type TracingOptions } from './tracing.js';
export { traceOfLine } from './log-trace.js';
export { registerProcessMetrics } from './process-metrics.js';
