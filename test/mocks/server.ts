/**
 * The shared core of the provider mocks: a node:http server on 127.0.0.1 that records each
 * request, takes the next scripted step, applies the step's faults (latency, resets, stalls,
 * error statuses, broken JSON, mid-stream errors) and writes what the provider spec rendered.
 * A provider is data plus pure render functions ({@link ProviderSpec}); nothing here knows a
 * wire format beyond "a body" and "a list of frames".
 */
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import type { MockKind, MockOptions, MockProvider, MockStep, RecordedRequest } from './types.js';

/** A complete response body. */
export interface BodyReply {
  type: 'body';
  status: number;
  contentType: string;
  body: string;
  headers?: Record<string, string>;
}

/** A streamed response: frames written one by one. */
export interface StreamReply {
  type: 'stream';
  contentType: string;
  headers?: Record<string, string>;
  /** Complete wire frames, terminators included (`data: ...\n\n`, NDJSON lines, `[DONE]`). */
  frames: string[];
  /** A frame carrying an error in this stream's format, after which the stream ends (status undefined: the provider's usual one). */
  errorFrame(status: number | undefined, message: string | undefined): string;
  /** A frame whose JSON is cut off. */
  malformedFrame: string;
}

/** What a route answers. */
export type Reply = BodyReply | StreamReply;

/** What a route sees of a request. */
export interface RouteContext {
  method: string;
  url: URL;
  headers: IncomingHttpHeaders;
  body: unknown;
  step: MockStep;
  models: readonly string[];
}

/** A provider: how it authenticates, how it shapes errors, and how it answers its routes. */
export interface ProviderSpec {
  /** Path appended to the origin for the base URL (`/v1` for OpenAI). */
  basePath: string;
  defaultModels: string[];
  /** An error reply when the request's credentials are refused; `keys` undefined means no key check. */
  authenticate(headers: IncomingHttpHeaders, url: URL, keys: ReadonlySet<string> | undefined): BodyReply | undefined;
  /** The provider's error response for a status. */
  error(status: number, message?: string): BodyReply;
  /** The provider's answer to a body that is not JSON. */
  invalidJson(): BodyReply;
  /** Answers a request (404 in the provider's shape when no route matches). */
  route(ctx: RouteContext): Reply;
}

/** A JSON body reply. `space` pretty-prints (Google APIs do). */
export function json(status: number, value: unknown, contentType = 'application/json', space?: number): BodyReply {
  return { type: 'body', status, contentType, body: JSON.stringify(value, null, space) };
}

/** Reads a positive integer from an untyped request field. */
export function intField(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? Math.floor(value) : undefined;
}

/** Reads an object field of an untyped value. */
export function obj(value: unknown): Record<string, unknown> {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

/** Reads an array field of an untyped value. */
export function arr(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** Reads a string field of an untyped value. */
export function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** Tool input schemas by tool name, from tool objects carrying `name` and the schema under `field`. */
export function schemasByName(tools: Record<string, unknown>[], field: string): Record<string, unknown> {
  return Object.fromEntries(tools.flatMap((t) => (typeof t.name === 'string' ? [[t.name, t[field]]] : [])));
}

/** Stop sequences given as a string or a list. */
export function stopList(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  return arr(value).filter((s): s is string => typeof s === 'string');
}

interface Exchange {
  res: ServerResponse;
  socket: Socket;
  signal: AbortSignal;
  /** Marks the coming connection close as the mock's own doing. */
  closingByMock(): void;
}

/** Starts a mock server for a provider spec. */
export async function startServer(kind: MockKind, spec: ProviderSpec, options: MockOptions = {}): Promise<MockProvider> {
  const keys = options.keys ? new Set(options.keys) : undefined;
  const models = options.models ?? spec.defaultModels;
  const received: RecordedRequest[] = [];
  const queue: MockStep[] = [];
  let fallback: MockStep = {};
  let waiters: Array<() => void> = [];
  let closing = false;

  const server = createServer({ keepAliveTimeout: 5_000, requestTimeout: 0 }, (req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`mock failure: ${String(err)}`);
      } else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const controller = new AbortController();
    let mockClosed = false;
    let settle!: () => void;
    const record: RecordedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: req.headers,
      body: undefined,
      rawBody: '',
      aborted: false,
      settled: new Promise<void>((resolve) => (settle = resolve)),
    };
    // Listen before reading the body so that no early close goes unseen.
    res.once('close', () => {
      if (!res.writableFinished && !mockClosed && !closing) record.aborted = true;
      controller.abort();
      settle();
    });

    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    record.rawBody = Buffer.concat(chunks).toString('utf8');
    let badJson = false;
    if (record.rawBody.length > 0) {
      try {
        record.body = JSON.parse(record.rawBody);
      } catch {
        badJson = true;
      }
    }
    const { body } = record;
    const step = queue.shift() ?? fallback;
    received.push(record);
    const ready = waiters;
    waiters = [];
    ready.forEach((wake) => wake());

    const ex: Exchange = { res, socket: req.socket, signal: controller.signal, closingByMock: () => (mockClosed = true) };
    if (step.latencyMs && !(await sleep(step.latencyMs, ex.signal))) return;
    if (step.resetBeforeHeaders) {
      ex.closingByMock();
      ex.socket.resetAndDestroy();
      return;
    }
    const reply =
      spec.authenticate(req.headers, url, keys) ??
      (step.status !== undefined ? spec.error(step.status, step.errorMessage) : undefined) ??
      (badJson ? spec.invalidJson() : undefined) ??
      spec.route({ method: record.method, url, headers: req.headers, body, step, models });

    const headers: Record<string, string> = { ...reply.headers, ...step.headers };
    if (step.retryAfter !== undefined) headers['retry-after'] = String(step.retryAfter);
    if (reply.type === 'body') sendBody(ex, reply, step, headers);
    else await sendStream(ex, reply, step, headers);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: options.host ?? '127.0.0.1', port: 0, backlog: 4096 }, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const origin = `http://${options.host ?? '127.0.0.1'}:${port}`;

  return {
    kind,
    url: origin + spec.basePath,
    origin,
    port,
    received,
    script: (...steps) => void queue.push(...steps),
    setDefault: (step) => void (fallback = step),
    reset() {
      received.length = 0;
      queue.length = 0;
      fallback = {};
    },
    waitForRequests(count) {
      return new Promise((resolve) => {
        const check = () => (received.length >= count ? resolve(received.slice()) : waiters.push(check));
        check();
      });
    },
    async close() {
      closing = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}

/** Waits; false when the client went away first. */
async function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  try {
    await delay(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}

/** Ends the connection after what was written so far (FIN, not RST: the written bytes arrive). */
function closeAfterWrites(ex: Exchange): void {
  ex.closingByMock();
  ex.socket.end(() => ex.socket.destroy());
}

function sendBody(ex: Exchange, reply: BodyReply, step: MockStep, headers: Record<string, string>): void {
  const { res } = ex;
  let body = reply.body;
  if (step.malformedJson && reply.status < 300) body = body.slice(0, Math.floor(body.length / 2));
  const bytes = Buffer.from(body, 'utf8');
  res.writeHead(reply.status, { ...headers, 'content-type': reply.contentType, 'content-length': String(bytes.length) });
  const cutAt = step.resetAfterChunks ?? step.stallAfterChunks;
  if (cutAt === undefined) {
    res.end(bytes);
    return;
  }
  if (cutAt >= 1) res.write(bytes.subarray(0, Math.floor(bytes.length / 2)));
  else res.flushHeaders();
  if (step.resetAfterChunks !== undefined) closeAfterWrites(ex);
}

async function sendStream(ex: Exchange, reply: StreamReply, step: MockStep, headers: Record<string, string>): Promise<void> {
  const { res } = ex;
  const frames = [...reply.frames];
  if (step.malformedJson) frames.splice(Math.min(1, frames.length), 0, reply.malformedFrame);
  const clamp = (n: number | undefined) => (n === undefined ? undefined : Math.min(Math.max(0, n), frames.length));
  const resetAt = clamp(step.resetAfterChunks);
  const stallAt = clamp(step.stallAfterChunks);
  const midError = step.midStreamError === true ? {} : step.midStreamError;
  const errorAt = midError ? clamp(midError.afterChunks ?? 2) : undefined;

  res.writeHead(200, { ...headers, 'content-type': reply.contentType, 'cache-control': 'no-cache' });
  res.flushHeaders();
  for (let i = 0; ; i++) {
    if (ex.signal.aborted) return;
    if (i === resetAt) return closeAfterWrites(ex);
    if (i === stallAt) return;
    if (i === errorAt && midError) {
      res.end(reply.errorFrame(midError.status, midError.message));
      return;
    }
    const frame = frames[i];
    if (frame === undefined) break;
    if (i > 0 && step.chunkDelayMs && !(await sleep(step.chunkDelayMs, ex.signal))) return;
    if (!res.write(frame)) await drained(res);
  }
  res.end();
}

function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/**
 * What OpenAI answers to a schema sent with `strict: true` that strict mode does not take
 * (platform.openai.com, Structured Outputs, "Supported schemas"), in its words: `In context=(...),
 * <rule>`; undefined when it takes the schema. Written here from the documentation, not from the
 * sidecar's check, so that the two can disagree.
 */
export function strictSchemaProblem(schema: unknown): string | undefined {
  const root = obj(schema);
  if (root.type !== 'object') return "In context=(), schema must be a JSON Schema of 'type: \"object\"', got 'type: \"" + String(root.type) + "\"'.";
  // The structural rules only: which keywords strict mode takes has changed over time (the AI SDK
  // sends `$schema`, and OpenAI takes it), so the mock refuses none.
  const walk = (node: Record<string, unknown>, context: string[]): string | undefined => {
    const where = `In context=(${context.map((c) => `'${c}'`).join(', ')})`;
    if (node.type === 'object' || node.properties !== undefined) {
      if (node.additionalProperties !== false) return `${where}, 'additionalProperties' is required to be supplied and to be false.`;
      const required = arr(node.required);
      const missing = Object.keys(obj(node.properties)).filter((k) => !required.includes(k));
      if (missing.length) return `${where}, 'required' is required to be supplied and to be an array including every key in properties. Missing '${missing[0]}'.`;
      for (const [name, value] of Object.entries(obj(node.properties))) {
        const problem = walk(obj(value), [...context, 'properties', name]);
        if (problem) return problem;
      }
    }
    if (node.items !== undefined) return walk(obj(node.items), [...context, 'items']);
    for (const [i, branch] of arr(node.anyOf).entries()) {
      const problem = walk(obj(branch), [...context, 'anyOf', String(i)]);
      if (problem) return problem;
    }
    for (const section of ['$defs', 'definitions']) {
      for (const [name, value] of Object.entries(obj(node[section]))) {
        const problem = walk(obj(value), [...context, section, name]);
        if (problem) return problem;
      }
    }
    return undefined;
  };
  return walk(root, []);
}
