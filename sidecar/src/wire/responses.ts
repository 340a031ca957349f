/**
 * The OpenAI Responses API (`POST /v1/responses`) as the sidecar speaks it: the request schema
 * parsed once at the HTTP boundary, the response object, its output items and the typed stream
 * events, written as OpenAI documents them.
 *
 * The schema is loose: an OpenAI provider receives what the client sent (hosted tools, `include`,
 * `conversation`, reasoning items with `encrypted_content`, ...). Input items of types the
 * canonical translation does not know are accepted as {@link OtherInputItem}; they survive
 * pass-through and are refused with a 400 naming the item only when translation is needed.
 */
import * as z from '../zod.js';
import type { ProviderError } from '../providers/types.js';
import { openAIError } from './openai.js';
import type { ResponseThinkingBlock } from './openai-responses.js';

/** Text the user (or an earlier turn) wrote. */
export const InputText = z.looseObject({ type: z.literal('input_text'), text: z.string() });
/** An image by URL (https or data:) or a Files API id. */
export const InputImage = z.looseObject({ type: z.literal('input_image'), image_url: z.nullish(z.string()), file_id: z.nullish(z.string()), detail: z.nullish(z.string()) });
/** A file by base64 data URL, URL or Files API id. */
export const InputFile = z.looseObject({
  type: z.literal('input_file'),
  file_data: z.nullish(z.string()),
  file_id: z.nullish(z.string()),
  file_url: z.nullish(z.string()),
  filename: z.nullish(z.string()),
});
/** Text an earlier assistant turn wrote. */
export const OutputText = z.looseObject({ type: z.literal('output_text'), text: z.string() });
/** A refusal in an earlier assistant turn. */
export const Refusal = z.looseObject({ type: z.literal('refusal'), refusal: z.string() });

/** A content part of an input message. */
export const InputContent = z.discriminatedUnion('type', [InputText, InputImage, InputFile, OutputText, Refusal]);

/** A message: `type` may be left out (OpenAI's "easy input message"). */
export const InputMessage = z.looseObject({
  type: z.optional(z.literal('message')),
  role: z.enum(['user', 'assistant', 'system', 'developer']),
  content: z.union([z.string(), z.array(InputContent)]),
});
/** A function call from an earlier turn; `arguments` is JSON text. */
export const FunctionCallItem = z.looseObject({
  type: z.literal('function_call'),
  call_id: z.string(),
  name: z.string(),
  /** The namespace tool the function is in, if any. */
  namespace: z.nullish(z.string()),
  arguments: z.string(),
  id: z.nullish(z.string()),
});
/** The client's result for a function call, matched by `call_id`. */
export const FunctionCallOutputItem = z.looseObject({
  type: z.literal('function_call_output'),
  call_id: z.string(),
  output: z.union([z.string(), z.array(z.discriminatedUnion('type', [InputText, InputImage, InputFile]))]),
});
/** Reasoning from an earlier turn: summaries, and the provider's opaque state in `encrypted_content`. */
export const ReasoningItem = z.looseObject({
  type: z.literal('reasoning'),
  id: z.nullish(z.string()),
  summary: z._default(z.array(z.looseObject({ type: z.string(), text: z.string() })), []),
  content: z.nullish(z.array(z.looseObject({ type: z.string(), text: z.string() }))),
  encrypted_content: z.nullish(z.string()),
});
const KNOWN_ITEMS = new Set(['message', 'function_call', 'function_call_output', 'reasoning']);
/** Any other item (hosted tool calls, item_reference, ...): kept for pass-through. */
export const OtherInputItem = z.looseObject({ type: z.string().check(z.refine((t) => !KNOWN_ITEMS.has(t), { message: 'malformed input item' })) });

/** One input item. */
export const InputItem = z.union([InputMessage, FunctionCallItem, FunctionCallOutputItem, ReasoningItem, OtherInputItem]);

/** A function tool (flat, unlike chat's `{function: {...}}`), or a hosted tool kept for OpenAI. */
export const ResponsesTool = z.looseObject({
  type: z.string(),
  name: z.nullish(z.string()),
  description: z.nullish(z.string()),
  parameters: z.nullish(z.record(z.string(), z.unknown())),
  strict: z.nullish(z.boolean()),
});

/** none | auto | required | one named function (or a hosted tool type, kept for OpenAI). */
export const ResponsesToolChoice = z.union([z.enum(['none', 'auto', 'required']), z.looseObject({ type: z.string(), name: z.nullish(z.string()) })]);

/** text | json_object | json_schema (flat: name and schema beside type). */
export const ResponsesTextFormat = z.looseObject({
  type: z.enum(['text', 'json_object', 'json_schema']),
  name: z.nullish(z.string()),
  schema: z.nullish(z.record(z.string(), z.unknown())),
  description: z.nullish(z.string()),
  strict: z.nullish(z.boolean()),
});

/** Body of `POST /v1/responses`. */
export const ResponsesRequest = z.looseObject({
  model: z.string().check(z.minLength(1)),
  input: z.nullish(z.union([z.string(), z.array(InputItem)])),
  instructions: z.nullish(z.string()),
  tools: z.nullish(z.array(ResponsesTool)),
  tool_choice: z.nullish(ResponsesToolChoice),
  parallel_tool_calls: z.nullish(z.boolean()),
  max_output_tokens: z.nullish(z.int().check(z.minimum(1))),
  // OpenAI's own bounds, held for every provider (Anthropic's temperature stops at 1).
  temperature: z.nullish(z.number().check(z.minimum(0), z.maximum(2))),
  top_p: z.nullish(z.number().check(z.minimum(0), z.maximum(1))),
  stream: z.nullish(z.boolean()),
  store: z.nullish(z.boolean()),
  previous_response_id: z.nullish(z.string()),
  reasoning: z.nullish(z.looseObject({ effort: z.nullish(z.string()), summary: z.nullish(z.string()) })),
  text: z.nullish(z.looseObject({ format: z.nullish(ResponsesTextFormat) })),
  metadata: z.nullish(z.record(z.string(), z.string())),
  user: z.nullish(z.string()),
});

export type InputContent = z.infer<typeof InputContent>;
export type InputMessage = z.infer<typeof InputMessage>;
export type FunctionCallItem = z.infer<typeof FunctionCallItem>;
export type FunctionCallOutputItem = z.infer<typeof FunctionCallOutputItem>;
export type ReasoningItem = z.infer<typeof ReasoningItem>;
export type InputItem = z.infer<typeof InputItem>;
export type ResponsesTool = z.infer<typeof ResponsesTool>;
export type ResponsesToolChoice = z.infer<typeof ResponsesToolChoice>;
export type ResponsesRequest = z.infer<typeof ResponsesRequest>;

/**
 * How the sidecar marks the `encrypted_content` of the reasoning items it makes (answering from
 * another provider than OpenAI): `airlock:` and then, for Anthropic's thinking,
 * `anthropic:<its blocks, JSON in base64url>` (every block of the turn as Anthropic gave it: the
 * texts and signatures, redacted data). OpenAI's own encrypted content never starts so. A marked
 * item goes back to Anthropic as its thinking blocks, unchanged as Anthropic requires, and to no
 * other provider: OpenAI refuses content it did not encrypt, and Anthropic signatures it did not
 * make (ADR 0012).
 */
export const SIDECAR_REASONING = 'airlock:';
const ANTHROPIC_THINKING = `${SIDECAR_REASONING}anthropic:`;

/**
 * Anthropic's signed and redacted thinking blocks sealed for a client to hand back (a reasoning
 * item's `encrypted_content`, a Gemini thought signature); undefined when there are none.
 */
export function sealThinking(blocks: readonly ResponseThinkingBlock[] | null | undefined): string | undefined {
  const kept = blocks?.filter((b) => b.type === 'redacted_thinking' || b.signature) ?? [];
  return kept.length > 0 ? ANTHROPIC_THINKING + Buffer.from(JSON.stringify(kept)).toString('base64url') : undefined;
}

/** Anthropic's thinking blocks from an `encrypted_content` the sidecar made, or none. */
export function openThinking(encrypted: string | null | undefined): ResponseThinkingBlock[] {
  if (!encrypted?.startsWith(ANTHROPIC_THINKING)) return [];
  try {
    const blocks = JSON.parse(Buffer.from(encrypted.slice(ANTHROPIC_THINKING.length), 'base64url').toString('utf8')) as unknown;
    return Array.isArray(blocks) ? blocks.filter(isThinkingBlock) : [];
  } catch {
    return [];
  }
}

/** Whether a Gemini thought signature (bytes, base64 in JSON) is one the sidecar made from Claude's thinking. */
export function isSidecarSignature(signature: string): boolean {
  return Buffer.from(signature.slice(0, 16), 'base64').toString('latin1').startsWith(SIDECAR_REASONING);
}

function isThinkingBlock(block: unknown): block is ResponseThinkingBlock {
  const b = block as Record<string, unknown> | null;
  if (typeof b !== 'object' || b === null) return false;
  return (b.type === 'thinking' && typeof b.thinking === 'string' && typeof b.signature === 'string') || (b.type === 'redacted_thinking' && typeof b.data === 'string');
}

/** Whether an input item is a reasoning item the sidecar made. */
export function isSidecarReasoning(item: InputItem): boolean {
  return item.type === 'reasoning' && typeof item.encrypted_content === 'string' && item.encrypted_content.startsWith(SIDECAR_REASONING);
}

/** Narrows an input item to the kinds the canonical translation understands. */
export function isKnownItem(item: InputItem): item is InputMessage | FunctionCallItem | FunctionCallOutputItem | ReasoningItem {
  return KNOWN_ITEMS.has(item.type ?? 'message');
}

/** An output text part. */
export interface OutputTextPart {
  type: 'output_text';
  text: string;
  annotations: unknown[];
  logprobs?: unknown[];
}

/** An assistant message in `output`. */
export interface OutputMessage {
  type: 'message';
  id: string;
  status: 'in_progress' | 'completed' | 'incomplete';
  role: 'assistant';
  content: OutputTextPart[];
}

/** A function call in `output`; `namespace` names the namespace tool the function is in. */
export interface OutputFunctionCall {
  type: 'function_call';
  id: string;
  call_id: string;
  name: string;
  namespace?: string;
  arguments: string;
  status: 'in_progress' | 'completed' | 'incomplete';
}

/** Reasoning in `output`: summary text, and the provider's opaque state when it has one. */
export interface OutputReasoning {
  type: 'reasoning';
  id: string;
  summary: { type: 'summary_text'; text: string }[];
  encrypted_content?: string | null;
}

/** One output item. */
export type OutputItem = OutputMessage | OutputFunctionCall | OutputReasoning;

/** Token counts of a response. */
export interface ResponsesUsage {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
}

/** The response object (`object: "response"`). */
export interface ResponseObject {
  id: string;
  object: 'response';
  created_at: number;
  status: 'in_progress' | 'completed' | 'incomplete' | 'failed';
  error: { code: string; message: string } | null;
  incomplete_details: { reason: 'max_output_tokens' | 'content_filter' } | null;
  instructions: string | null;
  max_output_tokens: number | null;
  model: string;
  output: OutputItem[];
  parallel_tool_calls: boolean;
  previous_response_id: string | null;
  reasoning: { effort: string | null; summary: string | null };
  store: boolean;
  temperature: number | null;
  text: { format: unknown };
  tool_choice: unknown;
  tools: unknown[];
  top_p: number | null;
  truncation: 'disabled';
  usage: ResponsesUsage | null;
  user: string | null;
  metadata: Record<string, string>;
}

/** A stream event without its sequence number (the writer numbers events as it writes them). */
export type ResponsesEvent = { type: string } & Record<string, unknown>;

/**
 * An upstream Responses event carried through the relay; `usage` is set on the terminal event.
 * `choices` says in canonical terms what content the event carries (text, a tool call, the end),
 * so the relay knows when content first reaches the client and how much was written.
 */
export interface ResponsesPassthrough {
  passthrough: ResponsesEvent;
  usage?: { prompt_tokens: number; completion_tokens: number };
  choices: { index: 0; delta: Record<string, unknown>; finish_reason: string | null }[];
}

/** One frame of a Responses stream: `event: TYPE\ndata: {json}\n\n`. */
export function responsesSSE(event: ResponsesEvent, sequence: number): string {
  return `event: ${event.type}\ndata: ${JSON.stringify({ ...event, sequence_number: sequence })}\n\n`;
}

/**
 * The `error` event that ends a stream that failed after it started. It carries the documented
 * fields (code, message, param) and also an `error` object, which the OpenAI SDKs raise as an
 * APIError (as they do for the chat stream's error frame).
 */
export function responsesErrorEvent(error: ProviderError): ResponsesEvent {
  const body = openAIError(error).error;
  return { type: 'error', code: body.code ?? body.type, message: body.message, param: body.param, error: body };
}
