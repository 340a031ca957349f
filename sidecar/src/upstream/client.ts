/**
 * The one HTTP client: an undici Agent per provider, created when the config is loaded and
 * reused for every call (connection pooling, no per-request client). Timeouts map onto undici's:
 * connectMs → connect.timeout, firstByteMs → headersTimeout, idleMs → bodyTimeout.
 *
 * Two ways to send: `send` for a stream (undici's request API: the body as a stream, aborted by
 * the call's signal), and `json` for a whole answer, read straight from undici's dispatch
 * handler into one Buffer: no stream, no promise per chunk, no async resource, no listener on the
 * call's signal — the common plain call's share of undici's request API was ~4 KB and a fifth of
 * its CPU above the floor (bench/README.md "Round 5: saturation").
 */
import { Agent, type Dispatcher } from 'undici';
import type { ProviderConfig } from '../config/schema.js';
import type { UpstreamRequest } from '../providers/types.js';
import { classifyError } from './failure.js';

export interface UpstreamResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Dispatcher.ResponseData['body'];
}

/** A whole answer, read into memory. */
export interface UpstreamAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/**
 * A call's abort (the client went away, the total deadline passed). The JSON request in flight
 * is told directly, without a listener on a signal; an AbortSignal (an EventTarget, a few hundred
 * bytes with its controller) is made only for what waits on one: a stream, a backoff sleep, a
 * wait for a concurrency slot. A plain call with one attempt never makes it.
 */
export class CallAbort {
  aborted = false;
  /** Why, once aborted: a DOMException named AbortError (client gone) or TimeoutError (deadline). */
  reason: Error | undefined = undefined;
  /** The JSON request in flight, set and cleared by {@link ProviderClient.json}. */
  inFlight: Dispatcher.DispatchController | undefined = undefined;
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

export class ProviderClient {
  private readonly agent: Agent;

  constructor(private readonly config: ProviderConfig) {
    this.agent = new Agent({
      connect: { timeout: config.timeouts.connectMs },
      headersTimeout: config.timeouts.firstByteMs,
      bodyTimeout: config.timeouts.idleMs,
      keepAliveTimeout: 30_000,
      connections: 256,
      pipelining: 1,
    });
  }

  /** Sends the request; resolves once response headers arrive. Errors are classified UpstreamFailures. */
  async send(request: UpstreamRequest, signal: AbortSignal): Promise<UpstreamResponse> {
    const { origin, path } = this.split(request.url);
    try {
      const response = await this.agent.request({
        origin,
        path,
        method: request.method,
        headers: request.headers,
        body: request.body,
        signal,
      });
      return { status: response.statusCode, headers: response.headers, body: response.body };
    } catch (err) {
      throw classifyError(signal.aborted ? signal.reason ?? err : err, this.config.name, 'headers');
    }
  }

  /**
   * Sends the request and reads the whole answer, whatever its status.
   * @throws {UpstreamFailure} classified, for a connection, timeout or abort.
   */
  json(request: UpstreamRequest, abort: CallAbort): Promise<UpstreamAnswer> {
    const { origin, path } = this.split(request.url);
    return new Promise((resolve, reject) => {
      this.agent.dispatch({ origin, path, method: request.method, headers: request.headers, body: request.body }, new JsonHandler(this.config.name, abort, resolve, reject));
    });
  }

  private lastURL = '';
  private lastSplit = { origin: '', path: '' };

  /** Origin and path of `url`; a provider's calls go to one or two URLs, so the last one is kept. */
  private split(url: string): { origin: string; path: string } {
    if (url !== this.lastURL) {
      const parsed = new URL(url);
      this.lastSplit = { origin: parsed.origin, path: parsed.pathname + parsed.search };
      this.lastURL = url;
    }
    return this.lastSplit;
  }

  /** Closes idle connections once in-flight requests finish (used when a reload replaces the provider). */
  close(): Promise<void> {
    return this.agent.close();
  }
}

/** Reads one answer into memory for {@link ProviderClient.json}. */
class JsonHandler implements Dispatcher.DispatchHandler {
  private status = 0;
  private headers: UpstreamAnswer['headers'] = {};
  private readonly chunks: Buffer[] = [];

  constructor(
    private readonly provider: string,
    private readonly abort: CallAbort,
    private readonly resolve: (answer: UpstreamAnswer) => void,
    private readonly reject: (failure: Error) => void,
  ) {}

  onRequestStart(controller: Dispatcher.DispatchController): void {
    if (this.abort.aborted) controller.abort(this.abort.reason!);
    else this.abort.inFlight = controller;
  }

  onResponseStart(_controller: Dispatcher.DispatchController, status: number, headers: UpstreamAnswer['headers']): void {
    // 1xx (100 Continue, 103 Early Hints) precede the answer.
    if (status < 200) return;
    this.status = status;
    this.headers = headers;
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.chunks.push(chunk);
  }

  onResponseEnd(): void {
    this.abort.inFlight = undefined;
    const body = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    this.resolve({ status: this.status, headers: this.headers, body });
  }

  onResponseError(_controller: Dispatcher.DispatchController | null, err: Error): void {
    this.abort.inFlight = undefined;
    // After the headers, a broken connection is the provider closing it mid-answer.
    this.reject(classifyError(this.abort.reason ?? err, this.provider, this.status === 0 ? 'headers' : 'body'));
  }
}
