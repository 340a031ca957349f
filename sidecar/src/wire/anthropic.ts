/**
 * The Anthropic Messages API as the sidecar speaks it: the request schema parsed once at the HTTP
 * boundary, the response and stream-event shapes, and the error body.
 *
 * The schema is loose so an Anthropic client served by an Anthropic provider passes through
 * untouched (cache_control, citations, documents, server tools, thinking signatures). Content
 * blocks of types the canonical translation does not know are accepted as {@link OtherBlock}; they
 * survive pass-through and are refused (with a clear error) only when translation is needed.
 */
import * as z from '../zod.js';
import type { ProviderError } from '../providers/types.js';

/** A text block. */
export const AnthropicTextBlock = z.looseObject({ type: z.literal('text'), text: z.string() });
/** An image: base64 bytes, a URL, or a Files API id. */
export const AnthropicImageBlock = z.looseObject({
  type: z.literal('image'),
  source: z.discriminatedUnion('type', [
    z.looseObject({ type: z.literal('base64'), media_type: z.string(), data: z.string() }),
    z.looseObject({ type: z.literal('url'), url: z.string() }),
    z.looseObject({ type: z.literal('file'), file_id: z.string() }),
  ]),
});
/** A tool call the assistant made; `input` is an object. */
export const AnthropicToolUseBlock = z.looseObject({
  type: z.literal('tool_use'),
  id: z.string(),
  name: z.string(),
  input: z.record(z.string(), z.unknown()),
});
const KNOWN_BLOCKS = new Set(['text', 'image', 'tool_use', 'tool_result', 'thinking', 'redacted_thinking']);
/** Any other block (document, search_result, server tool blocks, ...): kept for pass-through. */
export const AnthropicOtherBlock = z.looseObject({
  type: z.string().check(z.refine((t) => !KNOWN_BLOCKS.has(t), { message: 'malformed content block' })),
});
/** The result of a tool call, in a user turn. */
export const AnthropicToolResultBlock = z.looseObject({
  type: z.literal('tool_result'),
  tool_use_id: z.string(),
  content: z.optional(z.union([z.string(), z.array(z.union([z.discriminatedUnion('type', [AnthropicTextBlock, AnthropicImageBlock]), AnthropicOtherBlock]))])),
  is_error: z.optional(z.boolean()),
});
/** Extended thinking from an earlier assistant turn. */
export const AnthropicThinkingBlock = z.looseObject({ type: z.literal('thinking'), thinking: z.string(), signature: z.string() });
/** Redacted extended thinking. */
export const AnthropicRedactedThinkingBlock = z.looseObject({ type: z.literal('redacted_thinking'), data: z.string() });

/** A content block of a request message. */
export const AnthropicContentBlock = z.union([
  z.discriminatedUnion('type', [
    AnthropicTextBlock,
    AnthropicImageBlock,
    AnthropicToolUseBlock,
    AnthropicToolResultBlock,
    AnthropicThinkingBlock,
    AnthropicRedactedThinkingBlock,
  ]),
  AnthropicOtherBlock,
]);

/**
 * One turn of the conversation. `system` is a mid-conversation system message (Claude Opus 4.8 and
 * later accept one right after a user turn; Claude Code sends its environment that way): text only.
 */
export const AnthropicMessageParam = z.looseObject({
  role: z.enum(['user', 'assistant', 'system']),
  content: z.union([z.string(), z.array(AnthropicContentBlock)]),
});

/** A client tool (`input_schema`) or a server tool (`type` like web_search_20250305). */
export const AnthropicTool = z.looseObject({
  name: z.string().check(z.minLength(1)),
  type: z.nullish(z.string()),
  description: z.optional(z.string()),
  input_schema: z.optional(z.record(z.string(), z.unknown())),
  /** Strict tool use: the call's input is decoded to `input_schema`. */
  strict: z.optional(z.boolean()),
});

const disableParallel = z.optional(z.boolean());
/** auto | any | tool (+name) | none. */
export const AnthropicToolChoice = z.discriminatedUnion('type', [
  z.looseObject({ type: z.literal('auto'), disable_parallel_tool_use: disableParallel }),
  z.looseObject({ type: z.literal('any'), disable_parallel_tool_use: disableParallel }),
  z.looseObject({ type: z.literal('tool'), name: z.string(), disable_parallel_tool_use: disableParallel }),
  z.looseObject({ type: z.literal('none') }),
]);

/** Body of `POST /v1/messages`. */
/**
 * Where the API takes a mid-conversation system message: right after a user turn, text only
 * (platform.claude.com, "Mid-conversation system messages"); anywhere else it is the client's 400.
 */
function placeSystemMessages(messages: z.infer<typeof AnthropicMessageParam>[], ctx: z.core.$RefinementCtx): void {
  messages.forEach((message, i) => {
    if (message.role !== 'system') return;
    if (messages[i - 1]?.role !== 'user') ctx.addIssue({ code: 'custom', path: [i, 'role'], message: 'a system message must immediately follow a user message' });
    else if (typeof message.content !== 'string' && message.content.some((b) => b.type !== 'text')) {
      ctx.addIssue({ code: 'custom', path: [i, 'content'], message: 'a system message may contain only text blocks' });
    }
  });
}

/** Structured outputs' format: `{type: json_schema, schema}`. */
const OutputFormat = z.looseObject({ type: z.string(), schema: z.optional(z.record(z.string(), z.unknown())) });

export const MessagesRequest = z.looseObject({
  model: z.string().check(z.minLength(1)),
  max_tokens: z.int().check(z.minimum(1)),
  messages: z.array(AnthropicMessageParam).check(z.superRefine(placeSystemMessages)),
  system: z.optional(z.union([z.string(), z.array(AnthropicTextBlock)])),
  tools: z.optional(z.array(AnthropicTool)),
  tool_choice: z.optional(AnthropicToolChoice),
  stop_sequences: z.optional(z.array(z.string())),
  temperature: z.optional(z.number()),
  top_p: z.optional(z.number()),
  top_k: z.optional(z.int()),
  stream: z.optional(z.boolean()),
  metadata: z.optional(z.looseObject({ user_id: z.nullish(z.string()) })),
  thinking: z.optional(z.looseObject({ type: z.string() })),
  /** Structured outputs' `format`; other fields (effort) pass through. */
  output_config: z.optional(z.looseObject({ format: z.nullish(OutputFormat) })),
  /** The same, as the structured-outputs beta (`structured-outputs-2025-11-13`) spelled it. */
  output_format: z.nullish(OutputFormat),
});

/** Body of `POST /v1/messages/count_tokens`: a Messages request without the generation options. */
export const CountTokensRequest = z.omit(MessagesRequest, { max_tokens: true, stream: true });

export type AnthropicTextBlock = z.infer<typeof AnthropicTextBlock>;
export type AnthropicImageBlock = z.infer<typeof AnthropicImageBlock>;
export type AnthropicToolUseBlock = z.infer<typeof AnthropicToolUseBlock>;
export type AnthropicToolResultBlock = z.infer<typeof AnthropicToolResultBlock>;
export type AnthropicOtherBlock = z.infer<typeof AnthropicOtherBlock>;
export type AnthropicContentBlock = z.infer<typeof AnthropicContentBlock>;
export type AnthropicMessageParam = z.infer<typeof AnthropicMessageParam>;
export type AnthropicTool = z.infer<typeof AnthropicTool>;
export type AnthropicToolChoice = z.infer<typeof AnthropicToolChoice>;
export type MessagesRequest = z.infer<typeof MessagesRequest>;
export type CountTokensRequest = z.infer<typeof CountTokensRequest>;

export type AnthropicThinkingBlock = z.infer<typeof AnthropicThinkingBlock>;
export type AnthropicRedactedThinkingBlock = z.infer<typeof AnthropicRedactedThinkingBlock>;

/** A block type the canonical translation understands (everything but {@link AnthropicOtherBlock}). */
export type KnownAnthropicBlock =
  | AnthropicTextBlock
  | AnthropicImageBlock
  | AnthropicToolUseBlock
  | AnthropicToolResultBlock
  | AnthropicThinkingBlock
  | AnthropicRedactedThinkingBlock;

/** Narrows a request block to the known kinds, so a switch on `type` is exhaustive. */
export function isKnownBlock(block: { type: string }): block is KnownAnthropicBlock {
  return KNOWN_BLOCKS.has(block.type);
}

/** Why the model stopped. */
export type AnthropicStopReason =
  | 'end_turn'
  | 'max_tokens'
  | 'stop_sequence'
  | 'tool_use'
  | 'pause_turn'
  | 'refusal'
  | 'model_context_window_exceeded';

/** Token counts; the cache fields are absent or null when caching was not involved. */
export interface AnthropicUsage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens?: number | null;
  cache_read_input_tokens?: number | null;
  /** The cache writes by how long they are kept (`cache_control.ttl`), inside `cache_creation_input_tokens`. */
  cache_creation?: { ephemeral_5m_input_tokens?: number | null; ephemeral_1h_input_tokens?: number | null } | null;
}

/** A block of a response message. */
export type AnthropicResponseBlock =
  | { type: 'text'; text: string }
  | { type: 'tool_use'; id: string; name: string; input: Record<string, unknown> }
  | { type: 'thinking'; thinking: string; signature: string }
  | { type: 'redacted_thinking'; data: string };

/** One model of `GET /v1/models` as the Anthropic API lists it. */
export interface AnthropicModelInfo {
  type: 'model';
  id: string;
  display_name: string;
  created_at: string;
}

/** A served model name in Anthropic's model shape (the sidecar knows no release date: the epoch). */
export function anthropicModel(id: string): AnthropicModelInfo {
  return { type: 'model', id, display_name: id, created_at: '1970-01-01T00:00:00Z' };
}

/**
 * An Anthropic message id for a canonical call id: `msg_` + the id's random part, since Anthropic
 * SDK users (and their logs) expect the prefix. Ids that already have it are kept.
 */
export function anthropicMessageId(id: string): string {
  if (id.startsWith('msg_')) return id;
  const dash = id.indexOf('-');
  return `msg_${dash >= 0 ? id.slice(dash + 1) : id}`;
}

/** Response of `POST /v1/messages` without streaming. */
export interface AnthropicMessage {
  id: string;
  type: 'message';
  role: 'assistant';
  model: string;
  content: AnthropicResponseBlock[];
  stop_reason: AnthropicStopReason | null;
  stop_sequence: string | null;
  usage: AnthropicUsage;
}

/** A delta inside a content block. */
export type AnthropicBlockDelta =
  | { type: 'text_delta'; text: string }
  | { type: 'input_json_delta'; partial_json: string }
  | { type: 'thinking_delta'; thinking: string }
  | { type: 'signature_delta'; signature: string };

/** The events of a Messages stream, in the order they come. */
export type AnthropicStreamEvent =
  | { type: 'message_start'; message: AnthropicMessage }
  | { type: 'content_block_start'; index: number; content_block: AnthropicResponseBlock }
  | { type: 'content_block_delta'; index: number; delta: AnthropicBlockDelta }
  | { type: 'content_block_stop'; index: number }
  | {
      type: 'message_delta';
      delta: { stop_reason: AnthropicStopReason | null; stop_sequence: string | null };
      usage: Partial<AnthropicUsage>;
    }
  | { type: 'message_stop' }
  | { type: 'ping' }
  | AnthropicErrorBody;

/** The Anthropic error body, also the `error` stream event. */
export interface AnthropicErrorBody {
  type: 'error';
  error: { type: string; message: string };
}

const TYPE_BY_STATUS: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  402: 'billing_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  504: 'timeout_error',
  529: 'overloaded_error',
};

/** The Anthropic error type for an HTTP status (other 4xx: invalid_request_error, other 5xx: api_error). */
export function anthropicErrorType(status: number): string {
  return TYPE_BY_STATUS[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error');
}

const STATUS_BY_TYPE = new Map(Object.entries(TYPE_BY_STATUS).map(([status, type]) => [type, Number(status)]));

/** The HTTP status Anthropic uses for an error type (for errors that arrive inside a stream). */
export function anthropicErrorStatus(type: string): number {
  return STATUS_BY_TYPE.get(type) ?? 500;
}

/** A canonical error in the Anthropic error shape; the type follows the status, as Anthropic's does. */
export function anthropicError(error: ProviderError): AnthropicErrorBody {
  return { type: 'error', error: { type: anthropicErrorType(error.status), message: error.message } };
}

/** One frame of an Anthropic stream: `event: TYPE\ndata: {json}\n\n`. */
export function anthropicSSE(event: AnthropicStreamEvent): string {
  return `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}
