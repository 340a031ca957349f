/**
 * The benchmark's load: OpenAI chat completions (plain or streamed) at a fixed rate (open loop:
 * requests go out on schedule whether or not earlier ones are done) or at saturation (closed
 * loop: a fixed number of requests always in flight). A lean undici client, so the client costs
 * little next to what it measures.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { performance } from 'node:perf_hooks';
import { Agent, type Dispatcher } from 'undici';

/** Where and how to send a chat completion. */
export interface Endpoint {
  dispatcher: Dispatcher;
  origin: string;
  path: string;
  headers: Record<string, string>;
}

/** One run's raw results: latencies (whole response) and, for streams, time to first chunk. */
export interface RunResult {
  latencies: number[];
  /** When each request (same index as `latencies`) was sent, in epoch ms (performance.timeOrigin + now). */
  starts: number[];
  firstChunk: number[];
  errors: number;
  seconds: number;
}

let counter = 0;

function body(stream: boolean): string {
  counter += 1;
  return JSON.stringify({ model: 'gpt-bench', stream, messages: [{ role: 'user', content: `benchmark request ${counter} with a few more words in it` }] });
}

/** Sends one request and reads the whole answer; returns [latency, first chunk, start] in ms. */
async function once(endpoint: Endpoint, stream: boolean): Promise<[number, number, number]> {
  const t0 = performance.now();
  const response = await endpoint.dispatcher.request({ origin: endpoint.origin, path: endpoint.path, method: 'POST', headers: endpoint.headers, body: body(stream) });
  let first = 0;
  for await (const _ of response.body) if (first === 0) first = performance.now() - t0;
  if (response.statusCode !== 200) throw new Error(`status ${response.statusCode}`);
  return [performance.now() - t0, first, performance.timeOrigin + t0];
}

function collect(): { result: RunResult; send: (endpoint: Endpoint, stream: boolean) => Promise<void> } {
  const result: RunResult = { latencies: [], starts: [], firstChunk: [], errors: 0, seconds: 0 };
  return {
    result,
    send: (endpoint, stream) =>
      once(endpoint, stream).then(
        ([latency, first, start]) => {
          result.latencies.push(latency);
          result.starts.push(start);
          result.firstChunk.push(first);
        },
        () => {
          result.errors += 1;
        },
      ),
  };
}

/** `rate` requests per second for `seconds`, sent on schedule. */
export async function fixedRate(endpoint: Endpoint, stream: boolean, rate: number, seconds: number): Promise<RunResult> {
  const { result, send } = collect();
  const total = Math.round(rate * seconds);
  const interval = 1000 / rate;
  const pending: Promise<void>[] = [];
  const start = performance.now();
  for (let i = 0; i < total; i++) {
    const wait = start + i * interval - performance.now();
    if (wait >= 1) await sleep(wait);
    pending.push(send(endpoint, stream));
  }
  await Promise.all(pending);
  result.seconds = (performance.now() - start) / 1000;
  return result;
}

/** `concurrency` requests always in flight for `seconds`. */
export async function saturate(endpoint: Endpoint, stream: boolean, concurrency: number, seconds: number): Promise<RunResult> {
  const { result, send } = collect();
  const start = performance.now();
  const end = start + seconds * 1000;
  const worker = async () => {
    while (performance.now() < end) await send(endpoint, stream);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  result.seconds = (performance.now() - start) / 1000;
  return result;
}

/** A connection pool to a TCP origin or a Unix socket, sized for the load. */
export function dispatcherFor(socketPath?: string): Agent {
  return new Agent({ connections: 256, keepAliveTimeout: 30_000, ...(socketPath ? { connect: { socketPath } } : {}) });
}
