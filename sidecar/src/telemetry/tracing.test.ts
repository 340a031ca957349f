import { createServer } from 'node:net';
import { trace } from '@opentelemetry/api';
import { expect, it } from 'vitest';
import { startTracing } from './tracing.js';

it("says in the product's log, not on the console, when spans cannot be exported", async () => {
  // A port nobody listens on: the collector is down.
  const port = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
  const warned: { reason: string; message: string }[] = [];
  // Export soon and give up soon (the SDK reads these when the exporter and processor are made).
  process.env.OTEL_BSP_SCHEDULE_DELAY = '50';
  process.env.OTEL_EXPORTER_OTLP_TIMEOUT = '500';
  const tracing = await startTracing({ serviceName: 'test', endpoint: `http://127.0.0.1:${port}`, warn: (record, message) => warned.push({ ...record, message }) });
  try {
    trace.getTracer('test').startSpan('lost').end();
    await expect.poll(() => warned.length, { timeout: 25_000 }).toBeGreaterThan(0);
    expect(warned[0]).toEqual({ message: 'OpenTelemetry: spans not exported', reason: 'connect ECONNREFUSED 127.0.0.1:' + port });
  } finally {
    delete process.env.OTEL_BSP_SCHEDULE_DELAY;
    delete process.env.OTEL_EXPORTER_OTLP_TIMEOUT;
    await tracing.shutdown();
  }
}, 30_000);
