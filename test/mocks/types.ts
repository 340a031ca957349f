/**
 * Public types of the provider mocks. A mock is a real HTTP server on 127.0.0.1 speaking one
 * provider's wire format; a test scripts how it answers, request by request.
 */
import type { IncomingHttpHeaders } from 'node:http';

/** Provider wire formats the mocks speak. `openai-compatible` is the OpenAI format, keyless by default. */
export type MockKind = 'openai' | 'openai-compatible' | 'anthropic' | 'gemini' | 'ollama';

/** A tool call a scripted step makes the model reply with. */
export interface ScriptedToolCall {
  /** Tool (function) name. */
  name: string;
  /** Arguments object; defaults to `{}`. */
  arguments?: Record<string, unknown>;
}

/** An error the mock writes into a stream after some frames, in the provider's own error shape. */
export interface MidStreamError {
  /** Frames written before the error frame; defaults to 2. */
  afterChunks?: number;
  /** Status whose error type the frame carries (e.g. 529 is Anthropic's overloaded_error); defaults to 500 (Anthropic: 529). */
  status?: number;
  /** Error message; defaults to the provider's usual message for the status. */
  message?: string;
}

/**
 * How the mock answers one request. Every field is optional; an empty step is the default
 * behaviour (a deterministic answer derived from the request). A "chunk" is one frame on the
 * wire: an SSE event (`data: ...\n\n` or `event: X\ndata: ...\n\n`) or an NDJSON line. A
 * non-streaming body counts as two chunks (its two halves), so `resetAfterChunks: 0` sends only
 * the headers and `resetAfterChunks: 1` half the body.
 *
 * Every request takes one step, whatever its endpoint (models listings included) and even when
 * its key is refused. A step applies in this order: `latencyMs`, `resetBeforeHeaders`, the key
 * check, `status`, then the answer with its stream faults.
 */
export interface MockStep {
  /** Answer with this HTTP status and the provider's real error body for it (e.g. 429, 500, 503, 529). */
  status?: number;
  /** Message inside the error body of `status`; defaults to the provider's usual message. */
  errorMessage?: string;
  /** Sets `Retry-After: <seconds>` on the response. */
  retryAfter?: number;
  /** Extra response headers. */
  headers?: Record<string, string>;
  /** Delay before the response headers (ends early when the client goes away). */
  latencyMs?: number;
  /** Destroy the socket with a TCP reset before any response byte. */
  resetBeforeHeaders?: boolean;
  /** Close the connection after this many chunks, without finishing the response. */
  resetAfterChunks?: number;
  /** Send this many chunks, then nothing more while keeping the connection open until the client leaves. */
  stallAfterChunks?: number;
  /** A 200 whose JSON is broken: a cut-off body, or (streams) a frame with broken JSON inserted as the second frame. */
  malformedJson?: boolean;
  /** Streams only: an error frame in the provider's format, then the end of the stream. */
  midStreamError?: true | MidStreamError;
  /** Delay between stream chunks. */
  chunkDelayMs?: number;
  /** Reply text instead of the default `echo: ...` / `tool result: ...`; with tool calls, text sent before them. */
  reply?: string;
  /** Tool calls instead of the default ones; `[]` forces a text answer even when tools are offered. */
  toolCalls?: ScriptedToolCall[];
}

/** One request as the mock received it. */
export interface RecordedRequest {
  method: string;
  /** Path without the query string, e.g. `/v1/chat/completions`. */
  path: string;
  /** Query parameters (the last value wins for repeated names). */
  query: Record<string, string>;
  /** Request headers, names lower-cased. */
  headers: IncomingHttpHeaders;
  /** The parsed JSON body; undefined when there was none or it was not JSON. */
  body: unknown;
  /** The body as received. */
  rawBody: string;
  /**
   * True when the client closed the connection before the mock finished its response (for
   * example an abort mid-stream, or during a stall). Connections the mock itself closes because
   * a step said so do not count. Final once `settled` has resolved.
   */
  aborted: boolean;
  /** Resolves once the exchange is over: response finished, client gone, or a scripted reset. */
  settled: Promise<void>;
}

/** Options of {@link startMock}. */
export interface MockOptions {
  /** Accepted API keys. Unset: no key check (Anthropic still requires `anthropic-version`). Ollama ignores it. */
  keys?: Iterable<string>;
  /** Models the listing endpoints report; defaults to a couple per provider. */
  models?: string[];
  /**
   * Address to listen on; default 127.0.0.1. The real-node e2e binds the node's bridge address,
   * so pods reach the mock and nothing else on this machine does.
   */
  host?: string;
}

/** A running mock provider. */
export interface MockProvider {
  readonly kind: MockKind;
  /**
   * Base URL as the sidecar's config wants it: `http://HOST:P/v1` for OpenAI,
   * `http://HOST:P` for the others (HOST is 127.0.0.1 unless `host` was given).
   */
  readonly url: string;
  /** `http://HOST:P`. */
  readonly origin: string;
  readonly port: number;
  /** Requests in arrival order (cleared in place by `reset`). */
  readonly received: RecordedRequest[];
  /** Queues steps, consumed one per request; after them the default applies again. */
  script(...steps: MockStep[]): void;
  /** Replaces the default step (initially `{}`). */
  setDefault(step: MockStep): void;
  /** Forgets received requests, queued steps and the default. */
  reset(): void;
  /** Resolves once at least `count` requests have been received. */
  waitForRequests(count: number): Promise<RecordedRequest[]>;
  /** Stops the server and drops open connections. */
  close(): Promise<void>;
}
