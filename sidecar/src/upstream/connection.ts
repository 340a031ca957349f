/**
 * Connections to one origin, one HTTP/1.1 exchange at a time each, kept alive in a pool; the
 * bytes parsed by the parser `node:http` itself uses (llhttp, through Node's `HTTPParser`
 * binding), without `node:http`'s ClientRequest, Agent and IncomingMessage around it (ADR 0028:
 * those cost half the sidecar's CPU per call, bench/README.md round 14).
 *
 * What a connection does is what Node's client does with the same parser: the same header size
 * limit (`http.maxHeaderSize`), no lenient parsing, 1xx answers skipped, an answer without a
 * length read to the connection's end, bytes past an answer's end never taken for the next one
 * (the connection is closed instead), a connection the provider closed (or said `Connection:
 * close` on) never reused, `Keep-Alive: timeout=N` honoured.
 */
import type { Socket } from 'node:net';
import type { ConnectionOptions } from 'node:tls';

/** The part of Node's HTTPParser binding used here (lib/_http_common.js). */
interface Parser {
  initialize(type: number, resource: object, maxHeaderSize: number, lenient: number): void;
  execute(data: Buffer): number | Error;
  finish(): Error | undefined;
  close(): void;
  [callback: number]: unknown;
}
interface ParserClass {
  new (): Parser;
  RESPONSE: number;
  kOnMessageBegin: number;
  kOnHeaders: number;
  kOnHeadersComplete: number;
  kOnBody: number;
  kOnMessageComplete: number;
  kLenientNone: number;
}
interface HttpCommon {
  HTTPParser: ParserClass;
  _checkIsHttpToken(name: string): boolean;
  _checkInvalidHeaderChar(value: string): boolean;
}

// Node's own module for its HTTP parser and header checks (documented as internal since Node 24,
// DEP0199, documentation-only; Node is pinned, ADR 0001). By the module object, as for node:http.
const common = process.getBuiltinModule('_http_common' as 'node:http') as unknown as HttpCommon;
const { HTTPParser } = common;
/** Node's own checks of a header's name and value, as its HTTP client applies them. */
export const { _checkIsHttpToken: isToken, _checkInvalidHeaderChar: hasInvalidChar } = common;

/** Node's limit on a response's headers (16 KiB unless `--max-http-header-size`). */
export const MAX_HEADER_SIZE = process.getBuiltinModule('node:http').maxHeaderSize;

/** Silence on a connection before TCP keepalive probes start (Node's Agent's `keepAliveMsecs`). */
const KEEPALIVE_PROBE_MS = 1_000;

/** A request body up to this size is copied behind its head and written with it in one buffer. */
const ONE_WRITE_BYTES = 64 * 1024;

/** What the exchange on a connection is told, as the answer arrives. */
export interface Receiver {
  /** The answer's status and headers (a flat list, as Node's rawHeaders), 1xx answers skipped. */
  onHead(status: number, rawHeaders: string[]): void;
  onBody(chunk: Buffer): void;
  onEnd(): void;
  /** The connection broke or sent what cannot be parsed; `answered` whether any byte of an answer came. */
  onError(err: Error, answered: boolean): void;
  /** The socket was idle longer than its timeout. */
  onTimeout(): void;
  /** Bytes came that did not complete the answer's head (1xx answers, a head in pieces). */
  onHeadPending(): void;
}

/** An error as Node's client makes it for a connection closed early (`socket hang up`, `aborted`). */
export function connectionReset(message: string): Error {
  return Object.assign(new Error(message), { code: 'ECONNRESET' });
}

/** Where a pool connects. */
export interface Origin {
  secure: boolean;
  hostname: string;
  port: number;
}

/**
 * One connection and its parser. A receiver is attached for one exchange; the connection goes
 * back to its pool once the answer has been read whole, unless anything says it cannot be reused.
 */
export class Connection {
  readonly socket: Socket;
  /** Whether an exchange was already answered on this connection (its next request may meet the provider's close). */
  reused = false;
  private readonly parser: Parser;
  private receiver: Receiver | undefined;
  /** Header fields handed over before the head was complete (more than 32 fields). */
  private fields: string[] = [];
  private informational = false;
  private answered = false;
  /** Whether this exchange's answer has its head. */
  private headed = false;
  /** Set while parsing when the answer ended: the connection is freed once `execute` returns. */
  private done = false;
  private reusable = true;
  private keepMs: number;

  constructor(
    private readonly pool: Pool,
    origin: Origin,
  ) {
    this.keepMs = pool.keepMs;
    this.socket = origin.secure ? tlsConnect(origin, pool) : process.getBuiltinModule('node:net').connect({ host: origin.hostname, port: origin.port, noDelay: true });
    // TCP keepalive probes after a second of silence, as Node's keep-alive Agent sets them: a long
    // silent call (a model thinking) outlives NATs and load balancers that drop idle flows.
    this.socket.setKeepAlive(true, KEEPALIVE_PROBE_MS);
    const parser = new HTTPParser();
    parser.initialize(HTTPParser.RESPONSE, {}, MAX_HEADER_SIZE, HTTPParser.kLenientNone);
    parser[HTTPParser.kOnMessageBegin] = () => {
      // An answer nobody asked for (bytes past the last one's end): never reuse this connection.
      if (!this.receiver || this.done) this.reusable = false;
    };
    parser[HTTPParser.kOnHeaders] = (fields: string[]) => {
      for (const f of fields) this.fields.push(f);
    };
    parser[HTTPParser.kOnHeadersComplete] = (_major: number, _minor: number, fields: string[] | undefined, _method: unknown, _url: unknown, status: number, _message: string, upgrade: boolean, keepAlive: boolean) => {
      let raw = fields ?? [];
      if (this.fields.length > 0) {
        raw = this.fields.concat(raw);
        this.fields = [];
      }
      if (status >= 100 && status < 200 && status !== 101) {
        // 100 Continue, 102 Processing, 103 Early Hints: the real answer follows.
        this.informational = true;
        return 1;
      }
      if (upgrade || status === 101) {
        this.fail(Object.assign(new Error('the provider switched protocols, which was not asked for'), { code: 'HPE_UNEXPECTED_UPGRADE' }));
        return 1;
      }
      if (!keepAlive) this.reusable = false;
      this.keepMs = keepAliveMs(raw, this.pool.keepMs);
      this.headed = true;
      this.receiver?.onHead(status, raw);
      return 0;
    };
    parser[HTTPParser.kOnBody] = (chunk: Buffer) => this.receiver?.onBody(chunk);
    parser[HTTPParser.kOnMessageComplete] = () => {
      // Trailers (header fields after a chunked body) come as fields too; nothing reads them,
      // and they must not become the next answer's headers.
      this.fields = [];
      if (this.informational) {
        this.informational = false;
        return;
      }
      const receiver = this.receiver;
      this.receiver = undefined;
      this.done = true;
      receiver?.onEnd();
    };
    this.parser = parser;
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('end', () => this.onEnd());
    this.socket.on('error', (err: Error) => this.fail(err));
    this.socket.on('close', () => this.onClose());
    this.socket.on('timeout', () => (this.receiver ? this.receiver.onTimeout() : this.socket.destroy()));
  }

  /** Attaches the exchange and writes its request. */
  send(receiver: Receiver, head: string, body: string | Buffer | undefined, size: number): void {
    this.receiver = receiver;
    this.answered = false;
    this.headed = false;
    this.done = false;
    const socket = this.socket;
    if (body === undefined || body.length === 0) {
      socket.write(head, 'utf8');
      return;
    }
    if (size <= ONE_WRITE_BYTES) {
      // Head and body in one buffer, one write: less than a writev of the two (bench/README.md round 14).
      const headSize = Buffer.byteLength(head);
      const bytes = Buffer.allocUnsafe(headSize + size);
      bytes.write(head, 0, 'utf8');
      if (typeof body === 'string') bytes.write(body, headSize, 'utf8');
      else body.copy(bytes, headSize);
      socket.write(bytes);
      return;
    }
    // A large body is not copied: one writev for the head and the body.
    socket.cork();
    socket.write(head, 'utf8');
    socket.write(body);
    socket.uncork();
  }

  /** Ends the exchange on this connection without reading further: the connection is closed. */
  destroy(): void {
    this.receiver = undefined;
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    if (!this.receiver) {
      // Bytes on an idle connection belong to no request.
      this.socket.destroy();
      return;
    }
    this.answered = true;
    const result = this.parser.execute(chunk);
    if (result instanceof Error) {
      this.fail(parseError(result));
      return;
    }
    if (this.done) {
      this.done = false;
      this.reused = true;
      if (this.reusable && this.keepMs > 0) this.pool.release(this, this.keepMs);
      else this.socket.destroy();
    } else if (!this.headed) this.receiver?.onHeadPending();
  }

  private onEnd(): void {
    // An answer without a length ends with the connection (the parser completes it); any other
    // answer not read whole by now was cut short.
    if (this.receiver && this.headed) this.parser.finish();
    this.socket.destroy();
  }

  private onClose(): void {
    this.pool.remove(this);
    this.parser.close();
    // As Node's client says it: closed before the answer's head, or in its body.
    if (this.receiver) this.fail(connectionReset(this.headed ? 'aborted' : 'socket hang up'));
  }

  private fail(err: Error): void {
    const receiver = this.receiver;
    this.receiver = undefined;
    this.socket.destroy();
    // A network error in an answer's body is, as Node's client says it, the answer `aborted`.
    const reported = this.headed && !(err as { code?: string }).code?.startsWith('HPE_') ? connectionReset('aborted') : err;
    receiver?.onError(reported, this.answered);
  }
}

/** A parser error as Node's client reports it: its reason in the message (lib/_http_common.js prepareError). */
function parseError(err: Error): Error {
  const reason = (err as { reason?: unknown }).reason;
  if (typeof reason === 'string') err.message = `Parse Error: ${reason}`;
  return err;
}

/** The ms a free connection is kept: the provider's `Keep-Alive: timeout=N` hint less a second, when shorter than ours; not at all when the hint is a second or less. */
function keepAliveMs(raw: string[], ours: number): number {
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.length !== 10 || raw[i]!.toLowerCase() !== 'keep-alive') continue;
    const hint = /(?:^|[,\s])timeout=(\d+)/i.exec(raw[i + 1]!);
    if (!hint) return ours;
    const seconds = Number(hint[1]);
    return seconds <= 1 ? 0 : Math.min(ours, (seconds - 1) * 1000);
  }
  return ours;
}

function tlsConnect(origin: Origin, pool: Pool): Socket {
  const tls = process.getBuiltinModule('node:tls');
  const net = process.getBuiltinModule('node:net');
  const options: ConnectionOptions = { host: origin.hostname, port: origin.port, ALPNProtocols: ['http/1.1'] };
  // SNI names a host, never an address (RFC 6066), as Node's https Agent does.
  if (!net.isIP(origin.hostname)) options.servername = origin.hostname;
  if (pool.tlsSession) options.session = pool.tlsSession;
  const socket = tls.connect(options);
  socket.setNoDelay(true);
  socket.on('session', (session: Buffer) => (pool.tlsSession = session));
  return socket;
}

/** Something waiting for a connection of a full pool. */
export interface Waiter {
  use(connection: Connection): void;
}

/**
 * The connections to one origin: at most `max`, the free ones kept `keepMs` (or the provider's
 * shorter hint) and reused most recent first (the least likely to have been closed by the
 * provider when idle), requests beyond `max` queued in order.
 */
export class Pool {
  /** A TLS session to resume on the next connection, as Node's https Agent keeps one. */
  tlsSession: Buffer | undefined;
  private readonly free: Connection[] = [];
  private readonly waiting: Waiter[] = [];
  private closing = false;
  private readonly all = new Set<Connection>();

  constructor(
    private readonly origin: Origin,
    private readonly max: number,
    readonly keepMs: number,
    /** Called when the pool's last connection closed and nobody waits: its owner may forget it. */
    private readonly onEmpty?: () => void,
  ) {}

  /** A free connection, or a new one while the pool has room; undefined when the caller must wait. */
  take(): Connection | undefined {
    const free = this.free.pop();
    if (free) {
      free.socket.ref();
      return free;
    }
    if (this.all.size >= this.max) return undefined;
    const connection = new Connection(this, this.origin);
    this.all.add(connection);
    return connection;
  }

  /** Waits for a connection (the pool is full). */
  wait(waiter: Waiter): void {
    this.waiting.push(waiter);
  }

  /** Stops waiting (the exchange was aborted). */
  cancel(waiter: Waiter): void {
    const at = this.waiting.indexOf(waiter);
    if (at >= 0) this.waiting.splice(at, 1);
  }

  /** A connection whose answer was read whole: to the next waiter, or kept. */
  release(connection: Connection, keepMs: number): void {
    const socket = connection.socket;
    // Read on (a stream's reader may have paused it): the next answer, or a provider's close, must be seen.
    socket.resume();
    // A waiting call is served even while closing, as Node's Agent served its queue.
    const waiter = this.waiting.shift();
    if (waiter) {
      waiter.use(connection);
      return;
    }
    if (this.closing) {
      socket.destroy();
      return;
    }
    // A kept connection neither holds the process open nor lives past its time.
    if (socket.timeout !== keepMs) socket.setTimeout(keepMs);
    socket.unref();
    this.free.push(connection);
  }

  /** A connection that closed. */
  remove(connection: Connection): void {
    if (!this.all.delete(connection)) return;
    const at = this.free.lastIndexOf(connection);
    if (at >= 0) this.free.splice(at, 1);
    // Room for one more: the next waiter gets a new connection (closed after its answer when closing).
    const waiter = this.waiting.shift();
    if (waiter) waiter.use(this.take()!);
    else if (this.all.size === 0) this.onEmpty?.();
  }

  /** Closes the free connections now and the others after their answers; resolves when all are closed. */
  async close(): Promise<void> {
    this.closing = true;
    for (const connection of this.free.splice(0)) connection.socket.destroy();
    // Until the last connection closes: those of the calls still waiting too.
    // (A destroyed socket leaves `all` on its 'close', which may be still to come.)
    while (this.all.size > 0) await Promise.all([...this.all].map((c) => new Promise((resolve) => c.socket.once('close', resolve))));
  }
}
