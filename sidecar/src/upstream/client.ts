/**
 * The one HTTP client: Node's own `http`/`https` with a keep-alive Agent per provider and
 * protocol, created when the config is loaded and reused for every call (ADR 0023: undici's
 * WebAssembly parser and modules cost ~23 MiB of an idle sidecar; Node's client ~1).
 *
 * Timeouts are the socket's idle timeout, set anew at each phase: connectMs until the connection
 * (and its TLS handshake) is up, firstByteMs from then until the response headers, idleMs between
 * body chunks. One timer per socket that Node re-arms on activity, none per chunk.
 *
 * Two ways to send: `send` for a stream (the response's IncomingMessage, an async iterable of
 * Buffers), and `json` for a whole answer, read into one Buffer from 'data' events: no stream
 * iterator, no promise per chunk. A whole answer is bounded (`maxResponseBytes`); one the caller
 * passes through untouched may instead spill: past `spillAbove` bytes of a 2xx answer, the start
 * read so far and the rest as a stream. Both are aborted through the call's CallAbort, which holds the
 * exchange in flight: no listener on an AbortSignal per request.
 *
 * Redirects are never followed (Node's client does not), 1xx answers are skipped (Node emits them
 * as 'information', not 'response'), and a request written on a kept-alive socket the provider had
 * just closed is sent again once on another connection (see {@link Exchange}).
 */
import type { Agent, ClientRequest, IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { UpstreamRequest } from '../providers/types.js';
import { classifyError, UpstreamTimeout } from './failure.js';

// By the module's CommonJS object, not an ES import: an ES import of node:http builds its facade,
// which loads Node's internal undici (ADR 0019); node:https (and TLS) loads only when a provider
// is https.
const http = process.getBuiltinModule('node:http');

export interface UpstreamResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The body, an async iterable of Buffers; destroy it to give up on the answer. */
  body: IncomingMessage;
}

/** A whole answer, read into memory. */
export interface UpstreamAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The whole body; for an answer that spilled, its start. */
  body: Buffer;
  /** An answer that spilled (larger than `spillAbove`): the rest of its body, to read or destroy. */
  rest?: IncomingMessage;
}

/** What a call's abort tells: the request in flight, set and cleared by {@link ProviderClient}. */
interface InFlight {
  abort(reason: Error): void;
}

/**
 * A call's abort (the client went away, the total deadline passed). The request in flight (and
 * then its streamed body) is told directly, without a listener on a signal; an AbortSignal (an
 * EventTarget, a few hundred bytes with its controller) is made only for what waits on one: a
 * backoff sleep, a wait for a concurrency slot, the stream out. A plain call with one attempt
 * never makes it.
 */
export class CallAbort {
  aborted = false;
  /** Why, once aborted: a DOMException named AbortError (client gone) or TimeoutError (deadline). */
  reason: Error | undefined = undefined;
  /** The request in flight (until its answer is read), set and cleared by {@link ProviderClient}. */
  inFlight: InFlight | undefined = undefined;
  private controller: AbortController | undefined = undefined;

  /** An AbortSignal that aborts with the call, made on first use. */
  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  abort(reason: Error): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.controller?.abort(reason);
    this.inFlight?.abort(reason);
  }
}

/** Sockets per provider and protocol (undici's `connections` was the same). */
const MAX_SOCKETS = 256;
/**
 * How long a free socket is kept when the provider sends no `Keep-Alive: timeout=` hint (Node's
 * Agent takes the hint minus one second when it is shorter, and does not keep the socket at all
 * when the hint is one second or less).
 */
const FREE_SOCKET_MS = 30_000;

/** A parsed provider URL, kept for the next call to the same URL. */
interface Target {
  url: string;
  secure: boolean;
  hostname: string;
  port: number;
  path: string;
  /** The Host header: host and, when not the protocol's default, port. */
  host: string;
}

/** What a client needs of a provider's config: its name (for messages) and its timeouts. */
export interface ClientOptions {
  name: string;
  timeouts: { connectMs: number; firstByteMs: number; idleMs: number };
  /** A whole answer larger than this fails (`ERR_RESPONSE_TOO_LARGE`); unlimited when unset. */
  maxResponseBytes?: number | undefined;
}

/**
 * A pool of connections to one provider (or another HTTP service: the operator's usage endpoint,
 * the operator's provider probe) and the two ways to call it.
 */
export class ProviderClient {
  private httpAgent: Agent | undefined;
  private httpsAgent: Agent | undefined;
  private closing = false;
  private last: Target | undefined;

  constructor(readonly config: ClientOptions) {}

  /**
   * Sends the request; resolves once response headers arrive, with the body to read. The call's
   * abort reaches the request, and then its body, directly (no listener on an AbortSignal).
   * Errors are classified UpstreamFailures.
   */
  send(request: UpstreamRequest, abort: CallAbort): Promise<UpstreamResponse> {
    return this.exchange(request, abort, undefined) as Promise<UpstreamResponse>;
  }

  /**
   * Sends the request and reads the whole answer, whatever its status; a 2xx answer larger than
   * `spillAbove` bytes (when given) comes back as its start and the rest (`UpstreamAnswer.rest`),
   * not bounded by `maxResponseBytes`.
   * @throws {UpstreamFailure} classified, for a connection, timeout or abort.
   */
  json(request: UpstreamRequest, abort: CallAbort, spillAbove?: number): Promise<UpstreamAnswer> {
    return this.exchange(request, abort, spillAbove ?? WHOLE) as Promise<UpstreamAnswer>;
  }

  private exchange(request: UpstreamRequest, abort: CallAbort, whole: number | undefined): Promise<UpstreamAnswer | UpstreamResponse> {
    if (abort.aborted) return Promise.reject(classifyError(abort.reason, this.config.name, 'headers'));
    return new Promise((resolve, reject) => {
      const exchange = new Exchange(this, request, abort, whole, resolve, reject);
      abort.inFlight = exchange;
      exchange.start();
    });
  }

  /**
   * A whole answer within `timeoutMs` from the start, for calls outside a model call (no
   * CallAbort of their own): a failure past it is classified 'timeout' ("the total timeout passed").
   */
  async whole(request: UpstreamRequest, timeoutMs: number): Promise<UpstreamAnswer> {
    const abort = new CallAbort();
    const timer = setTimeout(() => abort.abort(new DOMException(`no answer within ${timeoutMs} ms`, 'TimeoutError')), timeoutMs);
    try {
      return await this.json(request, abort);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The request options for `url`, and whether it is https. */
  target(url: string): Target {
    if (this.last?.url === url) return this.last;
    const parsed = new URL(url);
    const secure = parsed.protocol === 'https:';
    const target = { url, secure, hostname: parsed.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(parsed.port) || (secure ? 443 : 80), path: parsed.pathname + parsed.search, host: parsed.host };
    this.last = target;
    return target;
  }

  /** The pool for the protocol, made on first use. */
  agent(secure: boolean): Agent {
    if (secure) return (this.httpsAgent ??= this.pool(new (process.getBuiltinModule('node:https').Agent)(AGENT_OPTIONS)));
    return (this.httpAgent ??= this.pool(new http.Agent(AGENT_OPTIONS)));
  }

  private pool(agent: Agent): Agent {
    if (this.closing) agent.keepSocketAlive = () => false;
    return agent;
  }

  /** Closes idle connections now and the others once their requests finish (used when a reload replaces the provider). */
  async close(): Promise<void> {
    this.closing = true;
    const busy: Socket[] = [];
    for (const agent of [this.httpAgent, this.httpsAgent]) {
      if (!agent) continue;
      // A socket freed from now on is closed, not pooled.
      agent.keepSocketAlive = () => false;
      for (const sockets of Object.values(agent.freeSockets)) for (const socket of sockets ?? []) socket.destroy();
      for (const sockets of Object.values(agent.sockets)) for (const socket of sockets ?? []) busy.push(socket as Socket);
    }
    await Promise.all(busy.map((socket) => (socket.destroyed ? undefined : new Promise((resolve) => socket.once('close', resolve)))));
  }
}

// Node's Agent copies its options into every request's (addRequest), so only what differs from
// its defaults (maxFreeSockets 256, LIFO: the most recently used socket, the least likely to have
// been closed by the provider when idle).
const AGENT_OPTIONS = { keepAlive: true, maxSockets: MAX_SOCKETS, timeout: FREE_SOCKET_MS } as const;

/** `Exchange.whole` for an answer read whole that never spills. */
const WHOLE = Infinity;

/** Errors of a request written on a kept-alive socket that the other side had closed. */
const STALE_SOCKET_CODES = new Set(['ECONNRESET', 'EPIPE']);
/** Sends again after a stale socket at most this often (each stale socket is gone after its error). */
const MAX_RESENDS = 3;

/**
 * One request and its answer, through its phases (connect, headers, body).
 *
 * A kept-alive socket can be closed by the provider (Node servers after 5 s idle, load balancers
 * after 60 s) just as the next request is written on it: the write gets ECONNRESET or EPIPE and
 * the request never reached the provider. Such a request — on a reused socket, no byte of an
 * answer received, not aborted — is sent again on another connection, as Node's documentation
 * advises (`request.reusedSocket`); the Agent's use of the `Keep-Alive: timeout=` hint makes
 * this rare, not impossible.
 */
class Exchange implements InFlight {
  private req: ClientRequest | undefined;
  private res: IncomingMessage | undefined;
  private phase: 'connect' | 'headers' | 'body' = 'headers';
  private failure: Error | undefined;
  private resends = 0;
  private settled = false;

  constructor(
    private readonly client: ProviderClient,
    private readonly request: UpstreamRequest,
    /** The call's abort: it holds this exchange until the answer is read (or its stream closed). */
    private readonly callAbort: CallAbort,
    /**
     * A whole answer read here (json) that spills past this many bytes of a 2xx body (`WHOLE`:
     * never), or undefined for a stream handed over (send).
     */
    private readonly whole: number | undefined,
    private readonly resolve: (value: UpstreamResponse | UpstreamAnswer) => void,
    private readonly reject: (failure: Error) => void,
  ) {}

  start(): void {
    const { client, request } = this;
    const target = client.target(request.url);
    // Few options, headers as a flat list: Node copies the options three times per request and
    // validates a header object key by key through setHeader; a list goes straight to the
    // header block (still validated). A list gets no Host or Content-Length from Node: both here.
    const req = (target.secure ? process.getBuiltinModule('node:https') : http).request({
      agent: client.agent(target.secure),
      hostname: target.hostname,
      port: target.port,
      path: target.path,
      method: request.method,
      headers: headerList(request, target.host),
    });
    this.req = req;
    this.phase = 'connect';
    req.on('socket', (socket: Socket) => this.onSocket(socket, target.secure));
    req.on('response', (res: IncomingMessage) => this.onResponse(res));
    // Forwarded from the socket by Node because the Agent has a timeout (its free-socket one).
    req.on('timeout', () => this.onTimeout());
    req.on('error', (err: Error) => this.onRequestError(err));
    req.end(request.body);
  }

  private onSocket(socket: Socket, secure: boolean): void {
    const { connectMs, firstByteMs } = this.client.config.timeouts;
    if (socket.connecting) {
      // A new connection: connectMs covers TCP and, for https, the TLS handshake.
      socket.setTimeout(connectMs);
      socket.once(secure ? 'secureConnect' : 'connect', () => this.enter('headers', firstByteMs));
    } else {
      this.enter('headers', firstByteMs);
    }
  }

  private enter(phase: 'headers' | 'body', ms: number): void {
    if (this.phase === 'body') return;
    this.phase = phase;
    const socket = this.req?.socket;
    // Re-arming the timer costs a timer-list insert; firstByteMs and idleMs are often equal.
    if (socket && socket.timeout !== ms) socket.setTimeout(ms);
  }

  private onResponse(res: IncomingMessage): void {
    this.res = res;
    this.enter('body', this.client.config.timeouts.idleMs);
    const headers = res.headers as UpstreamResponse['headers'];
    const status = res.statusCode ?? 0;
    if (this.whole === undefined) {
      this.handOver(res);
      this.resolve({ status, headers, body: res });
      return;
    }
    const chunks: Buffer[] = [];
    const spill = status >= 200 && status < 300 ? this.whole : WHOLE;
    // An answer that may spill holds at most spillAbove; one that may not, maxResponseBytes.
    const max = spill === WHOLE ? this.client.config.maxResponseBytes : undefined;
    let size = 0;
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size > spill) {
        // What is left is read by the caller, as a stream's body is.
        res.pause();
        res.removeListener('data', onData);
        this.handOver(res);
        this.resolve({ status, headers, body: Buffer.concat(chunks), rest: res });
      } else if (max !== undefined && size > max) {
        this.abort(Object.assign(new Error(`response larger than ${max} bytes`), { code: 'ERR_RESPONSE_TOO_LARGE' }));
      }
    };
    res.on('data', onData);
    res.on('end', () => {
      if (this.settled) return;
      this.finish();
      this.resolve({ status, headers, body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks) });
    });
    // The connection broke mid-answer (or a timeout or abort destroyed it).
    res.on('error', (err: Error) => this.fail(err, 'body'));
  }

  /**
   * The body is the caller's to read from now on; the call's abort still reaches it until it
   * closes. An error with nobody iterating yet is not thrown.
   */
  private handOver(res: IncomingMessage): void {
    res.on('error', ignore);
    res.once('close', () => this.finish());
    this.settled = true;
  }

  private onRequestError(err: Error): void {
    // After the headers, the response reports what matters: a socket error leaves a body that
    // is not complete with an error of its own, and one that is (bytes past its content-length,
    // which Node's parser takes for a next answer and refuses) stands, its socket not reused.
    if (this.settled || this.res) return;
    const req = this.req!;
    if (!this.res && !this.failure && req.reusedSocket && this.resends < MAX_RESENDS && STALE_SOCKET_CODES.has((err as { code?: string }).code ?? '')) {
      this.resends++;
      this.start();
      return;
    }
    this.fail(err, 'headers');
  }

  private onTimeout(): void {
    const timeouts = this.client.config.timeouts;
    const error =
      this.phase === 'connect'
        ? new UpstreamTimeout('connect', timeouts.connectMs)
        : this.phase === 'headers'
          ? new UpstreamTimeout('headers', timeouts.firstByteMs)
          : new UpstreamTimeout('body', timeouts.idleMs);
    this.abort(error);
  }

  /** Ends the exchange with `reason` (an abort, a deadline or a timeout), whatever phase it is in. */
  abort(reason: Error): void {
    if (this.failure) return;
    this.failure = reason;
    // Destroying the response (when there is one) hands the relay's iterator this reason, not
    // the 'aborted' that the socket's close would give it.
    if (this.res) this.res.destroy(reason);
    else this.req?.destroy(reason);
  }

  private fail(err: Error, phase: 'headers' | 'body'): void {
    if (this.settled) return;
    this.finish();
    this.reject(classifyError(this.callAbort.reason ?? this.failure ?? err, this.client.config.name, phase));
  }

  private finish(): void {
    this.settled = true;
    if (this.callAbort.inFlight === this) this.callAbort.inFlight = undefined;
  }
}

function ignore(): void {}

/**
 * Headers the client itself sets, which say where a request goes and how it is framed: none comes
 * from a provider's or backend's configured headers. A configured Host sent a key bound to one
 * host (ADR 16) to another virtual host behind the same front end; Transfer-Encoding beside the
 * body's Content-Length made a request two front ends could split differently. The CRDs refuse
 * them (operator/src/api), and the client ignores them.
 */
export const RESERVED_HEADERS = [
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'upgrade',
  'te',
  'trailer',
  'keep-alive',
  'proxy-connection',
  'expect',
  // Routing by another name: front ends that honour them send the request (and its key) elsewhere.
  'forwarded',
  'x-forwarded-host',
  'x-original-url',
  'x-rewrite-url',
  'x-http-method-override',
] as const;
const RESERVED = new Set<string>(RESERVED_HEADERS);
const LONGEST_RESERVED = Math.max(...RESERVED_HEADERS.map((h) => h.length));

/** The request's headers as Node's flat list, with the target's Host and the body's length, none of RESERVED_HEADERS from the request. */
function headerList(request: UpstreamRequest, host: string): string[] {
  const list: string[] = ['host', host];
  for (const name in request.headers) {
    // Length first: most names are longer than any reserved one, and lower-casing each costs a string.
    if (name.length <= LONGEST_RESERVED && RESERVED.has(name.toLowerCase())) continue;
    list.push(name, request.headers[name]!);
  }
  if (request.body !== undefined) list.push('content-length', String(typeof request.body === 'string' ? Buffer.byteLength(request.body) : request.body.length));
  return list;
}

/** What {@link bodyText} keeps of an error answer: far more than any provider's error, and its message is cut to 2,000 characters anyway. */
export const MAX_ERROR_BODY_BYTES = 1024 * 1024;

/**
 * Reads the rest of a streamed answer as text (an error answer's body), or '' when it breaks:
 * its first `limit` bytes, the rest not read (the connection is closed), so a server answering
 * an error that never ends cannot grow the sidecar.
 */
export async function bodyText(body: IncomingMessage, limit = MAX_ERROR_BODY_BYTES): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      chunks.push(chunk as Buffer);
      if ((size += (chunk as Buffer).length) >= limit) {
        body.destroy();
        break;
      }
    }
  } catch {
    return '';
  }
  return Buffer.concat(chunks).subarray(0, limit).toString('utf8');
}
