/**
 * The mocks' "model": a deterministic answer derived from the request, the same for every
 * provider, so that concurrent requests can be told apart by their replies. Pure functions.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { MockStep } from './types.js';

/**
 * The end of the conversation reduced to text: `user` (the last message is the user's), `tool`
 * (it is a tool result; `text` is that result) or `other` (it is something else, e.g. an
 * assistant prefill; `text` is the last user message's).
 */
export interface LastMessage {
  role: 'user' | 'tool' | 'other';
  text: string;
}

/** A tool choice in provider-neutral form. */
export type ToolChoice = 'auto' | 'none' | 'required' | { name: string };

/** The parts of a request that decide the answer. */
export interface TurnInput {
  /** Undefined when the conversation has no user message. */
  last: LastMessage | undefined;
  /** Names of the offered tools, in order. */
  tools: string[];
  /**
   * The offered tools' input JSON Schemas by name: a call's arguments fill the schema's required
   * properties as a real model does (strict tools guarantee it); a tool that requires nothing, or
   * requires `input`, gets `{input: <the last user text>}`.
   */
  toolSchemas?: Record<string, unknown>;
  toolChoice: ToolChoice;
  /** Whether the request allows more than one call per turn. */
  parallel: boolean;
  /** Output limit in "tokens" (words). */
  maxTokens: number | undefined;
  stop: string[];
  step: MockStep;
  /** Prefix of generated tool-call ids, e.g. `call_` or `toolu_`. */
  idPrefix: string;
  /**
   * Structured output asked for (OpenAI `response_format` / `text.format`, Gemini
   * `responseMimeType: application/json`, Ollama `format`): the answer is JSON, conforming to
   * `schema` when there is one, as the real APIs guarantee in their structured-output modes.
   */
  json?: { schema?: unknown };
}

/** A planned tool call. */
export interface PlannedCall {
  id: string;
  name: string;
  args: Record<string, unknown>;
  /** `args` serialised. */
  json: string;
  /** `json` split into at least two pieces (when it has two characters), for streaming. */
  fragments: string[];
}

/** The answer. */
export interface Turn {
  text: string;
  /** `text` split after each word, whitespace kept with the word before it. */
  chunks: string[];
  calls: PlannedCall[];
  finish: 'stop' | 'length' | 'tool_calls' | 'stop_sequence';
  /** The stop sequence that ended the text, when `finish` is `stop_sequence`. */
  stopSequence: string | null;
  outputTokens: number;
}

/** Words of a string: the mocks' token count. */
export function countWords(text: string): number {
  let n = 0;
  for (const _ of text.matchAll(/\S+/g)) n++;
  return n;
}

/** Words in every string of a JSON value, skipping `role` and `type` keys: the mocks' prompt token count. */
export function countTokens(value: unknown): number {
  if (typeof value === 'string') return countWords(value);
  if (Array.isArray(value)) return value.reduce((sum: number, v) => sum + countTokens(v), 0);
  if (value && typeof value === 'object') {
    let sum = 0;
    for (const [k, v] of Object.entries(value)) if (k !== 'role' && k !== 'type') sum += countTokens(v);
    return sum;
  }
  return 0;
}

/** Splits text after each word, keeping whitespace with the word before it. */
export function splitWords(text: string): string[] {
  return text.match(/\s*\S+\s*/g) ?? [];
}

/** Splits a string into up to three pieces, at least two when it has two characters. */
export function fragments(s: string): string[] {
  if (s.length < 2) return [s];
  const a = Math.max(1, Math.floor(s.length / 3));
  const b = Math.max(a + 1, Math.floor((2 * s.length) / 3));
  return [s.slice(0, a), s.slice(a, b), s.slice(b)].filter((p) => p.length > 0);
}

/** A random id with the provider's prefix. */
export function newId(prefix: string, bytes = 12): string {
  return prefix + randomBytes(bytes).toString('base64url').replace(/[-_]/g, 'x');
}

/** A deterministic embedding: `dims` floats in [-1, 1), exact in float32 (multiples of 2^-15). */
export function embed(text: string, dims = 8): number[] {
  const out: number[] = [];
  for (let block = 0; out.length < dims; block++) {
    const digest = createHash('sha256').update(`${block}\u0000${text}`).digest();
    for (let i = 0; i + 2 <= digest.length && out.length < dims; i += 2) {
      out.push((digest.readUInt16BE(i) - 32768) / 32768);
    }
  }
  return out;
}

function call(name: string, args: Record<string, unknown>, idPrefix: string): PlannedCall {
  const json = JSON.stringify(args);
  return { id: newId(idPrefix), name, args, json, fragments: fragments(json) };
}

/** A call's arguments: the schema's required properties filled from `text`, else `{input: text}`. */
function argsFor(schema: unknown, text: string): Record<string, unknown> {
  const required = schema && typeof schema === 'object' ? (schema as { required?: unknown }).required : undefined;
  if (!Array.isArray(required) || required.length === 0 || required.includes('input')) return { input: text };
  return valueFor(schema, text) as Record<string, unknown>;
}

function defaultCalls(input: TurnInput): PlannedCall[] {
  const { last, tools, toolChoice } = input;
  if (last?.role !== 'user' || tools.length === 0 || toolChoice === 'none') return [];
  const named = (name: string) => call(name, argsFor(input.toolSchemas?.[name], last.text), input.idPrefix);
  if (typeof toolChoice === 'object') return [named(toolChoice.name)];
  const names = /\bparallel\b/i.test(last.text) && input.parallel ? tools.slice(0, 2) : tools.slice(0, 1);
  return names.map(named);
}

function defaultText(last: LastMessage | undefined): string {
  if (last?.role === 'tool') return `tool result: ${last.text}`;
  return `echo: ${last?.text ?? ''}`;
}

/**
 * A value conforming to a JSON Schema, made from `text`: strings are the text (or an enum's first
 * value), numbers its word count, arrays one element, objects every property (strict schemas
 * require all). `$ref` into `$defs`/`definitions` and `anyOf`/`oneOf` (first branch) are followed.
 */
export function valueFor(schema: unknown, text: string, root: unknown = schema, depth = 0): unknown {
  const s = (schema && typeof schema === 'object' ? schema : {}) as Record<string, unknown>;
  if (depth > 16) return null;
  if (typeof s.$ref === 'string') {
    const [, section, name] = /^#\/(\$defs|definitions)\/(.+)$/.exec(s.$ref) ?? [];
    const defs = section ? ((root as Record<string, unknown>)[section] as Record<string, unknown> | undefined) : undefined;
    return valueFor(defs?.[name!], text, root, depth + 1);
  }
  if (Array.isArray(s.enum) && s.enum.length > 0) return s.enum[0];
  if ('const' in s) return s.const;
  const branch = (Array.isArray(s.anyOf) ? s.anyOf : Array.isArray(s.oneOf) ? s.oneOf : [])[0];
  if (branch !== undefined) return valueFor(branch, text, root, depth + 1);
  const type = Array.isArray(s.type) ? s.type.find((t) => t !== 'null') : s.type;
  switch (String(type ?? (s.properties ? 'object' : 'string')).toLowerCase()) {
    case 'object': {
      const properties = (s.properties ?? {}) as Record<string, unknown>;
      return Object.fromEntries(Object.entries(properties).map(([k, v]) => [k, valueFor(v, text, root, depth + 1)]));
    }
    case 'array':
      return [valueFor(s.items, text, root, depth + 1)];
    case 'integer':
    case 'number':
      return countWords(text);
    case 'boolean':
      return true;
    case 'null':
      return null;
    default:
      return text;
  }
}

/** Plans the answer to a request: text, tool calls, finish reason and output count. */
export function planTurn(input: TurnInput): Turn {
  const { step } = input;
  const calls = step.toolCalls
    ? step.toolCalls.map((c) => call(c.name, c.arguments ?? {}, input.idPrefix))
    : defaultCalls(input);
  const json = input.json && calls.length === 0 ? JSON.stringify(input.json.schema === undefined ? { echo: input.last?.text ?? '' } : valueFor(input.json.schema, input.last?.text ?? '')) : undefined;
  let text = step.reply ?? (calls.length > 0 ? '' : (json ?? defaultText(input.last)));

  let stopSequence: string | null = null;
  let cut = -1;
  for (const s of input.stop) {
    const at = s ? text.indexOf(s) : -1;
    if (at >= 0 && (cut < 0 || at < cut)) [cut, stopSequence] = [at, s];
  }
  if (cut >= 0) text = text.slice(0, cut);

  let chunks = splitWords(text);
  let truncated = false;
  if (input.maxTokens !== undefined && chunks.length > input.maxTokens) {
    chunks = chunks.slice(0, Math.max(0, input.maxTokens));
    const lastChunk = chunks.at(-1);
    if (lastChunk !== undefined) chunks[chunks.length - 1] = lastChunk.trimEnd();
    text = chunks.join('');
    truncated = true;
  }

  const finish = truncated ? 'length' : calls.length > 0 ? 'tool_calls' : stopSequence !== null ? 'stop_sequence' : 'stop';
  const outputTokens = chunks.length + calls.reduce((n, c) => n + countWords(c.json), 0);
  return { text, chunks, calls, finish, stopSequence: finish === 'stop_sequence' ? stopSequence : null, outputTokens };
}
