/**
 * The one HTTP client: a pool of kept-alive connections per provider and protocol, created when
 * the config is loaded and reused for every call; each answer parsed by Node's own HTTP parser
 * (./connection.ts; ADR 0028: Node's ClientRequest and Agent cost half of the sidecar's CPU per
 * call; ADR 0023: undici's WebAssembly parser and modules ~23 MiB of an idle sidecar).
 *
 * Timeouts are the socket's idle timeout, set anew at each phase: connectMs until the connection
 * (and its TLS handshake) is up, firstByteMs from then until the response headers (a deadline:
 * bytes that do not complete the head shorten the timer to what is left), idleMs between body
 * chunks. One timer per socket that Node re-arms on activity, none per chunk.
 *
 * Two ways to send: `send` for a stream (a Readable of the body's Buffers), and `json` for a whole
 * answer, read into one Buffer as it comes: no stream, no promise per chunk. A whole answer is
 * bounded (`maxResponseBytes`); one the caller passes through untouched may instead spill: past
 * `spillAbove` bytes of a 2xx answer, the start read so far and the rest as a stream. Both are
 * aborted through the call's CallAbort, which holds the exchange in flight: no listener on an
 * AbortSignal per request.
 *
 * Redirects are never followed, 1xx answers are skipped, and a request written on a kept-alive
 * connection the provider had just closed is sent again on another one (see {@link Exchange}).
 */
import { Readable } from 'node:stream';
import type { UpstreamRequest } from '../providers/types.js';
import { type Connection, hasInvalidChar, isToken, Pool, type Receiver, type Waiter } from './connection.js';
import type { AnswerBudget } from './answer-budget.js';
import { classifyError, UpstreamTimeout } from './failure.js';

export interface UpstreamResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The body, an async iterable of Buffers; destroy it to give up on the answer. */
  body: UpstreamBody;
}

/** A whole answer, read into memory. */
export interface UpstreamAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The whole body; for an answer that spilled, its start. */
  body: Buffer;
  /** An answer that spilled (larger than `spillAbove`): the rest of its body, to read or destroy. */
  rest?: UpstreamBody;
  /**
   * Bytes of `body` counted against the client's AnswerBudget: released by whoever gives the body
   * to its client, once the client has it (relay/sink.ts keepUntilDone), or drops it
   * ({@link ProviderClient.release}).
   */
  held: number;
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
  /**
   * Set by {@link ProviderClient} once a request of the call went out on an open connection (the
   * provider may have it whole); its caller clears it before each attempt. A request given up
   * before that (waiting for a connection, connecting) cost the provider nothing.
   */
  written = false;
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

/** Connections per provider and protocol (undici's `connections` and Node's Agent's `maxSockets` were the same). */
const MAX_CONNECTIONS = 256;
/**
 * How long a free connection is kept when the provider sends no `Keep-Alive: timeout=` hint (the
 * hint minus one second when it is shorter, and not at all when the hint is one second or less).
 */
const FREE_CONNECTION_MS = 30_000;

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
  /** What answers read whole may hold at once, across this client and others (./answer-budget.ts); unbounded when unset. */
  answers?: AnswerBudget | undefined;
}

/**
 * A pool of connections to one provider (or another HTTP service: the operator's usage endpoint,
 * the operator's provider probe) and the two ways to call it.
 */
export class ProviderClient {
  /** A pool per origin (a provider has one; the operator's probe calls several through one client). */
  private readonly pools = new Map<string, Pool>();
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

  /** The pool for the target's origin, made on first use. */
  pool(target: Target): Pool {
    const key = `${target.secure ? 's' : ''}${target.host}`;
    const known = this.pools.get(key);
    if (known) return known;
    // Forgotten when its last connection closes: the operator calls every sandbox pod by its address.
    const pool: Pool = new Pool({ secure: target.secure, hostname: target.hostname, port: target.port }, MAX_CONNECTIONS, FREE_CONNECTION_MS, () => {
      if (this.pools.get(key) === pool) this.pools.delete(key);
    });
    if (this.closing) void pool.close();
    this.pools.set(key, pool);
    return pool;
  }

  /** Gives back what an answer held of the answer budget, when its body is dropped rather than given to a client. */
  release(answer: UpstreamAnswer): void {
    if (answer.held > 0) this.config.answers?.release(answer.held);
    answer.held = 0;
  }

  /** Closes idle connections now and the others once their requests finish (used when a reload replaces the provider). */
  async close(): Promise<void> {
    this.closing = true;
    await Promise.all([...this.pools.values()].map((pool) => pool.close()));
  }
}

/** `Exchange.whole` for an answer read whole that never spills. */
const WHOLE = Infinity;

/** Errors of a request written on a kept-alive connection that the other side had closed. */
const STALE_CONNECTION_CODES = new Set(['ECONNRESET', 'EPIPE']);
/** Sends again after a stale connection at most this often (each stale connection is gone after its error). */
const MAX_RESENDS = 3;

/**
 * One request and its answer, through its phases (connect, headers, body).
 *
 * A kept-alive connection can be closed by the provider (Node servers after 5 s idle, load
 * balancers after 60 s) just as the next request is written on it: the write gets ECONNRESET or
 * EPIPE, or the connection closes, and the request never reached the provider. Such a request —
 * on a reused connection, no byte of an answer received, not aborted — is sent again on another
 * connection, as Node's documentation advises for its own client (`request.reusedSocket`); the
 * pool's use of the `Keep-Alive: timeout=` hint makes this rare, not impossible.
 */
class Exchange implements InFlight, Receiver, Waiter {
  private connection: Connection | undefined;
  private head = '';
  private phase: 'connect' | 'headers' | 'body' = 'headers';
  /** When the answer's head is due (performance.now(), set as the request goes out). */
  private headBy = 0;
  private failure: Error | undefined;
  private resends = 0;
  private settled = false;
  private status = 0;
  private headers: UpstreamResponse['headers'] = {};
  /** The body handed over (a stream, or the rest of an answer that spilled). */
  private stream: UpstreamBody | undefined;
  /** A whole answer's chunks so far, and their size. */
  private chunks: Buffer[] = [];
  private size = 0;
  /** Of `size`, what is counted against the client's AnswerBudget. */
  private held = 0;
  private spill = WHOLE;
  private max: number | undefined;
  private pool: Pool | undefined;
  private secure = false;
  /** The body's length in bytes, worked out once for its Content-Length and its write. */
  private bodySize = 0;

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
    const target = this.client.target(this.request.url);
    this.secure = target.secure;
    const body = this.request.body;
    this.bodySize = body === undefined ? 0 : typeof body === 'string' ? Buffer.byteLength(body) : body.length;
    try {
      this.head ||= requestHead(this.request, target, this.bodySize);
    } catch (err) {
      this.fail(err as Error, 'headers');
      return;
    }
    const pool = (this.pool = this.client.pool(target));
    const connection = pool.take();
    if (connection) this.use(connection);
    else pool.wait(this);
  }

  /** Sends the request on `connection` (a free one, a new one, or one the pool had to wait for). */
  use(connection: Connection): void {
    if (this.failure) {
      // Aborted while waiting for it: closed, which makes room for the next waiter's own.
      connection.destroy();
      return;
    }
    this.connection = connection;
    const socket = connection.socket;
    const { connectMs, firstByteMs } = this.client.config.timeouts;
    if (socket.connecting) {
      // A new connection: connectMs covers TCP and, for https, the TLS handshake.
      this.phase = 'connect';
      socket.setTimeout(connectMs);
      socket.once(this.secure ? 'secureConnect' : 'connect', () => this.enter('headers', firstByteMs));
    } else {
      this.enter('headers', firstByteMs);
    }
    connection.send(this, this.head, this.request.body, this.bodySize);
  }

  private enter(phase: 'headers' | 'body', ms: number): void {
    if (this.phase === 'body' || !this.connection) return;
    // Waiting for the head: the connection is open and the request is (being) written on it.
    if (phase === 'headers') this.callAbort.written = true;
    this.phase = phase;
    if (phase === 'headers') this.headBy = performance.now() + ms;
    const socket = this.connection.socket;
    // Re-arming the timer costs a timer-list insert; firstByteMs and idleMs are often equal.
    if (socket.timeout !== ms) socket.setTimeout(ms);
  }

  onHead(status: number, raw: string[]): void {
    this.enter('body', this.client.config.timeouts.idleMs);
    this.status = status;
    this.headers = headerObject(raw);
    if (this.whole === undefined) {
      this.handOver();
      this.resolve({ status, headers: this.headers, body: this.stream! });
      return;
    }
    this.spill = status >= 200 && status < 300 ? this.whole : WHOLE;
    // An answer that may spill holds at most spillAbove; one that may not, maxResponseBytes.
    this.max = this.spill === WHOLE ? this.client.config.maxResponseBytes : undefined;
  }

  onBody(chunk: Buffer): void {
    if (this.stream) {
      // The reader's pace: a full stream stops the socket until it is read (UpstreamBody._read).
      if (!this.stream.push(chunk)) this.connection?.socket.pause();
      return;
    }
    this.chunks.push(chunk);
    this.size += chunk.length;
    const answers = this.client.config.answers;
    let fits = true;
    if (answers) {
      this.held += chunk.length;
      fits = answers.hold(chunk.length, this.held);
    }
    // Past the answer budget a pass-through answer is relayed as it comes (./answer-budget.ts).
    if (this.size > this.spill || (!fits && this.spill !== WHOLE)) {
      // What is left is read by the caller, as a stream's body is.
      this.handOver();
      const start = Buffer.concat(this.chunks);
      this.chunks = [];
      this.resolve({ status: this.status, headers: this.headers, body: start, rest: this.stream!, held: this.handOverHeld() });
    } else if (this.max !== undefined && this.size > this.max) {
      this.abort(Object.assign(new Error(`response larger than ${this.max} bytes`), { code: 'ERR_RESPONSE_TOO_LARGE' }));
    } else if (!fits) {
      this.abort(Object.assign(new Error(`${Math.round(answers!.maxBytes / 1048576)} MiB of answers held`), { code: 'ERR_ANSWERS_HELD' }));
    }
  }

  onEnd(): void {
    this.connection = undefined;
    if (this.stream) {
      this.stream.push(null);
      return;
    }
    if (this.settled) return;
    this.finish();
    const chunks = this.chunks;
    this.resolve({ status: this.status, headers: this.headers, body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks), held: this.handOverHeld() });
  }

  onError(err: Error, answered: boolean): void {
    const connection = this.connection;
    this.connection = undefined;
    if (this.stream) {
      // A body cut short: its reader gets the error (or the abort's reason, when that cut it).
      this.stream.destroy(this.failure ?? err);
      return;
    }
    if (!answered && !this.failure && connection?.reused && this.resends < MAX_RESENDS && STALE_CONNECTION_CODES.has((err as { code?: string }).code ?? '')) {
      this.resends++;
      this.start();
      return;
    }
    this.fail(err, this.status ? 'body' : 'headers');
  }

  /**
   * firstByteMs bounds the whole wait for the head, not each pause in it: 1xx answers or a head
   * sent a byte at a time would otherwise re-arm the socket's idle timer for ever.
   */
  onHeadPending(): void {
    const left = this.headBy - performance.now();
    if (left <= 0) this.onTimeout();
    else this.connection?.socket.setTimeout(left);
  }

  onTimeout(): void {
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
    if (this.stream) {
      // The body's reader gets this reason, not the close that follows it.
      this.stream.destroy(reason);
      return;
    }
    const connection = this.connection;
    this.connection = undefined;
    if (connection) connection.destroy();
    else this.pool?.cancel(this);
    this.fail(reason, this.status ? 'body' : 'headers');
  }

  /** The stream's reader wants more: let the socket read again. */
  resume(): void {
    this.connection?.socket.resume();
  }

  /** The stream closed (read to its end, destroyed by its reader, or cut): a connection still reading its answer cannot be reused. */
  closed(): void {
    const connection = this.connection;
    this.connection = undefined;
    connection?.destroy();
    this.finish();
  }

  /**
   * The body is the caller's to read from now on; the call's abort still reaches it until it
   * closes.
   */
  private handOver(): void {
    this.stream = new UpstreamBody(this);
    this.settled = true;
  }

  /** What the answer holds of the budget, now its caller's to release. */
  private handOverHeld(): number {
    const held = this.held;
    this.held = 0;
    return held;
  }

  private fail(err: Error, phase: 'headers' | 'body'): void {
    if (this.settled) return;
    this.finish();
    // The answer read so far is dropped with the exchange.
    if (this.held > 0) this.client.config.answers?.release(this.handOverHeld());
    this.reject(classifyError(this.callAbort.reason ?? this.failure ?? err, this.client.config.name, phase));
  }

  private finish(): void {
    this.settled = true;
    if (this.callAbort.inFlight === this) this.callAbort.inFlight = undefined;
  }
}

/**
 * An answer's body handed to the caller: a Readable of Buffers, paced by its reader. Destroying
 * it gives up on the answer (its connection is closed unless the answer was read whole); an error
 * with nobody reading yet is not thrown.
 */
export class UpstreamBody extends Readable {
  constructor(private readonly exchange: Exchange) {
    super();
    this.on('error', ignore);
  }

  override _read(): void {
    this.exchange.resume();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.exchange.closed();
    callback(err);
  }
}

function ignore(): void {}

/** Response headers as Node's client gives them: names in lower case, repeated values joined, Set-Cookie a list, the first of those Node keeps one of. */
function headerObject(raw: string[]): UpstreamResponse['headers'] {
  const headers: UpstreamResponse['headers'] = {};
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    const value = raw[i + 1]!;
    const seen = headers[name];
    if (seen === undefined) headers[name] = name === 'set-cookie' ? [value] : value;
    else if (Array.isArray(seen)) seen.push(value);
    else if (!SINGLE_HEADERS.has(name)) headers[name] = `${seen}${name === 'cookie' ? '; ' : ', '}${value}`;
  }
  return headers;
}

/** Headers Node's client keeps the first of when repeated (IncomingMessage's matchKnownFields). */
const SINGLE_HEADERS = new Set(['age', 'authorization', 'content-length', 'content-type', 'etag', 'expires', 'from', 'host', 'if-modified-since', 'if-unmodified-since', 'last-modified', 'location', 'max-forwards', 'proxy-authorization', 'referer', 'retry-after', 'server', 'user-agent']);

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

/**
 * The request's head: its line, the target's Host, the request's headers but none of
 * RESERVED_HEADERS, the body's length. Names and values are checked as Node's client checks
 * them (a name that is not a token, a value with a control character such as CR or LF is refused).
 */
function requestHead(request: UpstreamRequest, target: Target, bodySize: number): string {
  let head = `${request.method} ${target.path} HTTP/1.1\r\nhost: ${target.host}\r\nconnection: keep-alive\r\n`;
  for (const name in request.headers) {
    // Length first: most names are longer than any reserved one, and lower-casing each costs a string.
    if (name.length <= LONGEST_RESERVED && RESERVED.has(name.toLowerCase())) continue;
    const value = request.headers[name]!;
    if (!isToken(name)) throw Object.assign(new TypeError(`Header name must be a valid HTTP token ["${name}"]`), { code: 'ERR_INVALID_HTTP_TOKEN' });
    if (hasInvalidChar(value)) throw Object.assign(new TypeError(`Invalid character in header content ["${name}"]`), { code: 'ERR_INVALID_CHAR' });
    head += `${name}: ${value}\r\n`;
  }
  if (request.body !== undefined) head += `content-length: ${bodySize}\r\n`;
  return head + '\r\n';
}

/** What {@link bodyText} keeps of an error answer: far more than any provider's error, and its message is cut to 2,000 characters anyway. */
export const MAX_ERROR_BODY_BYTES = 1024 * 1024;

/**
 * Reads the rest of a streamed answer as text (an error answer's body), or '' when it breaks:
 * its first `limit` bytes, the rest not read (the connection is closed), so a server answering
 * an error that never ends cannot grow the sidecar.
 */
export async function bodyText(body: UpstreamBody, limit = MAX_ERROR_BODY_BYTES): Promise<string> {
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
