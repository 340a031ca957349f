/**
 * The Anthropic API served through the canonical form, for an Anthropic client whose model is
 * served by a provider of another type (an Anthropic provider takes the request natively, see
 * `ProviderAdapter.messagesRequest`). Request in, canonical request out; canonical completion in,
 * Anthropic message out (./anthropic-response.ts); canonical chunks in, Anthropic SSE out
 * (./anthropic-stream.ts).
 *
 * Carried in the canonical form's extensions (ADR 0004): thinking blocks of earlier turns
 * (`thinking_blocks` with their signatures, and their text as `reasoning_content`), the
 * `thinking` option (as an exact budget), `output_config.effort` (as `reasoning_effort`), `is_error` on tool results, and `cache_control` on
 * text, image and system blocks — each provider adapter keeps what its API has an equivalent for.
 * Structured outputs (`output_config.format`, a JSON schema) become `response_format: json_schema`.
 * Documents become file parts (PDF) or text. Refused with a 400 naming the block: documents by
 * URL or file id, Files API images, server tools and `mcp_servers`. Images and documents a tool
 * result carries go in the user message after the tool messages (tool messages take text only).
 * A tool choice without tools (`none`, which Anthropic takes there) is left out.
 */
import {
  isKnownBlock,
  type AnthropicContentBlock,
  type AnthropicImageBlock,
  type AnthropicMessageParam,
  type AnthropicToolChoice,
  type MessagesRequest,
} from '../../wire/anthropic.js';
import type { AssistantMessage, ChatMessage, ChatRequest, TextPart, ThinkingBlock, ToolCall, ToolChoice, UserContentPart } from '../../wire/openai.js';
import { providerError } from '../../providers/shared/errors.js';
import { strictable } from '../../providers/openai/strict-schema.js';
import { TranslationError } from '../../providers/types.js';
import { attachToResult } from '../../wire/tool-attachments.js';

export { anthropicStreamEncoder, type AnthropicStreamEncoder } from './anthropic-stream.js';
export { anthropicUsage, chatToAnthropic, stopReason, toolInput } from './anthropic-response.js';

/**
 * Anthropic's own rules for a thinking budget (at least 1024, under max_tokens), held for a
 * Messages call whoever serves the model: Gemini would take a budget past the cap.
 * @throws {TranslationError} a 400 in Anthropic's words
 */
export function checkThinkingBudget(request: MessagesRequest): void {
  const thinking = request.thinking as { type: string; budget_tokens?: number } | undefined;
  if (thinking?.type !== 'enabled' || typeof thinking.budget_tokens !== 'number') return;
  if (thinking.budget_tokens < 1024) throw new TranslationError(providerError(400, 'thinking.enabled.budget_tokens: Input should be greater than or equal to 1024', 'invalid_request_error', 'thinking.budget_tokens'));
  if (thinking.budget_tokens >= request.max_tokens) throw new TranslationError(providerError(400, '`max_tokens` must be greater than `thinking.budget_tokens`', 'invalid_request_error', 'max_tokens'));
}

/** What only an Anthropic provider can serve, refused for any other (400, naming the field). */
function refuse(what: string, param: string): TranslationError {
  return new TranslationError(providerError(400, `${what} can only be served by an Anthropic provider`, 'unsupported_for_provider', param));
}

/** An Anthropic Messages request as a canonical chat request. */
export function anthropicToChat(request: MessagesRequest): ChatRequest {
  // Anthropic's MCP connector calls the servers itself: served elsewhere, their tools would be gone.
  const servers = (request as { mcp_servers?: unknown }).mcp_servers;
  if (Array.isArray(servers) && servers.length > 0) throw refuse('mcp_servers', 'mcp_servers');
  const messages: ChatMessage[] = [];
  if (typeof request.system === 'string') {
    if (request.system) messages.push({ role: 'system', content: request.system });
  } else if (request.system?.length) {
    messages.push({ role: 'system', content: request.system.map((b): TextPart => withCache({ type: 'text', text: b.text }, b)) });
  }
  request.messages.forEach((message, i) => {
    if (message.role === 'user') userTurn(messages, message, i);
    else if (message.role === 'assistant') assistantTurn(messages, message, i);
    else systemTurn(messages, message);
  });

  const chat: ChatRequest = { model: request.model, messages, max_tokens: request.max_tokens };
  if (request.tools?.length) {
    chat.tools = request.tools.map((tool, i) => {
      if (!tool.input_schema || (tool.type != null && tool.type !== 'custom')) throw refuse(`the server tool ${tool.name}`, `tools[${i}]`);
      const strict = tool.strict === true && strictable(tool.input_schema);
      return { type: 'function', function: { name: tool.name, ...(tool.description ? { description: tool.description } : {}), parameters: tool.input_schema, ...(strict ? { strict } : {}) } };
    });
  }
  // A choice among no tools chooses nothing: Anthropic takes `none` without tools, OpenAI refuses
  // any tool_choice without them ("'tool_choice' is only allowed when 'tools' are specified.").
  if (request.tool_choice && chat.tools) {
    chat.tool_choice = toolChoice(request.tool_choice);
    if (request.tool_choice.type !== 'none' && request.tool_choice.disable_parallel_tool_use) chat.parallel_tool_calls = false;
  }
  if (request.stop_sequences?.length) chat.stop = request.stop_sequences;
  if (request.temperature !== undefined) chat.temperature = request.temperature;
  if (request.top_p !== undefined) chat.top_p = request.top_p;
  if (request.top_k !== undefined) chat.top_k = request.top_k;
  if (request.metadata?.user_id) chat.user = request.metadata.user_id;
  // Structured outputs: the SDKs' JSON-schema mode. Without it the model answers in prose and the
  // client's parse of the text fails.
  // Anthropic constrains decoding to the schema; so does OpenAI where strict mode takes it.
  const format = request.output_config?.format ?? request.output_format;
  if (format?.type === 'json_schema' && format.schema) {
    chat.response_format = { type: 'json_schema', json_schema: { name: 'response', schema: format.schema, ...(strictable(format.schema) ? { strict: true } : {}) } };
  }
  const thinking = request.thinking as { type: string; budget_tokens?: number } | undefined;
  if (thinking?.type === 'enabled' || thinking?.type === 'disabled') {
    chat.thinking = { type: thinking.type, ...(typeof thinking.budget_tokens === 'number' ? { budget_tokens: thinking.budget_tokens } : {}) };
  }
  // Effort (Claude Code's --effort, sent with adaptive thinking) is reasoning effort elsewhere;
  // Anthropic's top level, max, is the table's top, xhigh.
  const effort = (request.output_config as { effort?: unknown } | undefined)?.effort;
  if (typeof effort === 'string' && thinking?.type !== 'disabled') chat.reasoning_effort = effort === 'max' ? 'xhigh' : effort;
  if (request.stream) {
    chat.stream = true;
    // The encoder reports usage in message_delta, so the upstream must send it.
    chat.stream_options = { include_usage: true };
  }
  return chat;
}

function imageURL(block: AnthropicImageBlock, param: string): string {
  const source = block.source;
  if (source.type === 'base64') return `data:${source.media_type};base64,${source.data}`;
  if (source.type === 'url') return source.url;
  throw refuse('Files API images', param);
}

/** A user turn: its tool results become tool messages (first, as they answer the previous turn). */
function userTurn(out: ChatMessage[], message: AnthropicMessageParam, i: number): void {
  if (typeof message.content === 'string') {
    out.push({ role: 'user', content: message.content });
    return;
  }
  const parts: UserContentPart[] = [];
  message.content.forEach((block, j) => {
    const param = `messages[${i}].content[${j}]`;
    if (block.type === 'document') {
      parts.push(...documentParts(block as Record<string, unknown>, param));
      return;
    }
    if (!isKnownBlock(block)) throw refuse(`${block.type} blocks`, param);
    switch (block.type) {
      case 'text':
        parts.push(withCache({ type: 'text', text: block.text }, block));
        break;
      case 'image':
        parts.push(withCache({ type: 'image_url', image_url: { url: imageURL(block, param) } }, block));
        break;
      case 'tool_result': {
        const result = toolResult(block.content, block.tool_use_id, param);
        out.push({ role: 'tool', tool_call_id: block.tool_use_id, content: result.content, ...(block.is_error ? { is_error: true } : {}) });
        parts.push(...result.attached);
        break;
      }
      case 'thinking':
      case 'redacted_thinking':
        break;
      case 'tool_use':
        throw new TranslationError(providerError(400, 'tool_use blocks belong in assistant turns', 'invalid_request_error', param));
    }
  });
  if (parts.length > 0) out.push({ role: 'user', content: parts });
}

/**
 * A document block as the parts other providers read: a PDF as a file (OpenAI's `file` part, which
 * the Gemini adapter sends as inline data), plain text as text, a content source as its blocks.
 * Citations are Anthropic's alone: the answer comes without them. A document by URL or Files API
 * id is refused: the sidecar fetches nothing on a client's behalf.
 */
function documentParts(block: Record<string, unknown>, param: string): UserContentPart[] {
  const source = (typeof block.source === 'object' && block.source !== null ? block.source : {}) as Record<string, unknown>;
  const title = typeof block.title === 'string' && block.title ? block.title : undefined;
  if (source.type === 'base64' && source.media_type === 'application/pdf' && typeof source.data === 'string') {
    return [{ type: 'file', file: { file_data: `data:application/pdf;base64,${source.data}`, filename: title ?? 'document.pdf' } }];
  }
  if (source.type === 'text' && typeof source.data === 'string') return [{ type: 'text', text: title ? `${title}\n\n${source.data}` : source.data }];
  if (source.type === 'content' && Array.isArray(source.content)) {
    return (source.content as AnthropicContentBlock[]).map((inner, k): UserContentPart => {
      if (inner.type === 'text') return { type: 'text', text: (inner as { text: string }).text };
      if (inner.type === 'image') return { type: 'image_url', image_url: { url: imageURL(inner as AnthropicImageBlock, `${param}.source.content[${k}]`) } };
      throw refuse(`${inner.type} blocks inside a document`, `${param}.source.content[${k}]`);
    });
  }
  throw refuse(`documents from a ${String(source.type)} source`, `${param}.source`);
}

/**
 * A tool result's content: its text for the tool message, and its images and documents (a
 * screenshot tool, @ai-sdk/anthropic's file results) for the user message that follows the tool
 * messages, as OpenAI's tool messages take text only; the text says where they went.
 */
function toolResult(content: string | AnthropicContentBlock[] | undefined, id: string, param: string): { content: string | TextPart[]; attached: UserContentPart[] } {
  if (content === undefined) return { content: '', attached: [] };
  if (typeof content === 'string') return { content, attached: [] };
  const text: TextPart[] = [];
  const attached: UserContentPart[] = [];
  content.forEach((block, k) => {
    const at = `${param}.content[${k}]`;
    if (block.type === 'text') text.push({ type: 'text', text: (block as { text: string }).text });
    else if (block.type === 'image') attached.push({ type: 'image_url', image_url: { url: imageURL(block as AnthropicImageBlock, at) } });
    else if (block.type === 'document') attached.push(...documentParts(block as Record<string, unknown>, at));
    else throw refuse(`${block.type} blocks inside a tool result`, at);
  });
  if (attached.length === 0) return { content: text, attached };
  const { note, parts } = attachToResult(id, attached);
  return { content: [...text, note], attached: parts };
}

/**
 * A mid-conversation system message: a canonical system message at the same place. OpenAI-format
 * and Ollama providers keep it there; Gemini has one systemInstruction, which gathers it.
 */
function systemTurn(out: ChatMessage[], message: AnthropicMessageParam): void {
  if (typeof message.content === 'string') {
    out.push({ role: 'system', content: message.content });
    return;
  }
  // Text only: the request schema (wire/anthropic.ts) refuses any other block in a system message.
  const texts = message.content.flatMap((block): TextPart[] => (block.type === 'text' ? [withCache({ type: 'text', text: (block as { text: string }).text }, block)] : []));
  out.push({ role: 'system', content: texts });
}

/** An assistant turn: text blocks, tool_use blocks, and thinking blocks as signed reasoning. */
function assistantTurn(out: ChatMessage[], message: AnthropicMessageParam, i: number): void {
  if (typeof message.content === 'string') {
    out.push({ role: 'assistant', content: message.content });
    return;
  }
  const texts: TextPart[] = [];
  const calls: ToolCall[] = [];
  const thinking: ThinkingBlock[] = [];
  message.content.forEach((block, j) => {
    const param = `messages[${i}].content[${j}]`;
    if (!isKnownBlock(block)) throw refuse(`${block.type} blocks`, param);
    switch (block.type) {
      case 'text':
        texts.push({ type: 'text', text: block.text });
        break;
      case 'tool_use':
        calls.push({ id: block.id, type: 'function', function: { name: block.name, arguments: JSON.stringify(block.input) } });
        break;
      case 'thinking':
        thinking.push({ type: 'thinking', thinking: block.thinking, signature: block.signature });
        break;
      case 'redacted_thinking':
        thinking.push({ type: 'redacted_thinking', data: block.data });
        break;
      default:
        throw new TranslationError(providerError(400, `${block.type} blocks belong in user turns`, 'invalid_request_error', param));
    }
  });
  if (texts.length === 0 && calls.length === 0 && thinking.length === 0) return;
  const content = texts.length === 0 ? null : texts.length === 1 ? (texts[0] as TextPart).text : texts;
  const message_: AssistantMessage = calls.length > 0 ? { role: 'assistant', content, tool_calls: calls } : { role: 'assistant', content };
  if (thinking.length > 0) {
    message_.thinking_blocks = thinking;
    const text = thinking.flatMap((b) => (b.type === 'thinking' ? [b.thinking] : [])).join('\n');
    if (text) message_.reasoning_content = text;
  }
  out.push(message_);
}

/** Copies an Anthropic block's `cache_control` onto its canonical part (only Anthropic reads it back). */
function withCache<P extends object>(part: P, block: object): P {
  const cache = (block as { cache_control?: unknown }).cache_control;
  return cache === undefined ? part : { ...part, cache_control: cache };
}

function toolChoice(choice: AnthropicToolChoice): ToolChoice {
  switch (choice.type) {
    case 'auto':
      return 'auto';
    case 'any':
      return 'required';
    case 'none':
      return 'none';
    case 'tool':
      return { type: 'function', function: { name: choice.name } };
  }
}
