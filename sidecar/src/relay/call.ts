/**
 * One model call from an agent to a provider and back: the sandbox's limits, the deadline, the
 * failover loop over attempts (./attempt.ts), then the answer to the client — a JSON body, or a
 * stream (./stream-out.ts) after which there is no failover. Usage is accounted against the
 * limits and reported to the observers, estimated when the answer brought none.
 */
import type { Logger } from '../log/logger.js';
import type { SecretRegistry } from '../log/redact.js';
import type { ProviderError, TranslateContext } from '../providers/types.js';
import type { Limiter, Reservation } from '../router/limits.js';
import type { UsageLedger } from '../usage/ledger.js';
import type { Candidate } from '../router/models.js';
import { CREDENTIALS_REJECTED, route, RoutingError, type ProviderRuntime } from '../router/router.js';
import { CallAbort } from '../upstream/client.js';
import { classifyError, UpstreamFailure } from '../upstream/failure.js';
import type { Metrics } from '../telemetry/metrics.js';
import { describeResult, startModelCall, type Described, type ModelCall } from '../telemetry/model-call.js';
import { runAttempt, type Abandoned, type AttemptScope, type Outcome } from './attempt.js';
import { jsonOut } from './json-out.js';
import { callId } from './ids.js';
import type { Operation, StreamChunk, Usage } from './operation.js';
import type { ClientSink } from './sink.js';
import { streamOut } from './stream-out.js';
import { textTokens } from '../ingress/estimate.js';
import { answerTokens } from './content.js';
import { abandonedUsage, costOf, countable, earlyInput, estimated, estimatedInput, heldOutput, inputOn, scanHead } from './usage.js';

export interface RelayDeps {
  log: Logger;
  secrets: SecretRegistry;
  metrics: Metrics;
  /** Whether model calls' messages go on their spans (`telemetry.captureMessageContent`, read live). */
  captureContent?: () => boolean;
}

/** The sandbox a call runs in: its name (for messages) and its limits. */
export interface SandboxScope {
  name: string;
  limiter: Limiter;
  /** This pod's usage today, reported to the operator (ADR 0014). */
  ledger?: UsageLedger | undefined;
}

/** Serves one call end to end, writing the answer (success or error) to `client`. */
export async function runCall<C, K extends StreamChunk>(
  op: Operation<C, K>,
  candidates: Candidate<ProviderRuntime>[],
  client: ClientSink,
  deps: RelayDeps,
  sandbox: SandboxScope,
): Promise<void> {
  const started = Date.now();
  const call = startModelCall(deps.metrics, { api: op.ingress.name, kind: op.kind, model: op.model, stream: op.stream });
  if (deps.captureContent?.()) call.captureContent(op.chatRequest?.(), (text) => deps.secrets.scrub(text));
  // Under the call's span: its log lines carry the call's span id, not the agent's.
  return call.within(serveCall, op, candidates, client, deps, sandbox, call, started);
}

async function serveCall<C, K extends StreamChunk>(
  op: Operation<C, K>,
  candidates: Candidate<ProviderRuntime>[],
  client: ClientSink,
  deps: RelayDeps,
  sandbox: SandboxScope,
  call: ModelCall,
  started: number,
): Promise<void> {
  const { log } = deps;
  // Counting tokens is free and rate-limited apart from generation by the providers: it uses up
  // none of the sandbox's or the providers' generation limits (Claude Code counts often), only
  // the sandbox's requests per minute and at once, counted on their own (Limiter.counting).
  const counted = op.kind !== 'count_tokens';
  const limiter = counted ? sandbox.limiter : (sandbox.limiter.counting ?? sandbox.limiter);
  // Held against the token and budget limits while the call runs (router/limits.ts Reservation).
  const reserve = counted && (sandbox.limiter.reserves || anyReserves(candidates)) ? reservationOf(op, candidates) : undefined;
  const refused = limiter.tryStart(counted ? `sandbox ${sandbox.name}` : `sandbox ${sandbox.name} (counting tokens)`, reserve);
  if (refused) {
    log.warn({ api: op.ingress.name, model: op.model, reason: refused.message }, 'sandbox limit reached');
    call.refused(refused.limit);
    call.end({ status: 429 });
    const held = op.heldByProvider && refused.held ? HELD_BY_PROVIDER : '';
    const error = { status: 429, type: 'rate_limit_error', message: `${refused.message}${held}; retry later` };
    return client.json(429, op.ingress.errorBody(error), { 'retry-after': String(Math.max(1, Math.ceil(refused.retryAfterMs / 1000))) });
  }
  const context: TranslateContext = { requestedModel: op.model, id: callId(op.kind), created: Math.floor(started / 1000) };
  // What the answer used, and what attempts before it that failed but may be billed used.
  let spent: Spent = NOTHING;
  let abandonedSpent: Spent = NOTHING;
  // One controller per call: the client going away and the total deadline both abort it. A
  // cleared timer instead of AbortSignal.timeout + AbortSignal.any, which kept every call's
  // signals alive until the deadline (600 s by default) and grew the heap under load.
  const controller = new CallAbort();
  client.onClose(() => controller.abort(new DOMException('client disconnected', 'AbortError')));
  const usable = candidates.every((c) => op.supports(c.provider)) ? candidates : candidates.filter((c) => op.supports(c.provider));
  let totalMs = 1;
  for (const c of usable) totalMs = Math.max(totalMs, c.provider.config.timeouts.totalMs);
  // No closure: the timer holds the controller only (it lives until the call ends).
  const timer = setTimeout(abortForTimeout, totalMs, controller);
  let providerName = 'none';
  let status = 200;
  let described: Described = {};
  const scope: AttemptScope<C, K> = { op, context, call, abort: controller, log, counted };
  try {
    if (usable.length === 0) {
      throw new UpstreamFailure('status', 'none', { status: 400, type: 'invalid_request_error', message: `no provider of model '${op.model}' supports ${op.kind}` });
    }
    const outcome: Outcome<C, K> = await route(usable, (attempt) => runAttempt(scope, attempt), { log, abort: controller, deadline: started + totalMs, reserve, uncounted: !counted });
    // Before the answer's own: the call's span ends with the usage of the attempt that answered.
    if (scope.abandoned) abandonedSpent = accountAbandoned(call, scope.abandoned, client);
    if (outcome.kind === 'json' && outcome.held > 0) keepAnswer(client, outcome);
    providerName = outcome.provider.config.name;
    try {
      if (outcome.kind === 'json' && outcome.rest) {
        if (call.recording) described = scanHead(outcome.native!);
        let usage: Usage | undefined;
        try {
          usage = await jsonOut(outcome.native!, outcome.rest, client);
        } catch (err) {
          // The provider had answered (and billed) before the relay broke, the agent gone or the
          // upstream cut: counted as a plain call given up once its request went upstream.
          spent = account(call, outcome, abandonedUsage(op, outcome.model), true, client);
          throw classifyError(controller.reason ?? err, providerName, 'body');
        }
        const counts = countable(usage, noTokens, undefined);
        spent = account(call, outcome, counts ?? estimated(op, 0, outcome.model), counts === undefined || counts.estimated === true, client);
      } else if (outcome.kind === 'json') {
        // The answer first: what follows is bookkeeping the client need not wait for. Nothing
        // else runs in between (no await), so the next call sees this one counted; counted also
        // when rendering the answer fails (the provider was paid).
        try {
          client.json(200, outcome.native ?? op.render(outcome.result as C));
        } finally {
          // A JSON answer without usage (a server that counts nothing, Gemini's embeddings) is
          // estimated, as a stream is, so it cannot escape the limits; counting tokens costs nothing.
          const answer = { op, outcome, context };
          const usage = countable(outcome.usage, op.kind === 'embeddings' ? noTokens : jsonTokens, answer);
          if (usage) spent = account(call, outcome, usage, usage.estimated === true, client);
          else if (op.kind !== 'count_tokens') spent = account(call, outcome, estimated(op, op.kind === 'embeddings' ? 0 : jsonTokens(answer), outcome.model), true, client);
        }
        if (call.recording || op.answered) described = outcome.result !== undefined ? describeResult(outcome.result) : outcome.native ? scanHead(outcome.native) : {};
        if (op.answered && described.id) op.answered(described.id, spent.input + spent.output);
        if (call.capturing) call.output(outcome.result ?? parsedAnswer(op, outcome, context));
      } else {
        call.firstChunk();
        const tally = await streamOut(op, outcome, client, controller.signal, context, log, deps.secrets, call.capturing ? (chunk) => call.output(chunk) : undefined);
        described = tally.described;
        // An error event after the stream started: the client's status was 200, the call failed.
        if (tally.failedStatus !== undefined) status = tally.failedStatus;
        const usage = countable(tally.usage, streamedTokens, tally);
        // Cut before its usage: the input the provider reported up front (Anthropic's message_start), else estimated.
        spent = account(call, outcome, usage ?? estimated(op, tally.outputTokens, outcome.model, earlyInput(outcome.translator)), usage === undefined || usage.estimated === true, client);
        if (op.answered && described.id && tally.failedStatus === undefined) op.answered(described.id, spent.input + spent.output);
      }
    } finally {
      outcome.attempt.release(spent.tokens, spent.costUSD);
    }
  } catch (err) {
    // Attempts the provider had and may bill though the call failed (./attempt.ts billedAnyway).
    if (scope.abandoned && abandonedSpent === NOTHING) abandonedSpent = accountAbandoned(call, scope.abandoned, client);
    const failure = toClientError(err);
    status = failure.error.status;
    providerName = call.providerName;
    if (status !== 499) {
      log.warn({ api: op.ingress.name, model: op.model, status, reason: failure.error.message }, 'model call failed');
      const message = deps.secrets.scrub(failure.error.message);
      const headers: Record<string, string> = failure.retryAfterMs !== undefined ? { 'retry-after': String(Math.max(1, Math.ceil(failure.retryAfterMs / 1000))) } : {};
      // Rejected credentials stay rejected until a Secret changes: the SDKs need not retry (they read this header).
      if (failure.error.code === CREDENTIALS_REJECTED) headers['x-should-retry'] = 'false';
      // 529 is Anthropic's overload; every other API says 503 (google-genai retries 503, not 529).
      const error = status === 529 && op.ingress.name !== 'anthropic' ? { ...failure.error, status: 503, type: 'api_error', message } : { ...failure.error, message };
      if (!client.started && !client.gone) client.json(error.status, op.ingress.errorBody(error), headers);
    }
  } finally {
    clearTimeout(timer);
    if (abandonedSpent !== NOTHING) spent = plus(spent, abandonedSpent);
    limiter.finish(spent.tokens, spent.costUSD, reserve);
    if (counted) sandbox.ledger?.record(op.model, { input: spent.input, output: spent.output, costUSD: spent.costUSD });
    call.end({ status, responseModel: described.model, responseId: described.id, finishReasons: described.finishReasons });
    // Checked first: the record would be built for nothing at the usual warn level.
    if (log.isLevelEnabled('info')) log.info({ api: op.ingress.name, kind: op.kind, model: op.model, provider: providerName, status, ms: Date.now() - started }, 'model call');
  }
}

/** Why a call naming input the provider holds holds so much (relay/usage.ts inputOn), for its refusal. */
const HELD_BY_PROVIDER = ". This call names input the provider holds (a cached context, a conversation or items OpenAI keeps, a stored prompt), whose size its body does not tell: it is held at the model's context window (its contextWindow, or 1,000,000 tokens where it names none)";

/** Whether a provider among the candidates has a token or budget limit (a loop: no closure per call). */
function anyReserves(candidates: Candidate<ProviderRuntime>[]): boolean {
  for (const c of candidates) if (c.provider.limiter.reserves) return true;
  return false;
}

/**
 * What a call may use: its input as estimated (the whole conversation where the sidecar expands
 * one, else the body), and its output (max_tokens for each answer: ./usage.ts heldOutput); its
 * cost at the prices of the dearest model it may be routed to (calls at once that all fail over
 * from a cheap primary would otherwise run past the budget by the ratio of the prices).
 */
function reservationOf(op: Operation<unknown, StreamChunk>, candidates: Candidate<ProviderRuntime>[]): Reservation {
  const usage = { input: estimatedInput(op), output: heldOutput(op) };
  if (op.heldByProvider) return heldByProviderReservation(op, usage, candidates);
  let costUSD = 0;
  for (const candidate of candidates) costUSD = Math.max(costUSD, costOf(candidate.model, usage));
  return { tokens: usage.input + usage.output, costUSD };
}

/** The reservation of a call naming input the provider holds: its input up to each candidate model's context window (./usage.ts inputOn). */
function heldByProviderReservation(op: Operation<unknown, StreamChunk>, usage: { input: number; output: number }, candidates: Candidate<ProviderRuntime>[]): Reservation {
  let tokens = 0;
  let costUSD = 0;
  for (const { model } of candidates) {
    const held = { input: inputOn(op, model, usage.input), output: usage.output };
    tokens = Math.max(tokens, held.input + held.output);
    costUSD = Math.max(costUSD, costOf(model, held));
  }
  return { tokens, costUSD };
}

/**
 * Tokens of a JSON answer without an output count, estimated from its content (./content.ts
 * answerTokens): the result as parsed, or the bytes passed through parsed now; bytes that cannot
 * be parsed are counted whole (ingress/estimate.ts textTokens), over rather than nothing.
 */
function jsonTokens<C, K extends StreamChunk>({ op, outcome, context }: { op: Operation<C, K>; outcome: { provider: ProviderRuntime; native: Buffer | undefined; result: C | undefined }; context: TranslateContext }): number {
  try {
    const answer = outcome.result ?? parsedAnswer(op, outcome, context);
    return answer !== undefined ? answerTokens(answer) : outcome.native ? textTokens(outcome.native.toString('utf8')) : 0;
  } catch {
    return 0;
  }
}

/** An answer's bytes stay counted against the answer budget (upstream/answer-budget.ts) until its client has them. */
function keepAnswer(client: ClientSink, outcome: { provider: ProviderRuntime; held: number }): void {
  const budget = outcome.provider.client.config.answers;
  if (!budget) return;
  if (client.keepUntilDone) client.keepUntilDone(outcome.held, budget);
  else budget.release(outcome.held);
}

/** No text to estimate an output from (embeddings, whose output is none). */
const noTokens = () => 0;

const streamedTokens = (tally: { outputTokens: number }) => tally.outputTokens;

function abortForTimeout(controller: CallAbort): void {
  controller.abort(new DOMException('the total timeout passed', 'TimeoutError'));
}

/** Reports usage and cost to the call's telemetry and the client; returns them for the limits. */
/** What a call used, as the limits and the ledger count it. */
interface Spent {
  tokens: number;
  costUSD: number;
  input: number;
  output: number;
}

const NOTHING: Spent = { tokens: 0, costUSD: 0, input: 0, output: 0 };

function plus(a: Spent, b: Spent): Spent {
  return { tokens: a.tokens + b.tokens, costUSD: a.costUSD + b.costUSD, input: a.input + b.input, output: a.output + b.output };
}

/** Counts the attempts that failed after the provider had their request (./attempt.ts abandon). */
function accountAbandoned(call: ModelCall, abandoned: Abandoned[], client: ClientSink): Spent {
  let spent = NOTHING;
  for (const a of abandoned) spent = plus(spent, account(call, a, a.usage, true, client));
  return spent;
}

function account(
  call: ModelCall,
  outcome: { provider: ProviderRuntime; model: Candidate<ProviderRuntime>['model'] },
  usage: Usage,
  estimated: boolean,
  client: ClientSink,
): Spent {
  const costUSD = costOf(outcome.model, usage);
  call.usage(outcome.provider.config, outcome.model.name, usage, costUSD, estimated);
  client.accounted?.({ provider: outcome.provider.config.name, model: outcome.model.name, inputTokens: usage.input, outputTokens: usage.output, costUSD, estimated });
  return { tokens: usage.input + usage.output, costUSD, input: usage.input, output: usage.output };
}

/**
 * A JSON answer passed through as the provider wrote it is not parsed on the hot path; content
 * capture and an estimate of its output (jsonTokens) parse it here; an answer that cannot be read is undefined.
 */
function parsedAnswer<C, K extends StreamChunk>(op: Operation<C, K>, outcome: { provider: ProviderRuntime; native: Buffer | undefined }, context: TranslateContext): C | undefined {
  if (!outcome.native) return undefined;
  try {
    return op.parse(outcome.provider, JSON.parse(outcome.native.toString('utf8')), context);
  } catch {
    return undefined;
  }
}

const WAITABLE = new Set([429, 503, 529]);

function toClientError(err: unknown): { error: ProviderError; retryAfterMs?: number } {
  // A provider's Retry-After means something on a 429 and on overload (503, Anthropic's 529).
  if (err instanceof UpstreamFailure) return { error: err.error, retryAfterMs: WAITABLE.has(err.error.status) ? err.retryAfterMs : undefined };
  if (err instanceof RoutingError) return { error: err.error, retryAfterMs: err.retryAfterMs };
  throw err;
}
