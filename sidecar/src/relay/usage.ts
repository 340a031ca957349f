/**
 * Usage of a call: read cheaply from a pass-through body (with the answer's id and model, for its
 * span), counted from stream chunks, estimated when the provider reported none, and priced from
 * the model entry.
 */
import type { ModelEntryConfig } from '../config/schema.js';
import { estimateTokens, quickTokens, textTokens } from '../ingress/estimate.js';
import { cacheCreation } from '../providers/anthropic/response.js';
import { tokenCount } from '../providers/shared/chunks.js';
import type { AnthropicUsage } from '../wire/anthropic.js';
import type { CacheCreation } from '../wire/openai.js';
import type { Operation, StreamChunk, Usage } from './operation.js';

/** The key searched for, as bytes once: a string needle is encoded anew on every search. */
const USAGE_KEY = Buffer.from('"usage"');

/**
 * Usage from the tail of an OpenAI or Anthropic JSON body without parsing the whole body: both
 * APIs write the top-level `usage` object after the content, so its last occurrence as a key is
 * the one (inside a JSON string a quote is escaped, so `"usage"` there cannot be a key). It counts
 * only as a member of the body itself: an object the model wrote (Gemini's function-call `args`,
 * an Anthropic `tool_use.input`) may hold a `usage` key too, and a Gemini answer's own is
 * `usageMetadata`. Returns undefined when no top-level usage object with counts is found; the
 * caller then parses the body.
 */
export function scanUsage(body: Buffer): Usage | undefined {
  let at = body.lastIndexOf(USAGE_KEY);
  if (at < 0) return undefined;
  at += 7;
  while (at < body.length && body[at] !== 0x3a /* : */) at++;
  while (at < body.length && body[at] !== 0x7b /* { */ && body[at] !== 0x6e /* n(ull) */) at++;
  if (body[at] !== 0x7b) return undefined;
  const end = matchingBrace(body, at);
  if (end < 0 || !closesBody(body, end + 1)) return undefined;
  let usage: Record<string, unknown>;
  try {
    usage = JSON.parse(body.toString('utf8', at, end + 1)) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  return usageFromObject(usage);
}

/** Canonical usage from an OpenAI (`prompt_tokens`) or Anthropic (`input_tokens`) usage object. */
export function usageFromObject(usage: Record<string, unknown>): Usage | undefined {
  const n = (key: string) => tokenCount(usage[key]);
  if (typeof usage.prompt_tokens === 'number') return { input: n('prompt_tokens'), output: n('completion_tokens') };
  if (typeof usage.input_tokens === 'number' || typeof usage.output_tokens === 'number') {
    // Anthropic reports cached prompt tokens beside input_tokens; they are prompt tokens too.
    const counted: Usage = { input: n('input_tokens') + n('cache_creation_input_tokens') + n('cache_read_input_tokens'), output: n('output_tokens') };
    const writes = cacheCreation(usage as Partial<AnthropicUsage>);
    if (writes) counted.cacheCreation = writes;
    return counted;
  }
  return undefined;
}

/**
 * Whether the body from `from` (outside any string) only ends the object the member before it
 * belongs to: nothing in it closes a bracket or brace before the body's last one, so that member
 * was the body's own, not one nested in its content.
 */
function closesBody(body: Buffer, from: number): boolean {
  let depth = 0;
  let inString = false;
  let last = body.length - 1;
  while (last >= from && (body[last] === 0x20 || body[last] === 0x0a || body[last] === 0x0d || body[last] === 0x09)) last--;
  for (let i = from; i < last; i++) {
    const c = body[i];
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) depth++;
    else if ((c === 0x7d || c === 0x5d) && --depth < 0) return false;
  }
  return !inString && depth === 0 && body[last] === 0x7d;
}

/** Index of the brace closing the object opened at `start`, skipping strings; -1 when cut off. */
function matchingBrace(body: Buffer, start: number): number {
  let depth = 0;
  let inString = false;
  for (let i = start; i < body.length; i++) {
    const c = body[i];
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b) depth++;
    else if (c === 0x7d && --depth === 0) return i;
  }
  return -1;
}

/** How far into a pass-through body its id and model are looked for. */
const HEAD_BYTES = 1024;

/**
 * The `id` and `model` members of a pass-through JSON body, read from its start without parsing
 * the rest: OpenAI and Anthropic write them first (`{"id":…,"object":…,"created":…,"model":…` and
 * `{"id":…,"type":"message","role":…,"model":…`). Only the body's own members count (values are
 * skipped whole, strings with their escapes), and only within the first {@link HEAD_BYTES}: what
 * is not found there stays unknown.
 */
export function scanHead(body: Buffer): { id?: string; model?: string } {
  const found: { id?: string; model?: string } = {};
  const end = Math.min(body.length, HEAD_BYTES);
  let i = skipSpace(body, 0, end);
  if (body[i] !== 0x7b) return found;
  i++;
  while (i < end && (found.id === undefined || found.model === undefined)) {
    i = skipSpace(body, i, end);
    if (body[i] !== 0x22) break;
    const keyEnd = stringEnd(body, i, end);
    if (keyEnd < 0) break;
    const key = body.toString('latin1', i + 1, keyEnd);
    i = skipSpace(body, keyEnd + 1, end);
    if (body[i] !== 0x3a) break;
    i = skipSpace(body, i + 1, end);
    const valueEnd = body[i] === 0x22 ? stringEnd(body, i, end) : skipValue(body, i, end);
    if (valueEnd < 0) break;
    if ((key === 'id' || key === 'model') && body[i] === 0x22) {
      try {
        found[key] = JSON.parse(body.toString('utf8', i, valueEnd + 1)) as string;
      } catch {
        break;
      }
    }
    i = skipSpace(body, body[i] === 0x22 ? valueEnd + 1 : valueEnd, end);
    if (body[i] !== 0x2c) break;
    i++;
  }
  return found;
}

function skipSpace(body: Buffer, i: number, end: number): number {
  while (i < end && (body[i] === 0x20 || body[i] === 0x0a || body[i] === 0x0d || body[i] === 0x09)) i++;
  return i;
}

/** Index of the quote closing the string opened at `start`; -1 when it does not close before `end`. */
function stringEnd(body: Buffer, start: number, end: number): number {
  for (let i = start + 1; i < end; i++) {
    if (body[i] === 0x5c) i++;
    else if (body[i] === 0x22) return i;
  }
  return -1;
}

/** Index just past a non-string value (object, array, number, literal) starting at `start`; -1 when it does not end before `end`. */
function skipValue(body: Buffer, start: number, end: number): number {
  let depth = 0;
  for (let i = start; i < end; i++) {
    const c = body[i];
    if (c === 0x22) {
      i = stringEnd(body, i, end);
      if (i < 0) return -1;
    } else if (c === 0x7b || c === 0x5b) depth++;
    else if (c === 0x7d || c === 0x5d) {
      if (depth === 0) return i;
      if (--depth === 0) return i + 1;
    } else if (depth === 0 && (c === 0x2c || c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09)) return i;
  }
  return -1;
}


/**
 * Output held for a call that sets no max_tokens (or kin). One that sets it holds all of it, as
 * OpenAI counts max_tokens against a rate limit at admission: holding less let 5 calls of 32,000
 * tokens each run under a limit of 20,000 a minute. A call is admitted while what is used and
 * held stays under the limit, so a large one runs, alone.
 */
const HELD_OUTPUT_TOKENS = 4_096;

/**
 * A call's input tokens as held at admission: the whole conversation where the sidecar expands one
 * (a continuation has no body of its own), else the body, at four bytes a token (ingress/estimate.ts
 * quickTokens: every call is held, so nothing here reads the body character by character).
 */
export function estimatedInput(op: Operation<unknown, StreamChunk>): number {
  return op.inputTokens?.() ?? quickTokens(op.raw?.length ?? 0);
}

/**
 * A call's input tokens as counted without the provider's count (cut or given up before its
 * usage): the text of its strings by character class (ingress/estimate.ts estimateTokens), which
 * text the agent picks cannot bring far under its bill as four bytes a token did (digits with
 * spaces, CJK, emoji were counted at a quarter to a half), base64 media skipped as the provider
 * bills it by its own measure (a continuation's whole conversation, token ids: Operation.inputTokens).
 * Read only then: a parse of the body and one pass over its strings.
 */
export function countedInput(op: Operation<unknown, StreamChunk>): number {
  return op.inputTokens ? op.inputTokens(true) : op.raw ? bodyTokens(op.raw) : 0;
}

/** Tokens of a JSON body's strings by character class; of its bytes as text where it is not JSON. */
function bodyTokens(raw: Buffer): number {
  const text = raw.toString('utf8');
  try {
    return estimateTokens(JSON.parse(text));
  } catch {
    return textTokens(text);
  }
}

/**
 * Input held for a call that names input the provider holds (Operation.heldByProvider) on a
 * model without a `contextWindow`: the largest windows served today. Held by the body's bytes, ten
 * calls at once naming a cached context of 400,000 tokens ran to eight times a budget that
 * admitted one of them written inline (red team 17).
 */
const PROVIDER_HELD_INPUT_TOKENS = 1_000_000;

/**
 * A call's input as the limits hold and, without the provider's usage, count it on `model`
 * (`estimate` is {@link estimatedInput}): a call naming input the provider holds, whose size its
 * body does not tell, is taken to fill the model's context window; counted by its body when given
 * up or cut before its usage, it was 16 tokens for a cached context of 400,000 (ver18).
 */
export function inputOn(op: Operation<unknown, StreamChunk>, model: ModelEntryConfig, estimate = countedInput(op)): number {
  return op.heldByProvider ? Math.max(estimate, model.contextWindow ?? PROVIDER_HELD_INPUT_TOKENS) : estimate;
}

/** The most output a call may make: its max_tokens (or the default above) for each answer it asks for (`n` and kin). */
export function heldOutput(op: Operation<unknown, StreamChunk>): number {
  return (op.maxOutputTokens ?? HELD_OUTPUT_TOKENS) * Math.max(1, op.choices ?? 1);
}

/**
 * Usage estimated for a call the provider reported no final count for: its input as the provider
 * reported it before it was cut (`early`: Anthropic's message_start, cache writes included), else
 * as estimated ({@link countedInput}, or the model's window for input the provider holds); its
 * output as estimated from the answer's text (ingress/estimate.ts textTokens, summed per delta).
 */
export function estimated(op: Operation<unknown, StreamChunk>, outputTokens: number, model: ModelEntryConfig, early?: Usage): Usage {
  return early ? { ...early, output: outputTokens, estimated: true } : { input: inputOn(op, model), output: outputTokens };
}

/**
 * The input a stream's provider reported before its final count (StreamTranslator.earlyUsage), as
 * the limits may count it; undefined without one, or with one that is not a count.
 */
export function earlyInput(translator: { earlyUsage?(): CanonicalUsage | undefined } | undefined): Usage | undefined {
  const early = translator?.earlyUsage?.();
  const input = count(early?.prompt_tokens);
  return early && input !== undefined ? usageOfCanonical(early, input, 0) : undefined;
}

/**
 * The relay's usage of a canonical (OpenAI-shaped) usage object, with the cache writes it names;
 * `input` and `output` as given where the caller has read them otherwise (earlyInput: the input
 * as a count, no output yet).
 */
export function usageOfCanonical(usage: CanonicalUsage, input = usage.prompt_tokens ?? 0, output = usage.completion_tokens ?? 0): Usage {
  const counted: Usage = { input, output };
  if (usage.cache_creation) counted.cacheCreation = usage.cache_creation;
  return counted;
}

/** What the relay reads of a canonical usage object. */
type CanonicalUsage = { prompt_tokens?: number; completion_tokens?: number; cache_creation?: CacheCreation };

/**
 * Usage of a call given up (the client gone, the total deadline passed) after its request was
 * written upstream and before any of its answer reached the client: the provider had the whole
 * prompt, so its input as estimated; and the output it held (embeddings have none). A plain call's
 * provider goes on writing an answer nobody reads; a stream's, before its first content, may have
 * been reasoning all along (o-series, gpt-5, Gemini without thoughts in the stream), which it bills
 * as output though none of it is sent: counting nothing let an agent have a model think at length
 * and leave before it answered, again and again.
 */
export function abandonedUsage(op: Operation<unknown, StreamChunk>, model: ModelEntryConfig, early?: Usage): Usage {
  const output = op.kind === 'embeddings' ? 0 : heldOutput(op);
  return early ? { ...early, output, estimated: true } : { input: inputOn(op, model), output, estimated: true };
}

/** More tokens than any call can use (the largest context windows are a few million): a lie or a bug. */
const MAX_COUNT = 1e9;

/** A count the limits can add: a number from 0 to MAX_COUNT, a fraction rounded up; else undefined. */
function count(n: unknown): number | undefined {
  return typeof n === 'number' && n >= 0 && n <= MAX_COUNT ? Math.ceil(n) : undefined;
}

/**
 * The usage a provider reported, as the limits may count it, or undefined when it cannot be
 * (then the call is estimated, as one without usage is). A provider's JSON is not trusted to hold
 * counts: a buggy or hostile OpenAI-compatible server wrote them as strings (counted as nothing),
 * negative (the ledger went below zero and raised what the budget had left), fractional or past
 * a safe integer (the operator refused the pod's report for the rest of the day, so its spend
 * reached neither the sandbox's status nor the other pods' shares). An output of 0 beside content
 * (a usage object without `completion_tokens`, or a stream's usage sent with its first content
 * only) is the content's estimate instead: `outputTokens(of)`, read only then (a function and its
 * argument rather than a closure: nothing made per call).
 */
export function countable<T>(usage: Usage | undefined, outputTokens: (of: T) => number, of: T): Usage | undefined {
  if (!usage) return undefined;
  const input = count(usage.input);
  const output = count(usage.output);
  if (input === undefined || output === undefined) return undefined;
  if (output === 0) {
    const tokens = outputTokens(of);
    if (tokens > 0) return { ...usage, input, output: tokens, estimated: true };
  }
  return input === usage.input && output === usage.output ? usage : { ...usage, input, output };
}

/**
 * What Anthropic bills a prompt-cache write over the plain input price, as a share of it: a
 * five-minute write 1.25 times the input price, a one-hour write twice. The written tokens are
 * inside `input` already, priced there once.
 */
const CACHE_WRITE_5M_PREMIUM = 0.25;
const CACHE_WRITE_1H_PREMIUM = 1;

/**
 * Cost in USD of a usage at the model entry's prices. Cache writes add their premium over the
 * input price (see above); cache reads, billed at a tenth of it by Anthropic and at a half or a
 * quarter by OpenAI and Gemini, are counted at the full input price: over, on the safe side, and
 * the same for every provider (docs/security.md "One price per model").
 */
export function costOf(model: ModelEntryConfig, usage: Usage): number {
  const writes = usage.cacheCreation;
  const input = writes ? usage.input + writes.ephemeral_5m_input_tokens * CACHE_WRITE_5M_PREMIUM + writes.ephemeral_1h_input_tokens * CACHE_WRITE_1H_PREMIUM : usage.input;
  return (input * (model.inputCostPerMTok ?? 0) + usage.output * (model.outputCostPerMTok ?? 0)) / 1e6;
}
