/**
 * An OpenTelemetry collector in the test process: it takes OTLP/HTTP protobuf exports on
 * `POST /v1/traces`, decodes them with the OTLP protobuf definitions published on npm, and keeps
 * every span in a plain shape (hex ids, attributes as a record).
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
// The generated protobufjs module of the OTLP protos (opentelemetry-proto), as npm ships it.
const { opentelemetry } = require('@opentelemetry/otlp-proto-exporter-base/build/src/generated/root.js') as {
  opentelemetry: { proto: { collector: { trace: { v1: { ExportTraceServiceRequest: { decode(bytes: Uint8Array): ExportTraceServiceRequest } } } } } };
};

interface AnyValue {
  value?: string;
  stringValue?: string;
  boolValue?: boolean;
  intValue?: number | { toNumber(): number };
  doubleValue?: number;
  arrayValue?: { values: AnyValue[] };
}
interface KeyValue {
  key: string;
  value: AnyValue;
}
interface ProtoSpan {
  traceId: Uint8Array;
  spanId: Uint8Array;
  parentSpanId?: Uint8Array;
  name: string;
  kind: number;
  attributes: KeyValue[];
  events?: { name: string }[];
  links?: { traceId: Uint8Array; spanId: Uint8Array; attributes?: KeyValue[] }[];
  status?: { code?: number; message?: string };
}
interface ExportTraceServiceRequest {
  resourceSpans: { resource?: { attributes: KeyValue[] }; scopeSpans: { spans: ProtoSpan[] }[] }[];
}

export type AttributeValue = string | number | boolean | AttributeValue[];

/** A received span. */
export interface CollectedSpan {
  traceId: string;
  spanId: string;
  /** Empty for a root span. */
  parentSpanId: string;
  name: string;
  /** OTLP SpanKind: 1 internal, 2 server, 3 client. */
  kind: number;
  attributes: Record<string, AttributeValue>;
  resource: Record<string, AttributeValue>;
  events: string[];
  /** The span's links to spans of other traces. */
  links: { traceId: string; spanId: string; attributes: Record<string, AttributeValue> }[];
  /** OTLP status code: 0 unset, 1 ok, 2 error. */
  statusCode: number;
}

export interface OtlpCollector {
  /** Base URL to configure as the OTLP endpoint, e.g. http://127.0.0.1:P. */
  url: string;
  spans: CollectedSpan[];
  /** Headers of every export request. */
  requests: IncomingHttpHeaders[];
  /** Every byte received, raw, to search for text that must never leave. */
  rawBodies: Buffer[];
  /** How many spans each export request held, in order. */
  batches: number[];
  close(): Promise<void>;
}

const hex = (bytes: Uint8Array | undefined) => Buffer.from(bytes ?? []).toString('hex');

function valueOf(v: AnyValue): AttributeValue {
  // protobufjs names the member of the `value` oneof that is set.
  switch (v.value) {
    case 'intValue':
      return typeof v.intValue === 'number' ? v.intValue : v.intValue!.toNumber();
    case 'doubleValue':
      return v.doubleValue!;
    case 'boolValue':
      return v.boolValue!;
    case 'arrayValue':
      return v.arrayValue!.values.map(valueOf);
    default:
      return v.stringValue ?? '';
  }
}

const record = (attributes: KeyValue[] | undefined) => Object.fromEntries((attributes ?? []).map((a) => [a.key, valueOf(a.value)]));

/** Starts a collector on 127.0.0.1 with a free port. */
export async function startOtlpCollector(): Promise<OtlpCollector> {
  const spans: CollectedSpan[] = [];
  const requests: IncomingHttpHeaders[] = [];
  const rawBodies: Buffer[] = [];
  const batches: number[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/traces' || req.headers['content-type'] !== 'application/x-protobuf') {
        res.writeHead(404).end();
        return;
      }
      const body = Buffer.concat(chunks);
      requests.push(req.headers);
      rawBodies.push(body);
      const decoded = opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest.decode(body);
      batches.push(decoded.resourceSpans.reduce((n, rs) => n + rs.scopeSpans.reduce((m, ss) => m + ss.spans.length, 0), 0));
      for (const rs of decoded.resourceSpans) {
        const resource = record(rs.resource?.attributes);
        for (const ss of rs.scopeSpans) {
          for (const s of ss.spans) {
            spans.push({
              traceId: hex(s.traceId),
              spanId: hex(s.spanId),
              parentSpanId: hex(s.parentSpanId),
              name: s.name,
              kind: s.kind,
              attributes: record(s.attributes),
              resource,
              events: (s.events ?? []).map((e) => e.name),
              links: (s.links ?? []).map((l) => ({ traceId: hex(l.traceId), spanId: hex(l.spanId), attributes: record(l.attributes) })),
              statusCode: s.status?.code ?? 0,
            });
          }
        }
      }
      // An empty ExportTraceServiceResponse.
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    spans,
    requests,
    rawBodies,
    batches,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
