/**
 * One model call from an agent to a provider and back: route with failover until a provider
 * answers (for a stream: until its first chunk), then relay. After the first byte reached the
 * client there is no failover; a broken stream ends with an error event in the client's format.
 */
import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { Logger } from '../log/logger.js';
import type { SecretRegistry } from '../log/redact.js';
import { AdapterError, StreamError, type ProviderError, type StreamTranslator, type TranslateContext, type UpstreamRequest, type UpstreamTarget } from '../providers/types.js';
import type { Candidate } from '../router/models.js';
import type { Limiter } from '../router/limits.js';
import { route, RoutingError, type Attempt, type ProviderRuntime } from '../router/router.js';
import type { UpstreamResponse } from '../upstream/client.js';
import { classifyError, parseRetryAfter, UpstreamFailure } from '../upstream/failure.js';
import type { ChatCompletionChunk } from '../wire/openai.js';
import type { Ingress, StreamEncoder } from './ingress.js';
import type { Metrics } from '../telemetry/metrics.js';
import { describeResult, startModelCall, type ModelCall } from '../telemetry/model-call.js';

/** What one kind of call (chat, completions, embeddings) contributes to the shared relay. */
export interface Operation<Canonical, Chunk extends StreamChunk = ChatCompletionChunk> {
  /** Label for logs and metrics, e.g. chat. */
  kind: string;
  ingress: Ingress;
  model: string;
  stream: boolean;
  /** The client's body, passed through unchanged to providers that speak the ingress natively. */
  raw: Buffer | undefined;
  /** Whether this provider can serve the operation at all (anthropic has no embeddings). */
  supports(provider: ProviderRuntime): boolean;
  /** The provider request. @throws {AdapterError} when the request cannot be expressed for it. */
  build(provider: ProviderRuntime, target: UpstreamTarget): UpstreamRequest;
  /** A provider's JSON response in canonical form. */
  parse(provider: ProviderRuntime, body: unknown, context: TranslateContext): Canonical;
  /** The canonical result in the client's API. */
  render(result: Canonical): unknown;
  /** Usage of a canonical result, for accounting. */
  usage(result: Canonical): Usage | undefined;
  /** How a stream is read and written; only for streaming operations. */
  streamFrames?: {
    translator(provider: ProviderRuntime, context: TranslateContext): StreamTranslator<Chunk>;
    encoder(context: TranslateContext): StreamEncoder<Chunk>;
  };
}

/** What the relay needs of a stream chunk: its usage, when it carries one. */
export type StreamChunk = { usage?: { prompt_tokens?: number; completion_tokens?: number } | null };

export interface Usage {
  input: number;
  output: number;
}

export interface ProxyDeps {
  log: Logger;
  metrics: Metrics;
  secrets: SecretRegistry;
}

type Outcome<C, K> =
  | { kind: 'json'; provider: ProviderRuntime; model: Candidate<ProviderRuntime>['model']; result: C; native: Buffer | undefined; release: Attempt['release'] }
  | {
      kind: 'stream';
      release: Attempt['release'];
      provider: ProviderRuntime;
      model: Candidate<ProviderRuntime>['model'];
      native: boolean;
      translator: StreamTranslator<K>;
      body: AsyncIterator<Buffer>;
      pendingRaw: Buffer[];
      pendingChunks: K[];
    };

/** Serves one call end to end, writing the response (success or error) to `res`. */
export async function relay<C, K extends StreamChunk>(
  op: Operation<C, K>,
  candidates: Candidate<ProviderRuntime>[],
  res: ServerResponse,
  deps: ProxyDeps,
  sandbox: { name: string; limiter: Limiter },
): Promise<void> {
  const { log, metrics } = deps;
  const started = Date.now();
  const call = startModelCall(metrics, { api: op.ingress.name, kind: op.kind, model: op.model, stream: op.stream });
  const refused = sandbox.limiter.tryStart(`sandbox ${sandbox.name}`);
  if (refused) {
    log.warn({ api: op.ingress.name, model: op.model, reason: refused.message }, 'sandbox limit reached');
    call.refused(refused.limit);
    call.end({ status: 429 });
    const error = { status: 429, type: 'rate_limit_error', message: `${refused.message}; retry later` };
    return writeJson(res, 429, op.ingress.errorBody(error), { 'retry-after': String(Math.max(1, Math.ceil(refused.retryAfterMs / 1000))) });
  }
  let spent = { tokens: 0, costUSD: 0 };
  const controller = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) controller.abort(new DOMException('client disconnected', 'AbortError'));
  });
  const usable = candidates.filter((c) => op.supports(c.provider));
  const totalMs = Math.max(...usable.map((c) => c.provider.config.timeouts.totalMs), 1);
  const deadline = started + totalMs;
  const signal = AbortSignal.any([controller.signal, AbortSignal.timeout(totalMs)]);
  const context: TranslateContext = { requestedModel: op.model, id: callId(op.kind), created: Math.floor(started / 1000) };
  let providerName = 'none';
  let status = 200;
  let described: ReturnType<typeof describeResult> = {};
  try {
    if (usable.length === 0) {
      throw new UpstreamFailure('status', 'none', { status: 400, type: 'invalid_request_error', message: `no provider of model '${op.model}' supports ${op.kind}` });
    }
    const outcome = await route(usable, (attempt) => tryProvider(op, attempt, context, call), { log, signal, deadline });
    providerName = outcome.provider.config.name;
    try {
      if (outcome.kind === 'json') {
        spent = account(call, outcome.provider, outcome.model, op.usage(outcome.result));
        described = describeResult(outcome.result);
        writeJson(res, 200, outcome.native ?? op.render(outcome.result));
      } else {
        call.firstChunk();
        ({ spent, described } = await streamOut(op, outcome, res, signal, context, deps, call));
      }
    } finally {
      outcome.release(spent.tokens, spent.costUSD);
    }
  } catch (err) {
    const failure = toClientError(err);
    status = failure.error.status;
    if (failure.error.status !== 499) {
      log.warn({ api: op.ingress.name, model: op.model, status, reason: failure.error.message }, 'model call failed');
      const message = deps.secrets.scrub(failure.error.message);
      const headers: Record<string, string> = failure.retryAfterMs !== undefined ? { 'retry-after': String(Math.ceil(failure.retryAfterMs / 1000)) } : {};
      if (!res.headersSent) writeJson(res, status, op.ingress.errorBody({ ...failure.error, message }), headers);
    }
  } finally {
    sandbox.limiter.finish(spent.tokens, spent.costUSD);
    call.end({ status, responseModel: described.model, finishReasons: described.finishReasons });
    log.info({ api: op.ingress.name, kind: op.kind, model: op.model, provider: providerName, status, ms: Date.now() - started }, 'model call');
  }
}

function targetOf(candidate: Candidate<ProviderRuntime>, apiKey: string | undefined): UpstreamTarget {
  const { provider, model } = candidate;
  return { baseURL: provider.baseURL, apiKey, model: model.upstreamName ?? model.name, headers: provider.config.headers };
}

async function tryProvider<C, K extends StreamChunk>(op: Operation<C, K>, attempt: Attempt, context: TranslateContext, call: ModelCall): Promise<Outcome<C, K>> {
  const { provider, model, lease, signal } = attempt;
  const name = provider.config.name;
  const target = targetOf({ provider, model }, lease.value);
  const reported = call.attempt(provider.config, { number: attempt.number, keyIndex: lease.index, upstreamModel: target.model });
  // Same protocol and same model name: the client's bytes go through untouched, both ways.
  const native = op.raw !== undefined && op.ingress.native.includes(provider.config.type) && target.model === op.model;
  let response: UpstreamResponse | undefined;
  try {
    let request: UpstreamRequest;
    try {
      request = op.build(provider, target);
    } catch (err) {
      if (err instanceof AdapterError) throw new UpstreamFailure('status', name, err.error);
      // Translating the client's request failed: neither the provider's fault nor worth a retry.
      throw new UpstreamFailure('status', name, { status: 400, type: 'invalid_request_error', message: `the request cannot be translated for provider ${name}: ${(err as Error).message}` });
    }
    if (native) request = { ...request, body: op.raw };
    request = { ...request, headers: { ...request.headers, ...reported.headers } };
    response = await provider.client.send(request, signal);
    if (response.status < 200 || response.status >= 300) {
      const text = await response.body.text().catch(() => '');
      throw new UpstreamFailure('status', name, provider.adapter.error(response.status, text), parseRetryAfter(response.headers['retry-after']));
    }
    if (!op.stream) {
      let bytes: Buffer;
      try {
        bytes = Buffer.from(await response.body.arrayBuffer());
      } catch (err) {
        throw classifyError(err, name, 'body');
      }
      const result = parseResult(op, provider, bytes, context);
      reported.succeeded(response.status);
      return { kind: 'json', provider, model, result, native: native ? bytes : undefined, release: attempt.release };
    }
    const translator = op.streamFrames!.translator(provider, context);
    const body = (response.body as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
    const pendingRaw: Buffer[] = [];
    const pendingChunks: K[] = [];
    // Until the first chunk the client has seen nothing, so any failure may still fail over.
    while (pendingChunks.length === 0) {
      const next = await body.next().catch((err: unknown) => Promise.reject(classifyError(err, name, 'body')));
      if (next.done) {
        pendingChunks.push(...translateOrFail(() => translator.end(), name));
        if (pendingChunks.length === 0) throw malformed(name, 'an empty stream');
        break;
      }
      pendingRaw.push(next.value);
      pendingChunks.push(...translateOrFail(() => translator.push(next.value), name));
    }
    reported.succeeded(response.status);
    return { kind: 'stream', provider, model, native, translator, body, pendingRaw, pendingChunks, release: attempt.release };
  } catch (err) {
    // A failed attempt's body is not read further: give its connection back.
    response?.body.destroy();
    const failure = err instanceof UpstreamFailure ? err : classifyError(err, name, 'headers');
    reported.failed(failure.kind, failure.error.status);
    throw failure;
  }
}

function parseResult<C, K extends StreamChunk>(op: Operation<C, K>, provider: ProviderRuntime, bytes: Buffer, context: TranslateContext): C {
  let body: unknown;
  try {
    body = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw malformed(provider.config.name, 'malformed JSON');
  }
  try {
    return op.parse(provider, body, context);
  } catch (err) {
    throw malformed(provider.config.name, `an unexpected response (${(err as Error).message})`);
  }
}

function translateOrFail<K>(step: () => K[], provider: string): K[] {
  try {
    return step();
  } catch (err) {
    if (err instanceof StreamError) throw new UpstreamFailure('status', provider, err.error);
    throw malformed(provider, `a malformed stream (${(err as Error).message})`);
  }
}

function malformed(provider: string, what: string): UpstreamFailure {
  return new UpstreamFailure('malformed', provider, { status: 502, type: 'api_error', message: `provider ${provider} returned ${what}` });
}

async function streamOut<C, K extends StreamChunk>(
  op: Operation<C, K>,
  outcome: Extract<Outcome<C, K>, { kind: 'stream' }>,
  res: ServerResponse,
  signal: AbortSignal,
  context: TranslateContext,
  deps: ProxyDeps,
  call: ModelCall,
): Promise<{ spent: { tokens: number; costUSD: number }; described: ReturnType<typeof describeResult> }> {
  const { provider, native, translator, body } = outcome;
  const encoder = op.streamFrames!.encoder(context);
  const name = provider.config.name;
  let usage: Usage | undefined;
  const described: ReturnType<typeof describeResult> = {};
  const note = (chunks: K[]) => {
    for (const c of chunks) {
      if (c.usage) usage = { input: c.usage.prompt_tokens ?? 0, output: c.usage.completion_tokens ?? 0 };
      describeResult(c, described);
    }
  };
  const done = () => ({ spent: account(call, provider, outcome.model, usage), described });
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
  const write = async (data: string | Buffer) => {
    if (data.length === 0 || res.destroyed) return;
    if (!res.write(data)) await new Promise<void>((resolve) => (res.once('drain', resolve), res.once('close', resolve)));
  };
  note(outcome.pendingChunks);
  if (native) for (const raw of outcome.pendingRaw) await write(raw);
  else for (const c of outcome.pendingChunks) await write(encoder.chunk(c));
  try {
    for (;;) {
      const next = await body.next();
      if (next.done) break;
      let chunks: K[];
      try {
        chunks = translator.push(next.value);
      } catch (err) {
        // The provider's own error event: natively it is already in the client's format.
        if (native) await write(next.value);
        if (!native) await write(encoder.error(err instanceof StreamError ? err.error : { status: 502, type: 'api_error', message: `provider ${name} sent a malformed stream` }));
        deps.log.warn({ provider: name, reason: (err as Error).message }, 'stream ended by a provider error');
        res.end();
        return done();
      }
      note(chunks);
      if (native) await write(next.value);
      else for (const c of chunks) await write(encoder.chunk(c));
    }
    const tail = translator.end();
    note(tail);
    if (!native) {
      for (const c of tail) await write(encoder.chunk(c));
      await write(encoder.end());
    }
    res.end();
  } catch (err) {
    if (signal.aborted && !res.destroyed && !(signal.reason instanceof DOMException && signal.reason.name === 'TimeoutError')) {
      res.end();
      return done();
    }
    const failure = classifyError(signal.aborted ? signal.reason : err, name, 'body');
    deps.log.warn({ provider: name, kind: failure.kind, reason: failure.error.message }, 'stream broke after it started; ending it with an error event');
    if (!res.destroyed) {
      await write(encoder.error({ ...failure.error, message: `the stream from provider ${name} broke: ${failure.error.message}` }));
      res.end();
    }
  }
  return done();
}

/** Reports tokens and cost to the call's telemetry; returns them for the limits. */
function account(call: ModelCall, provider: ProviderRuntime, model: Candidate<ProviderRuntime>['model'], usage: Usage | undefined): { tokens: number; costUSD: number } {
  if (!usage) return { tokens: 0, costUSD: 0 };
  const cost = (usage.input * (model.inputCostPerMTok ?? 0) + usage.output * (model.outputCostPerMTok ?? 0)) / 1e6;
  call.usage(provider.config, model.name, usage, cost);
  return { tokens: usage.input + usage.output, costUSD: cost };
}

function toClientError(err: unknown): { error: ProviderError; retryAfterMs?: number } {
  if (err instanceof UpstreamFailure) return { error: err.error, retryAfterMs: err.error.status === 429 ? err.retryAfterMs : undefined };
  if (err instanceof RoutingError) return { error: err.error, retryAfterMs: err.retryAfterMs };
  throw err;
}

/** Writes a JSON body (a Buffer is written as is). */
export function writeJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const payload = Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': payload.length, ...headers });
  res.end(payload);
}

function callId(kind: string): string {
  const prefix = kind === 'embeddings' ? 'emb' : kind === 'completions' ? 'cmpl' : 'chatcmpl';
  return `${prefix}-${randomBytes(12).toString('base64url')}`;
}
