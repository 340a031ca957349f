/**
 * Usage of a call: read cheaply from a pass-through body, counted from stream chunks, estimated
 * when the provider reported none, and priced from the model entry.
 */
import type { ModelEntryConfig } from '../config/schema.js';
import type { Usage } from './operation.js';

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
  const n = (key: string) => (typeof usage[key] === 'number' ? (usage[key] as number) : 0);
  if (typeof usage.prompt_tokens === 'number') return { input: n('prompt_tokens'), output: n('completion_tokens') };
  if (typeof usage.input_tokens === 'number' || typeof usage.output_tokens === 'number') {
    // Anthropic reports cached prompt tokens beside input_tokens; they are prompt tokens too.
    return { input: n('input_tokens') + n('cache_creation_input_tokens') + n('cache_read_input_tokens'), output: n('output_tokens') };
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

/** Characters per token for estimates: the usual rule of thumb for English text and code. */
const CHARS_PER_TOKEN = 4;

/** An estimate from the request's size and the characters streamed back. */
export function estimateUsage(requestBytes: number, outputChars: number): Usage {
  return { input: Math.ceil(requestBytes / CHARS_PER_TOKEN), output: Math.ceil(outputChars / CHARS_PER_TOKEN) };
}

/** Cost in USD of a usage at the model entry's prices. */
export function costOf(model: ModelEntryConfig, usage: Usage): number {
  return (usage.input * (model.inputCostPerMTok ?? 0) + usage.output * (model.outputCostPerMTok ?? 0)) / 1e6;
}
