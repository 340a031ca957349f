/** Reading canonical message content: text, images, tool-call arguments. */
import type { ChatCompletion, ChatMessage, ResponseFormat, TextPart, UserContentPart } from '../../wire/openai.js';
import { untranslatable } from './errors.js';

/** An image as media type plus base64 bytes. */
export interface InlineImage {
  mediaType: string;
  data: string;
}

/**
 * Splits a `data:` URL into media type and base64 bytes; undefined for any other URL. Slicing, not
 * a regex, because the payload can be megabytes. A data URL without `;base64` is percent-encoded
 * text (SVG, mostly) and is re-encoded.
 */
export function parseDataURL(url: string): InlineImage | undefined {
  if (!url.startsWith('data:')) return undefined;
  const comma = url.indexOf(',');
  if (comma < 0) return undefined;
  const meta = url.slice(5, comma);
  const payload = url.slice(comma + 1);
  const base64 = meta.endsWith(';base64');
  const mediaType = (base64 ? meta.slice(0, -7) : meta).split(';')[0] || 'application/octet-stream';
  return { mediaType, data: base64 ? payload : Buffer.from(decodeURIComponent(payload)).toString('base64') };
}

/** Text of string-or-text-parts content, parts joined by newlines (null and undefined: ""). */
export function textOf(content: string | readonly { type: string; text?: string; refusal?: string }[] | null | undefined): string {
  if (content == null) return '';
  if (typeof content === 'string') return content;
  let text = '';
  for (const part of content) {
    const piece = part.type === 'text' ? part.text : part.type === 'refusal' ? part.refusal : undefined;
    if (piece === undefined) continue;
    text = text ? `${text}\n${piece}` : piece;
  }
  return text;
}

/** User content as a list of parts (a string becomes one text part). */
export function partsOf(content: string | UserContentPart[]): UserContentPart[] {
  return typeof content === 'string' ? [{ type: 'text', text: content } satisfies TextPart] : content;
}

/**
 * Tool-call arguments (JSON text from an earlier assistant turn) as the object providers other
 * than OpenAI require. Empty text is a call without arguments. Text that is not a JSON object
 * cannot be sent to such a provider, so the request is refused naming the field.
 */
export function parseArguments(provider: string, text: string, param: string): Record<string, unknown> {
  if (text.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw untranslatable(provider, 'tool call arguments are not valid JSON', param);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw untranslatable(provider, 'tool call arguments must be a JSON object', param);
  }
  return value as Record<string, unknown>;
}

/**
 * The function name of each tool call id in the conversation, for providers whose tool results
 * carry the name instead of an id (Gemini, Ollama).
 */
export function toolNamesById(messages: readonly ChatMessage[]): Map<string, string> {
  const names = new Map<string, string>();
  for (const message of messages) {
    if (message.role !== 'assistant' || !message.tool_calls) continue;
    for (const call of message.tool_calls) names.set(call.id, call.function.name);
  }
  return names;
}

/** Refuses n > 1 for providers that return one candidate. */
export function requireSingleChoice(provider: string, n: number | null | undefined): void {
  if (n != null && n > 1) throw untranslatable(provider, 'n > 1 is not supported; send one request per choice', 'n');
}

/**
 * The stop sequences of a request as a list, at most `most` of them: OpenAI and Gemini each refuse
 * more than their limit (400; the limit is beside each one's request builder), so past it the
 * first ones are sent (ADR 0004).
 */
export function stopList(stop: string | string[] | null | undefined, most = Infinity): string[] | undefined {
  if (stop == null) return undefined;
  const list = typeof stop === 'string' ? [stop] : stop;
  return list.length > most ? list.slice(0, most) : list;
}

/**
 * The system instruction standing in for JSON mode, if the request asks for it, where the
 * provider cannot constrain the answer (old Claude models, Gemini 2 with tools).
 */
export function jsonInstruction(format: ResponseFormat | null | undefined): string | undefined {
  if (format?.type === 'json_object') return 'Respond with a single valid JSON object and nothing else: no prose, no code fences.';
  if (format?.type === 'json_schema') {
    const schema = format.json_schema.schema ? `\n${JSON.stringify(format.json_schema.schema)}` : '';
    return `Respond with a single valid JSON object and nothing else: no prose, no code fences. It must conform to this JSON Schema (${format.json_schema.name}):${schema}`;
  }
  return undefined;
}

const FENCED = /^\s*```(?:json)?[ \t]*\n([\s\S]*?)\n?```\s*$/;

/**
 * A JSON-mode answer out of the one code fence a model may wrap it in, where only an instruction
 * asked for JSON (Gemini 2 with tools, Claude models before structured outputs): the client parses
 * the text as JSON. Only a fence around text that then parses is taken off.
 */
export function unfencedJSON(completion: ChatCompletion, format: ResponseFormat | null | undefined): ChatCompletion {
  if (format?.type !== 'json_schema' && format?.type !== 'json_object') return completion;
  const message = completion.choices[0]?.message;
  const inner = typeof message?.content === 'string' ? FENCED.exec(message.content)?.[1] : undefined;
  if (inner === undefined) return completion;
  try {
    JSON.parse(inner);
  } catch {
    return completion;
  }
  return { ...completion, choices: [{ ...completion.choices[0]!, message: { ...message!, content: inner } }, ...completion.choices.slice(1)] };
}
