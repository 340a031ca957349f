/**
 * The HTTP side of a model call: the client's response as the relay's sink. What happens between
 * the request and the answer (limits, failover, parsing, accounting, streaming) is ../relay.
 */
import type { ServerResponse } from 'node:http';
import { runCall, type RelayDeps, type SandboxScope } from '../relay/call.js';
import type { Operation, StreamChunk } from '../relay/operation.js';
import type { ClientSink } from '../relay/sink.js';
import type { Candidate } from '../router/models.js';
import type { ProviderRuntime } from '../router/router.js';
import type { AnswerBudget } from '../upstream/answer-budget.js';
import { writeJson } from './http/reply.js';

export type { Operation, StreamChunk, Usage } from '../relay/operation.js';

/** What the relay needs from the app. */
export type ProxyDeps = RelayDeps;

/** Serves one call end to end, writing the response (success or error) to `res`. */
export function relay<C, K extends StreamChunk>(op: Operation<C, K>, candidates: Candidate<ProviderRuntime>[], res: ServerResponse, deps: ProxyDeps, sandbox: SandboxScope): Promise<void> {
  return runCall(op, candidates, responseSink(res), deps, sandbox);
}

const JSON_HEADERS = { 'content-type': 'application/json' };
// No Connection header: node:http writes keep-alive, or close for a request that asked for it (a
// keep-alive written here held open a connection its client had asked to close, red team 26).
const STREAM_HEADERS = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' };

/** The client's response as a ClientSink. */
export function responseSink(res: ServerResponse): ClientSink {
  return new ResponseSink(res);
}

/**
 * A class rather than an object of closures: one small object per call, alive across the
 * upstream round trip, instead of seven (bench/README.md "Round 4: saturation").
 */
class ResponseSink implements ClientSink {
  /** What `res` closing must do: tell the relay the client went (onClose), release the answer's bytes (keepUntilDone). */
  private leaving: (() => void) | undefined = undefined;
  private kept = 0;
  private budget: AnswerBudget | undefined = undefined;
  private listening = false;

  constructor(private readonly res: ServerResponse) {}

  get started(): boolean {
    return this.res.headersSent;
  }

  get gone(): boolean {
    return this.res.destroyed;
  }

  json(status: number, body: unknown, headers?: Record<string, string>): void {
    writeJson(this.res, status, body, headers);
  }

  startStream(): void {
    this.res.writeHead(200, STREAM_HEADERS);
  }

  startJson(): void {
    this.res.writeHead(200, JSON_HEADERS);
  }

  async write(data: string | Buffer): Promise<void> {
    const res = this.res;
    if (data.length === 0 || res.destroyed) return;
    if (!res.write(data)) await drained(res);
  }

  end(): void {
    this.res.end();
  }

  abort(): void {
    this.res.destroy();
  }

  onClose(listener: () => void): void {
    this.leaving = listener;
    this.listen();
  }

  keepUntilDone(bytes: number, budget: AnswerBudget): void {
    if (this.res.closed) return budget.release(bytes);
    this.kept += bytes;
    this.budget = budget;
    this.listen();
  }

  /** One close listener for both (the answer's bytes go once the response is done, finished or not). */
  private listen(): void {
    if (this.listening) return;
    this.listening = true;
    const res = this.res;
    // on, not once: a response closes once, and once's wrapper (a state object and a bound
    // function) would be made on every call for nothing.
    res.on('close', () => {
      if (this.kept > 0) this.budget!.release(this.kept);
      this.kept = 0;
      if (!res.writableFinished) this.leaving?.();
    });
  }
}

/** Resolves when `res` can take more, or has closed; leaves no listener behind (a long answer waits many times). */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.removeListener('drain', done);
      res.removeListener('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}
