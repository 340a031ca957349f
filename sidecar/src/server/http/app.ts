/**
 * An HTTP app on `node:http`: a {@link Router}, what happens around each route (a check before
 * routing, the body read with its limit, the not-found answer), and the server's lifecycle (the
 * timeouts fastify set, 503 while closing, in-flight requests finishing). What each answer looks
 * like is the caller's: the agent-facing app answers in the client's API, the admin and the
 * operator's servers in their own shapes.
 */
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { ListenOptions, Socket } from 'node:net';
import { HttpError, readBody } from './read-body.js';
import { BODY_METHODS, Router, splitTarget, type ErrorHandler, type HttpRequest, type Route } from './router.js';
import { writeJson } from './reply.js';
import { progressOf, StalledReaders, type Connections } from './stalled-readers.js';

export interface HttpAppOptions {
  /** Largest body read (413 past it). */
  bodyLimit: number;
  /** A target that cannot be decoded (bad percent escape): answer 400. */
  badTarget(request: HttpRequest, res: ServerResponse): void;
  /** No route for the method and path. */
  notFound(request: HttpRequest, res: ServerResponse): void;
  /** A request that arrives while the server closes (the connection is closed after it). */
  closing(request: HttpRequest, res: ServerResponse): void;
  /** Before routing; true when it answered the request itself (a refusal). */
  before?: ((request: HttpRequest, res: ServerResponse) => boolean) | undefined;
  /** Before a body is read; false when it answered the request itself (a refusal). */
  admit?: ((request: HttpRequest, res: ServerResponse) => boolean) | undefined;
  /** Requests Node's HTTP parser refuses; by default Node answers 400 or 431 with no body. */
  clientError?: ((err: Error & { code?: string }, socket: Socket) => void) | undefined;
  /** A request with an `Expect` other than 100-continue: answer 417 (default: a JSON 417 of no API's shape). */
  expectationFailed?: ((request: HttpRequest, res: ServerResponse) => void) | undefined;
  /** Connections held at once; past it a new one is closed at once (./connection-limit.ts). Unset: no bound. */
  maxConnections?: number | undefined;
  /** Close connections whose client leaves written bytes unread this long (./stalled-readers.ts). Unset: never. */
  stalledReaderMs?: number | undefined;
}

/**
 * No idle timeout on a connection in use (a stream lasts as long as the provider's totalMs
 * allows), and idle keep-alive connections kept 72 s, longer than the 60 s idle timeout common in
 * clients and proxies, so the server is not the one to close a connection a client is about to
 * reuse (fastify's defaults). The request itself — headers and body, not the answer — must arrive
 * in time: headers within 60 s, the whole request within 120 s (Node counts until the body is
 * received; a stream answering it is not cut). fastify set requestTimeout 0, which also turned the
 * headers timeout off: a connection that sent nothing, its headers a byte at a time, or a body
 * never finished (holding its share of listen.maxBodyBytesInFlight) was held for ever.
 * A request without Host is the app's to judge (node:http answered it 400 with no body, in no
 * client's shape): the loopback guard refuses it in the client's API, the socket has no use for it.
 */
const SERVER_OPTIONS = { requestTimeout: 120_000, keepAliveTimeout: 72_000, headersTimeout: 60_000, requireHostHeader: false };

export class HttpApp {
  readonly router = new Router();
  private httpServer: Server | undefined;
  private closingDown = false;
  /**
   * The connections of the app's own server, the one registry of them: closing reaps them
   * ({@link reap}), and the stalled-reader watch reads their progress (./stalled-readers.ts). Per
   * connection, not per request: nothing is added to a call's path.
   */
  private readonly connections: Connections = new Map();

  constructor(private readonly options: HttpAppOptions) {}

  /** The app's own `node:http` server, made on first use (the operator's webhook serves {@link handle} over HTTPS instead). */
  get server(): Server {
    if (this.httpServer) return this.httpServer;
    const server = createServer(SERVER_OPTIONS, (req, res) => this.handle(req, res));
    // Node answers `Expect: 100-continue` with 100 before the app sees the request, and any other
    // Expect with a bodiless 417: the app decides instead, so a body it will refuse (too large,
    // over the budget, a foreign Host) is not invited, and every answer is in its API's shape.
    server.on('checkContinue', (req, res) => this.handle(req, res, 'continue'));
    server.on('checkExpectation', (req, res) => this.handle(req, res, 'other'));
    server.setTimeout(0);
    const stalled = this.options.stalledReaderMs !== undefined ? new StalledReaders(this.connections, this.options.stalledReaderMs) : undefined;
    server.on('connection', (socket: Socket) => {
      this.connections.set(socket, progressOf(socket));
      stalled?.opened();
      socket.once('close', () => {
        this.connections.delete(socket);
        stalled?.closed();
      });
    });
    if (stalled) server.once('close', () => stalled.stop());
    if (this.options.maxConnections !== undefined) server.maxConnections = this.options.maxConnections;
    if (this.options.clientError) server.on('clientError', this.options.clientError);
    return (this.httpServer = server);
  }

  /** Starts listening (a Unix socket path or a host and port). */
  listen(options: ListenOptions): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(options, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
  }

  /** Where the server listens. */
  address(): { address: string; port: number } {
    return this.server.address() as { address: string; port: number };
  }

  /**
   * Stops accepting connections and resolves once the requests in flight have finished (streams
   * included). Meanwhile a new request on an open connection gets the `closing` answer, and a
   * connection is closed as soon as no request is being answered on it.
   */
  close(): Promise<void> {
    this.closingDown = true;
    const server = this.httpServer;
    if (!server?.listening) return Promise.resolve();
    const since = performance.now();
    return new Promise((resolve) => {
      this.reap(server, since);
      const reaper = setInterval(() => this.reap(server, since), 50);
      server.close(() => {
        clearInterval(reaper);
        resolve();
      });
    });
  }

  /**
   * Closes the connections that hold a closing server for nothing: those with no request being
   * answered, and those whose request's body has not all come within the request timeout of
   * `since` (when closing began).
   * `server.closeIdleConnections()` is not enough: Node counts a connection that has sent nothing,
   * or only part of its headers, as busy (so its header timeout applies), and stops its header and
   * request timeouts once the server closes. One such connection (an HTTP client's spare one, or
   * the agent's, on purpose) held a SIGTERM'd sidecar until the kubelet killed it, its last
   * `/usage` never read.
   */
  private reap(server: Server, since: number): void {
    const late = server.requestTimeout > 0 && performance.now() - since >= server.requestTimeout;
    for (const socket of this.connections.keys()) {
      // The answer under way on the connection (node:http's own field; none between requests).
      const answer = (socket as { _httpMessage?: { req?: IncomingMessage } | null })._httpMessage;
      if (!answer || (late && answer.req?.complete === false)) socket.destroy();
    }
  }

  /**
   * Serves one request (the app's own server calls this; another server may too). `expect`: the
   * request came with `Expect: 100-continue` (`continue`) or another expectation (`other`).
   */
  handle(req: IncomingMessage, res: ServerResponse, expect?: 'continue' | 'other'): void {
    const url = req.url ?? '/';
    let target: ReturnType<typeof splitTarget> | undefined;
    let bad = false;
    try {
      target = splitTarget(url);
    } catch {
      bad = true;
    }
    const rawPath = target?.rawPath ?? url.split('?')[0]!;
    const request: HttpRequest = { raw: req, method: req.method ?? 'GET', url, rawPath, path: target?.path ?? rawPath, query: target?.query ?? '', params: {}, headers: req.headers, body: undefined };
    if (target?.authority !== undefined) request.authority = target.authority;
    const options = this.options;
    // Pipelined behind an answer that closes the connection: this request's answer could never
    // be written, so nothing is done for it (a model call was sent to the provider, and counted,
    // for a client that could not get the answer).
    if (closing.has(req.socket) || !req.socket.writable) return;
    if (this.closingDown) {
      closeAfter(req, res);
      return options.closing(request, res);
    }
    if (options.before?.(request, res)) return;
    if (expect === 'other') {
      closeAfter(req, res);
      if (options.expectationFailed) return options.expectationFailed(request, res);
      return writeJson(res, 417, { error: 'Expectation Failed' }, JSON_UTF8);
    }
    if (bad) return options.badTarget(request, res);
    const found = this.router.find(request.method, request.path);
    if (!found) return options.notFound(request, res);
    request.params = found.params;
    const route = found.route;
    if (!(route.body ?? BODY_METHODS.has(request.method))) return run(route, request, res);
    if (options.admit && !options.admit(request, res)) return;
    const done = (err: Error | undefined, body?: Buffer | string) => {
      if (err === undefined) {
        if (closing.has(req.socket)) return;
        request.body = body;
        return run(route, request, res);
      }
      // The client hung up before its body was read: nobody to answer, and nothing went wrong
      // here (each hang-up was an "unhandled error" with a stack, so any client could fill the
      // error log: operator/src/webhook/body-attacks.test.ts).
      if (req.destroyed && !(err instanceof HttpError)) return;
      // The rest of the body is not read: the connection cannot carry another request.
      closeAfter(req, res);
      fail(route, err, request, res);
    };
    readBody(req, options.bodyLimit, done, expect === 'continue' ? () => res.writeContinue() : undefined);
  }
}

/** Connections whose answer under way closes them ({@link closeAfter}). */
const closing = new WeakSet<Socket>();

/** Answers `req` with `Connection: close`; requests pipelined behind it are not served. */
function closeAfter(req: IncomingMessage, res: ServerResponse): void {
  res.setHeader('connection', 'close');
  closing.add(req.socket);
}

/** Runs a route's handler and answers with what it returns, or through its error handler with what it throws. */
function run(route: Route, request: HttpRequest, res: ServerResponse): void {
  let result: unknown;
  try {
    result = route.handler(request, res);
  } catch (err) {
    return fail(route, err, request, res);
  }
  if (result instanceof Promise) {
    result.then(
      (value: unknown) => answer(value, res),
      (err: unknown) => fail(route, err, request, res),
    );
  } else answer(result, res);
}

function answer(value: unknown, res: ServerResponse): void {
  if (value !== undefined && !res.headersSent) writeJson(res, 200, value, JSON_UTF8);
}

function fail(route: Route, err: unknown, request: HttpRequest, res: ServerResponse): void {
  // A response already under way (a stream) cannot change its status: end it.
  if (res.headersSent) return void res.end();
  route.onError(err, request, res);
}

/** The content type of the answers the app writes itself, as fastify wrote them. */
export const JSON_UTF8 = { 'content-type': 'application/json; charset=utf-8' };

/**
 * The not-found, bad-target and closing answers of a server whose clients are programs of the
 * product's own or Kubernetes' (the admin port, the operator's ports): the `{message, error,
 * statusCode}` shape fastify gave them, which those clients have seen.
 */
export const PLAIN_ANSWERS: Pick<HttpAppOptions, 'notFound' | 'badTarget' | 'closing'> = {
  notFound: (request, res) => writeJson(res, 404, { message: `Route ${request.method}:${request.url} not found`, error: 'Not Found', statusCode: 404 }, JSON_UTF8),
  badTarget: (request, res) => writeJson(res, 400, { error: 'Bad Request', code: 'FST_ERR_BAD_URL', message: `'${request.url}' is not a valid url component`, statusCode: 400 }),
  closing: (_request, res) => writeJson(res, 503, { error: 'Service Unavailable', message: 'Service Unavailable', statusCode: 503 }),
};

/**
 * The error answers of such a server: a body refused before its route ran (too large, not JSON) with
 * its status, 413 or 415, in the same plain shape, as fastify answered it (the operator's webhook
 * answered a 9 MiB body with a 500 and an "unhandled error" log until a test sent one,
 * operator/src/webhook/body-attacks.test.ts); anything else a route throws is a 500, logged and
 * never shown.
 */
export function plainError(log: { error(details: object, message: string): void }): ErrorHandler {
  return (err, _request, res) => {
    if (err instanceof HttpError) {
      return writeJson(res, err.status, { error: STATUS_CODES[err.status], message: err.message, statusCode: err.status }, JSON_UTF8);
    }
    log.error({ err }, 'unhandled error');
    writeJson(res, 500, { error: 'Internal Server Error', message: 'internal error', statusCode: 500 }, JSON_UTF8);
  };
}
