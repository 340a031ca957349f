/**
 * The OpenAI API as the sidecar speaks it: request schemas parsed once at the HTTP boundary, the
 * response shapes, and the SSE helpers. The chat-completions shape is also the canonical form
 * every provider adapter translates to and from.
 *
 * Request schemas are loose objects: fields we do not model (store, metadata, reasoning_effort,
 * modalities, ...) pass through untouched, so an OpenAI-type provider sees what the client sent.
 * Optional fields accept `null` because several clients send explicit nulls for unset options.
 */
import * as z from '../zod.js';
import type { ProviderError } from '../providers/types.js';

export * from './openai-responses.js';

/** A text content part. */
export const TextPart = z.looseObject({ type: z.literal('text'), text: z.string() });
/** An image by URL: https or a `data:` URL with base64 bytes. */
export const ImageUrlPart = z.looseObject({
  type: z.literal('image_url'),
  image_url: z.looseObject({ url: z.string(), detail: z.nullish(z.string()) }),
});
/** Audio input (OpenAI only). */
export const InputAudioPart = z.looseObject({
  type: z.literal('input_audio'),
  input_audio: z.looseObject({ data: z.string(), format: z.string() }),
});
/** A file input (OpenAI only). */
export const FilePart = z.looseObject({
  type: z.literal('file'),
  file: z.looseObject({ file_data: z.nullish(z.string()), file_id: z.nullish(z.string()), filename: z.nullish(z.string()) }),
});
/** A refusal inside an earlier assistant message. */
export const RefusalPart = z.looseObject({ type: z.literal('refusal'), refusal: z.string() });

/** A content part of a user message. */
export const UserContentPart = z.discriminatedUnion('type', [TextPart, ImageUrlPart, InputAudioPart, FilePart]);

/** A function call the assistant made. `arguments` is JSON text, as the model wrote it. */
export const ToolCall = z.looseObject({
  id: z.string(),
  type: z.literal('function'),
  function: z.looseObject({ name: z.string(), arguments: z.string() }),
});

/**
 * Reasoning a provider returned with its signature (Anthropic thinking blocks; the opaque state
 * Responses reasoning items carry): LiteLLM's `thinking_blocks` convention, so the next turn can
 * hand it back to the provider that made it.
 */
export const ThinkingBlock = z.discriminatedUnion('type', [
  z.looseObject({ type: z.literal('thinking'), thinking: z.string(), signature: z.nullish(z.string()) }),
  z.looseObject({ type: z.literal('redacted_thinking'), data: z.string() }),
]);

const name = z.nullish(z.string());
const textContent = z.union([z.string(), z.array(TextPart)]);

/** A system instruction. */
export const SystemMessage = z.looseObject({ role: z.literal('system'), content: textContent, name });
/** A developer instruction (the newer name for system on OpenAI reasoning models). */
export const DeveloperMessage = z.looseObject({ role: z.literal('developer'), content: textContent, name });
/** A user turn. */
export const UserMessage = z.looseObject({
  role: z.literal('user'),
  content: z.union([z.string(), z.array(UserContentPart)]),
  name,
});
/** An earlier assistant turn: text, tool calls, or both. */
export const AssistantMessage = z.looseObject({
  role: z.literal('assistant'),
  content: z.nullish(z.union([z.string(), z.array(z.discriminatedUnion('type', [TextPart, RefusalPart]))])),
  tool_calls: z.nullish(z.array(ToolCall)),
  refusal: z.nullish(z.string()),
  name,
  /** Not OpenAI's: the turn's reasoning text (the DeepSeek / vLLM convention). */
  reasoning_content: z.nullish(z.string()),
  /** Not OpenAI's: the turn's signed reasoning, see {@link ThinkingBlock}. */
  thinking_blocks: z.nullish(z.array(ThinkingBlock)),
});
/**
 * The result of a tool call, matched by `tool_call_id`. `is_error` is not OpenAI's: it carries
 * Anthropic's flag to providers that have one (Anthropic, Gemini's `error` response).
 */
export const ToolMessage = z.looseObject({ role: z.literal('tool'), content: textContent, tool_call_id: z.string(), is_error: z.nullish(z.boolean()) });

/** One message of a chat. */
export const ChatMessage = z.discriminatedUnion('role', [SystemMessage, DeveloperMessage, UserMessage, AssistantMessage, ToolMessage]);

/** A function the model may call. `parameters` is a JSON Schema object. */
export const Tool = z.looseObject({
  type: z.literal('function'),
  function: z.looseObject({
    name: z.string().check(z.minLength(1)),
    description: z.nullish(z.string()),
    parameters: z.nullish(z.record(z.string(), z.unknown())),
    strict: z.nullish(z.boolean()),
  }),
});

/** none | auto | required | one named function. */
export const ToolChoice = z.union([
  z.enum(['none', 'auto', 'required']),
  z.looseObject({ type: z.literal('function'), function: z.looseObject({ name: z.string() }) }),
]);

/** A custom tool (free-form input, GPT-5's): only OpenAI runs it. */
const CustomTool = z.looseObject({ type: z.literal('custom'), custom: z.looseObject({ name: z.string().check(z.minLength(1)) }) });

/** A tool `allowed_tools` names: a function (or a custom tool) by name. */
const NamedTool = z.looseObject({ type: z.string(), function: z.optional(z.looseObject({ name: z.string() })), custom: z.optional(z.looseObject({ name: z.string() })) });

/**
 * The choices only the chat API's client side has: `allowed_tools` (the model may call only these
 * of `tools`; `mode` auto or required, so a long tool list stays cached) and a custom tool by name.
 */
const ClientToolChoice = z.union([
  z.looseObject({ type: z.literal('allowed_tools'), allowed_tools: z.looseObject({ mode: z.enum(['auto', 'required']), tools: z.array(NamedTool) }) }),
  z.looseObject({ type: z.literal('custom'), custom: z.looseObject({ name: z.string() }) }),
]);

/** text | json_object | json_schema. */
export const ResponseFormat = z.discriminatedUnion('type', [
  z.looseObject({ type: z.literal('text') }),
  z.looseObject({ type: z.literal('json_object') }),
  z.looseObject({
    type: z.literal('json_schema'),
    json_schema: z.looseObject({
      name: z.string(),
      description: z.nullish(z.string()),
      schema: z.nullish(z.record(z.string(), z.unknown())),
      strict: z.nullish(z.boolean()),
    }),
  }),
]);

const stop = z.nullish(z.union([z.string(), z.array(z.string())]));
const streamOptions = z.nullish(z.looseObject({ include_usage: z.nullish(z.boolean()) }));
const logitBias = z.nullish(z.record(z.string(), z.number()));

/** Body of `POST /v1/chat/completions`; also the canonical request every adapter translates. */
export const ChatRequest = z.looseObject({
  model: z.string().check(z.minLength(1)),
  messages: z.array(ChatMessage).check(z.minLength(1)),
  tools: z.nullish(z.array(Tool)),
  tool_choice: z.nullish(ToolChoice),
  parallel_tool_calls: z.nullish(z.boolean()),
  response_format: z.nullish(ResponseFormat),
  stop,
  max_tokens: z.nullish(z.int().check(z.minimum(1))),
  max_completion_tokens: z.nullish(z.int().check(z.minimum(1))),
  temperature: z.nullish(z.number()),
  top_p: z.nullish(z.number()),
  /** Not OpenAI's: accepted by most OpenAI-compatible servers, and carries Anthropic's top_k. */
  top_k: z.nullish(z.int()),
  seed: z.nullish(z.int()),
  user: z.nullish(z.string()),
  n: z.nullish(z.int().check(z.minimum(1))),
  stream: z.nullish(z.boolean()),
  stream_options: streamOptions,
  presence_penalty: z.nullish(z.number()),
  frequency_penalty: z.nullish(z.number()),
  logit_bias: logitBias,
  logprobs: z.nullish(z.boolean()),
  top_logprobs: z.nullish(z.int()),
  /** minimal | low | medium | high (OpenAI's reasoning models); mapped to budgets elsewhere. */
  reasoning_effort: z.nullish(z.string()),
  /**
   * Not OpenAI's: an exact thinking budget in tokens (Anthropic's `thinking`, Gemini's
   * thinkingBudget), for translations that know one; OpenAI gets the nearest reasoning_effort.
   */
  thinking: z.nullish(z.looseObject({ type: z.string(), budget_tokens: z.nullish(z.int()) })),
});

/** string | string[] | token ids | arrays of token ids, checked by hand so a long token array is not
 * validated once per union member. */
function isTextOrTokens(value: unknown): value is string | string[] | number[] | number[][] {
  if (typeof value === 'string') return true;
  if (!Array.isArray(value)) return false;
  const first: unknown = value[0];
  if (typeof first === 'string') return value.every((v) => typeof v === 'string');
  if (typeof first === 'number') return value.every((v) => Number.isInteger(v));
  if (Array.isArray(first)) return value.every((v) => Array.isArray(v) && v.every((t) => Number.isInteger(t)));
  return value.length === 0;
}

const textOrTokens = (field: string) =>
  z.custom<string | string[] | number[] | number[][]>(isTextOrTokens, {
    message: `${field} must be a string, an array of strings, an array of token ids or an array of token-id arrays`,
  });

/** Body of `POST /v1/completions` (legacy text completions). */
export const CompletionRequest = z.looseObject({
  model: z.string().check(z.minLength(1)),
  prompt: textOrTokens('prompt'),
  suffix: z.nullish(z.string()),
  max_tokens: z.nullish(z.int().check(z.minimum(0))),
  temperature: z.nullish(z.number()),
  top_p: z.nullish(z.number()),
  n: z.nullish(z.int().check(z.minimum(1))),
  best_of: z.nullish(z.int().check(z.minimum(1))),
  stream: z.nullish(z.boolean()),
  stream_options: streamOptions,
  logprobs: z.nullish(z.int()),
  echo: z.nullish(z.boolean()),
  stop,
  presence_penalty: z.nullish(z.number()),
  frequency_penalty: z.nullish(z.number()),
  logit_bias: logitBias,
  seed: z.nullish(z.int()),
  user: z.nullish(z.string()),
});

/** Body of `POST /v1/embeddings`. */
export const EmbeddingsRequest = z.looseObject({
  model: z.string().check(z.minLength(1)),
  input: textOrTokens('input'),
  encoding_format: z.nullish(z.enum(['float', 'base64'])),
  dimensions: z.nullish(z.int().check(z.minimum(1))),
  user: z.nullish(z.string()),
});

export type TextPart = z.infer<typeof TextPart>;
export type ImageUrlPart = z.infer<typeof ImageUrlPart>;
export type UserContentPart = z.infer<typeof UserContentPart>;
export type ToolCall = z.infer<typeof ToolCall>;
export type ThinkingBlock = z.infer<typeof ThinkingBlock>;
export type ChatMessage = z.infer<typeof ChatMessage>;
export type SystemMessage = z.infer<typeof SystemMessage>;
export type UserMessage = z.infer<typeof UserMessage>;
export type AssistantMessage = z.infer<typeof AssistantMessage>;
export type ToolMessage = z.infer<typeof ToolMessage>;
export type Tool = z.infer<typeof Tool>;
export type ToolChoice = z.infer<typeof ToolChoice>;
export type ResponseFormat = z.infer<typeof ResponseFormat>;
export type ChatRequest = z.infer<typeof ChatRequest>;
/**
 * Body of `POST /v1/chat/completions` as a client sends it: the canonical request plus what only
 * OpenAI serves (custom tools, `allowed_tools`); ingress/translate/chat-tools.ts makes it canonical.
 */
export const ChatIngressRequest = z.extend(ChatRequest, {
  tools: z.nullish(z.array(z.union([Tool, CustomTool]))),
  tool_choice: z.nullish(z.union([ToolChoice, ClientToolChoice])),
});
export type ChatIngressRequest = z.infer<typeof ChatIngressRequest>;
export type CompletionRequest = z.infer<typeof CompletionRequest>;
export type EmbeddingsRequest = z.infer<typeof EmbeddingsRequest>;

/** The OpenAI error body. */
export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

/** A canonical error in the OpenAI error shape (send it with `error.status`). */
export function openAIError(error: ProviderError): OpenAIErrorBody {
  return { error: { message: error.message, type: error.type, param: error.param ?? null, code: error.code ?? null } };
}

/** One SSE frame of an OpenAI stream: `data: {json}\n\n`. */
export function chunkToSSE(chunk: object): string {
  return `data: ${JSON.stringify(chunk)}\n\n`;
}

/** The frame that ends every OpenAI stream. */
export const SSE_DONE = 'data: [DONE]\n\n';

/**
 * Whether the client asked for the final usage chunk. The adapters always produce it when usage is
 * known (the router needs it for accounting); the server drops it for clients that did not ask,
 * since some older clients fail on a chunk with `choices: []`.
 */
export function wantsUsage(request: { stream_options?: { include_usage?: boolean | null | undefined } | null | undefined }): boolean {
  return request.stream_options?.include_usage === true;
}
