/**
 * One attempt on one provider: build the request, send it, check the status, and read the answer
 * up to the point where the client would see something. For JSON that is the whole body (parsed,
 * or for a pass-through only its usage read from the tail); for a stream it is the first frame
 * with content. Every failure up to there is an UpstreamFailure the router may fail over on.
 */
import { AdapterError, StreamError, type StreamTranslator, type TranslateContext, type UpstreamRequest, type UpstreamTarget } from '../providers/types.js';
import type { Attempt, ProviderRuntime } from '../router/router.js';
import { bodyText, MAX_ERROR_BODY_BYTES, type CallAbort, type UpstreamAnswer, type UpstreamResponse } from '../upstream/client.js';
import { classifyError, parseRetryAfter, UpstreamFailure } from '../upstream/failure.js';
import { hasContent } from './content.js';
import type { Logger } from '../log/logger.js';
import type { ModelCall } from '../telemetry/model-call.js';
import type { Operation, StreamChunk, Usage } from './operation.js';
import { abandonedUsage, costOf, earlyInput, scanUsage } from './usage.js';

/** What a call needs to run attempts. */
export interface AttemptScope<C, K extends StreamChunk> {
  op: Operation<C, K>;
  context: TranslateContext;
  /** The call's telemetry: each attempt reports its start, success or failure there. */
  call: ModelCall;
  /** The call's abort, which a JSON request in flight hears without a listener of its own. */
  abort: CallAbort;
  log: Logger;
  /** Whether the call counts against the limits (counting tokens does not). */
  counted: boolean;
  /**
   * Attempts whose request went upstream and whose answer never reached the client, which the
   * provider may bill all the same (see {@link billedAnyway}), each with what it is counted
   * (relay/usage.ts abandonedUsage); added to by runAttempt.
   */
  abandoned?: Abandoned[];
}

/** An attempt counted though it failed: the provider had its request (AttemptScope.abandoned). */
export interface Abandoned {
  provider: ProviderRuntime;
  model: Attempt['model'];
  usage: Usage;
}

interface Common {
  provider: ProviderRuntime;
  model: Attempt['model'];
  /** The attempt that answered: its caller releases it (attempt.release) once the response is over. */
  attempt: Attempt;
}

/**
 * A JSON answer: parsed (`result`), or passed through (`native`) with its usage read from the
 * tail; a pass-through too large to hold is its start (`native`) and the rest to relay (`rest`),
 * its usage read when the rest has gone by (./json-out.ts).
 */
export type JsonOutcome<C> = Common & {
  kind: 'json';
  result: C | undefined;
  native: Buffer | undefined;
  usage: Usage | undefined;
  rest?: UpstreamAnswer['rest'];
  /** What the answer holds of the answer budget until its client has it (UpstreamAnswer.held). */
  held: number;
};

/** A stream that reached its first content frame (or its end); the frames so far are held. */
export type StreamOutcome<K> = Common & {
  kind: 'stream';
  native: boolean;
  translator: StreamTranslator<K>;
  body: AsyncIterator<Buffer>;
  /** Native pass-through: the frames held back, as wire bytes. */
  pendingFrames: Buffer[];
  pendingChunks: K[];
  /** The upstream already ended (the whole stream is held). */
  ended: boolean;
};

export type Outcome<C, K> = JsonOutcome<C> | StreamOutcome<K>;

const EMPTY = new Uint8Array(0);

/**
 * How much of a pass-through JSON answer is held before it goes out: an answer that breaks within
 * it may still fail over; past it the answer is relayed as it comes (embeddings of thousands of
 * inputs as floats run past 100 MB), with no bound of its own. A translated answer is read whole,
 * up to the client's maxResponseBytes (server/runtime.ts).
 */
export const PASS_THROUGH_HELD_BYTES = 16 * 1024 * 1024;

function targetOf(provider: ProviderRuntime, model: Attempt['model'], apiKey: string | undefined, unconstrained: boolean): UpstreamTarget {
  const target: UpstreamTarget = { baseURL: provider.baseURL, apiKey, model: model.upstreamName ?? model.name, headers: provider.config.headers };
  if (unconstrained) target.unconstrained = true;
  if (model.numCtx !== undefined) target.numCtx = model.numCtx;
  return target;
}

/**
 * Runs one attempt; once more, on the same key, without the constrained decoding the sidecar
 * asked for when the provider refused that (ProviderAdapter.constraintRefused).
 * @throws {UpstreamFailure}
 */
export async function runAttempt<C, K extends StreamChunk>(scope: AttemptScope<C, K>, attempt: Attempt, unconstrained = false): Promise<Outcome<C, K>> {
  const { op, context, call } = scope;
  const { provider, model, lease } = attempt;
  const name = provider.config.name;
  const target = targetOf(provider, model, lease.value, unconstrained);
  const reported = call.attempt(provider.config, { number: attempt.number, keyIndex: lease.index, upstreamModel: target.model });
  // Same protocol and same model name: the client's bytes go through untouched, both ways.
  const native = op.raw !== undefined && op.ingress.native.includes(provider.config.type) && target.model === op.model;
  let response: UpstreamResponse | undefined;
  let translator: StreamTranslator<K> | undefined;
  try {
    let request: UpstreamRequest;
    try {
      request = op.build(provider, target);
      // The body is translated when first read (providers/shared/http.ts): a pass-through sends
      // the client's bytes and never reads it; any other attempt reads it here, so a request that
      // cannot be translated fails as this attempt's 400, not as a failure to send.
      const body = native ? (op.nativeBody?.(provider, op.raw!) ?? op.raw) : request.body;
      request = { method: request.method, url: request.url, headers: request.headers, body };
    } catch (err) {
      if (err instanceof AdapterError) throw new UpstreamFailure('status', name, err.error);
      // Translating the client's request failed: neither the provider's fault nor worth a retry.
      throw new UpstreamFailure('status', name, { status: 400, type: 'invalid_request_error', message: `the request cannot be translated for provider ${name}: ${(err as Error).message}` });
    }
    // Trace context for this attempt (traceparent), when tracing is on.
    if (!isEmpty(reported.headers)) request = { ...request, headers: { ...request.headers, ...reported.headers } };
    scope.abort.written = false;
    if (!op.stream) {
      // The whole answer at once (ProviderClient.json): no stream to read or to give back.
      const answer = await provider.client.json(request, scope.abort, native ? PASS_THROUGH_HELD_BYTES : undefined);
      let outcome: JsonOutcome<C>;
      try {
        if (answer.status < 200 || answer.status >= 300) throw statusFailure(provider, answer.status, answer.body.toString('utf8', 0, MAX_ERROR_BODY_BYTES), answer.headers);
        outcome = answer.rest
          ? { provider, model, attempt, kind: 'json', result: undefined, native: answer.body, usage: undefined, rest: answer.rest, held: answer.held }
          : jsonOutcome(op, attempt, answer.body, native, context, answer.held);
      } catch (err) {
        // Not given to the client: what the answer held of the answer budget goes back now.
        provider.client.release(answer);
        throw err;
      }
      reported.succeeded(answer.status);
      return outcome;
    }
    response = await provider.client.send(request, scope.abort);
    if (response.status < 200 || response.status >= 300) throw statusFailure(provider, response.status, await bodyText(response.body), response.headers);
    translator = op.streamFrames!.translator(provider, context);
    const outcome = await firstContent({ provider, response, native, translator, common: { provider, model, attempt } });
    reported.succeeded(response.status);
    return outcome;
  } catch (err) {
    // A failed attempt's body is not read further: give its connection back.
    response?.body.destroy();
    const failure = err instanceof UpstreamFailure ? err : classifyError(err, name, 'headers');
    reported.failed(failure.kind, failure.error.status);
    if (scope.counted && billedAnyway(failure, scope.abort)) abandon(scope, attempt, translator);
    // Constrained decoding the client asked another API for, refused by this provider: the
    // answer without it (a JSON instruction, plain tools) beats no answer.
    if (!native && !unconstrained && provider.adapter.constraintRefused?.(failure.error) && !scope.abort.aborted) {
      scope.log.warn({ provider: name, reason: failure.error.message }, 'constrained decoding refused by the provider: asking again without strict tools or output format');
      return runAttempt(scope, attempt, true);
    }
    throw failure;
  }
}

/**
 * Whether an attempt that failed may be billed by the provider all the same: its request went out
 * whole on an open connection (CallAbort.written), and then the call was given up (client gone,
 * total deadline), or the sidecar stopped waiting (firstByteMs, or idleMs before a stream's first
 * content), or the answer came and could not be used (a 2xx the sidecar cannot read, one past what
 * it holds). The provider goes on with such a request or has answered it: a reasoning model asked
 * for a long answer outlasts firstByteMs, and each attempt the sidecar then fails over to bills
 * again. Counted as nothing, an agent had that thinking for free at will. An error status is the
 * provider's refusal, and a connection the provider's side broke before any answer (a reset, an
 * outage) most likely never reached it: neither is counted, or an outage could spend the day's
 * budget on retries nothing answered (ver18).
 */
function billedAnyway(failure: UpstreamFailure, abort: CallAbort): boolean {
  if (!abort.written) return false;
  if (abort.aborted) return true;
  const kind = failure.kind;
  return kind === 'timeout' || kind === 'malformed' || kind === 'too_large';
}

/**
 * An attempt the provider may bill though it failed: counted against the provider's limits now
 * (the router releases the attempt with nothing) and kept for the call to count against the
 * sandbox's.
 */
function abandon<C, K extends StreamChunk>(scope: AttemptScope<C, K>, attempt: Attempt, translator: StreamTranslator<K> | undefined): void {
  // A stream left before its content may have had the provider's input count (Anthropic's message_start).
  const usage = abandonedUsage(scope.op, attempt.model, earlyInput(translator));
  (scope.abandoned ??= []).push({ provider: attempt.provider, model: attempt.model, usage });
  attempt.release(usage.input + usage.output, costOf(attempt.model, usage));
}

/** A non-2xx answer as the provider's error, with its Retry-After; the same for whole and streamed answers. */
function statusFailure(provider: ProviderRuntime, status: number, text: string, headers: Record<string, string | string[] | undefined>): UpstreamFailure {
  return new UpstreamFailure('status', provider.config.name, provider.adapter.error(status, text), parseRetryAfter(headers['retry-after']));
}

/** A stream answer with its status checked, to be read. */
interface Read<K extends StreamChunk> {
  provider: ProviderRuntime;
  response: UpstreamResponse;
  native: boolean;
  /** The stream's translator (made by the attempt, which reads what it was told when the stream is given up). */
  translator: StreamTranslator<K>;
  common: Common;
}

/** A whole JSON answer: passed through with its usage read from the tail, or parsed. */
function jsonOutcome<C, K extends StreamChunk>(op: Operation<C, K>, attempt: Attempt, bytes: Buffer, native: boolean, context: TranslateContext, held: number): JsonOutcome<C> {
  const { provider, model } = attempt;
  if (native && looksWhole(bytes)) {
    // Passed through as it is: only the usage is needed, and it sits at the end.
    const usage = scanUsage(bytes);
    if (usage) return { provider, model, attempt, kind: 'json', result: undefined, native: bytes, usage, held };
  }
  const result = parseResult(op, provider, bytes, context);
  return { provider, model, attempt, kind: 'json', result, native: native ? bytes : undefined, usage: op.usage(result), held };
}

/** A JSON object that is not cut off: `{` first, `}` last (whitespace aside). */
function looksWhole(bytes: Buffer): boolean {
  let start = 0;
  let end = bytes.length - 1;
  while (start <= end && isSpace(bytes[start]!)) start++;
  while (end >= start && isSpace(bytes[end]!)) end--;
  return bytes[start] === 0x7b && bytes[end] === 0x7d;
}

function isEmpty(object: object): boolean {
  for (const _ in object) return false;
  return true;
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

async function firstContent<K extends StreamChunk>({ provider, response, native, translator, common }: Read<K>): Promise<StreamOutcome<K>> {
  const name = provider.config.name;
  const body = (response.body as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  const pendingFrames: Buffer[] = [];
  const pendingChunks: K[] = [];
  const hold = (chunks: K[]) => {
    for (const c of chunks) pendingChunks.push(c);
    if (native) pendingFrames.push(framesOf(translator));
    return chunks.some(hasContent);
  };
  // Until content reaches the client it has seen nothing, so any failure may still fail over:
  // frames that only open the answer (a role chunk, message_start, ping) are held back.
  for (;;) {
    const next = await body.next().catch((err: unknown) => Promise.reject(classifyError(err, name, 'body')));
    if (next.done) {
      hold(translateOrFail(() => translator.end(), name));
      if (pendingChunks.length === 0) throw malformed(name, 'an empty stream');
      return { ...common, kind: 'stream', native, translator, body, pendingFrames, pendingChunks, ended: true };
    }
    if (hold(translateOrFail(() => translator.push(next.value), name))) break;
    // A frame after the held ones may have failed already (the translator hands out the good
    // frames first): surface that now, while failing over is still possible.
    if (pendingChunks.length > 0) hold(translateOrFail(() => translator.push(EMPTY), name));
  }
  return { ...common, kind: 'stream', native, translator, body, pendingFrames, pendingChunks, ended: false };
}

const NO_FRAMES = Buffer.alloc(0);

/** The wire bytes of the frames the translator handled last, or none when it cannot say. */
export function framesOf<K>(translator: StreamTranslator<K>): Buffer {
  return translator.frames?.() ?? NO_FRAMES;
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
