/**
 * The OpenAI Responses API served through the canonical form, for a Responses client whose model
 * is served by a provider of another type (an `openai` provider takes the request natively).
 * Request in, canonical request out; canonical completion in, response object out
 * (./responses-output.ts); canonical chunks in, typed Responses events out (./responses-stream.ts).
 *
 * - `instructions` become the first system message; `input` items become messages in order:
 *   function_call items join the assistant turn before them as tool calls, function_call_output
 *   items become tool messages;
 * - reasoning items ride on the next assistant turn: their summary as `reasoning_content`, and,
 *   for one the sidecar made answering from Anthropic, the thinking blocks it sealed in its
 *   `encrypted_content` (wire/responses.ts); OpenAI's encrypted content is dropped;
 * - function tools become chat tools, those inside a `namespace` tool too (./responses-namespaces.ts);
 *   `text.format` becomes `response_format`;
 *   `reasoning.effort` becomes `reasoning_effort`; `max_output_tokens` becomes `max_tokens`;
 * - without tools, `tool_choice` `auto` or `none` and `parallel_tool_calls` are left out (chat
 *   APIs refuse them there); `required`, or a function, is refused with a 400 naming tool_choice;
 * - hosted tools (web_search, file_search, computer use, ...), item references the sidecar does not
 *   hold (see ../responses-store.ts), Files API ids and
 *   file URLs can only be served by OpenAI: refused with a 400 naming the field.
 */
import { providerError } from '../../providers/shared/errors.js';
import { TranslationError } from '../../providers/types.js';
import type { AssistantMessage, ChatMessage, ChatRequest, TextPart, ThinkingBlock, ToolChoice, UserContentPart } from '../../wire/openai.js';
import type { Tool } from '../../wire/openai.js';
import { isKnownItem, openThinking, type FunctionCallOutputItem, type InputContent, type InputItem, type InputMessage, type ReasoningItem, type ResponsesRequest, type ResponsesTool } from '../../wire/responses.js';
import { allowedOnly, openAIOnly } from './chat-tools.js';
import { namespaceNames, namespaceTools, type NamespaceNames } from './responses-namespaces.js';


/** The input as a list of items (a string is one user message). */
export function inputItems(request: Pick<ResponsesRequest, 'input'>): InputItem[] {
  if (request.input == null) return [];
  return typeof request.input === 'string' ? [{ role: 'user', content: request.input }] : request.input;
}

/**
 * A Responses request as a canonical chat request. `history` is the conversation before
 * `request.input` (from `previous_response_id`), already expanded to items.
 */
export function responsesToChat(request: ResponsesRequest, history: readonly InputItem[] = []): ChatRequest {
  // What only OpenAI holds: a conversation's items, a stored prompt. Served without them, the
  // call would answer from less than the client sent. (A background job is refused for every
  // provider: server/responses-routes.ts.)
  for (const field of ['conversation', 'prompt'] as const) if ((request as Record<string, unknown>)[field] != null) throw openAIOnly(`\`${field}\``, field);
  const messages: ChatMessage[] = [];
  if (request.instructions) messages.push({ role: 'system', content: request.instructions });
  let reasoning: ReasoningItem[] = [];
  const items = [...history, ...inputItems(request)];
  const calls = new Set<string>();
  const names = namespaceNames(request.tools ?? []);
  const attached: UserContentPart[] = [];
  items.forEach((item, i) => {
    const param = i < history.length ? 'previous_response_id' : `input[${i - history.length}]`;
    if (!isKnownItem(item)) throw openAIOnly(`${item.type} items`, param);
    switch (item.type ?? 'message') {
      case 'message':
        messageItem(messages, item as InputMessage, param, reasoning);
        if ((item as InputMessage).role === 'assistant') reasoning = [];
        break;
      case 'function_call': {
        const call = item as Extract<InputItem, { type: 'function_call' }>;
        const last = assistantFor(messages, reasoning);
        reasoning = [];
        const name = names.sent(call.name, (call as { namespace?: string | null }).namespace);
        last.tool_calls = [...(last.tool_calls ?? []), { id: call.call_id, type: 'function', function: { name, arguments: call.arguments } }];
        calls.add(call.call_id);
        break;
      }
      case 'function_call_output':
        // OpenAI's own check, made here for every provider: its words, its field.
        if (!calls.has((item as FunctionCallOutputItem).call_id)) {
          throw new TranslationError(providerError(400, `No tool call found for function call output with call_id ${(item as FunctionCallOutputItem).call_id}.`, 'invalid_request_error', 'input'));
        }
        {
          const output = toolOutput(item as FunctionCallOutputItem, param);
          messages.push({ role: 'tool', tool_call_id: (item as FunctionCallOutputItem).call_id, content: output.content });
          attached.push(...output.attached);
        }
        // Images and files of the outputs go in one user message after the run of outputs (tool
        // messages take text only, and nothing may come between them).
        if (attached.length > 0 && (items[i + 1]?.type ?? 'message') !== 'function_call_output') messages.push({ role: 'user', content: attached.splice(0) });
        break;
      case 'reasoning':
        reasoning.push(item as ReasoningItem);
        break;
    }
  });

  if (!messages.some((m) => m.role !== 'system')) {
    throw new TranslationError(providerError(400, "Missing required parameter: 'input' (no item to answer: send input, or previous_response_id)", 'invalid_request_error', 'input'));
  }
  const chat: ChatRequest = { model: request.model, messages };
  if (request.tools?.length) {
    chat.tools = request.tools.flatMap((tool, i) =>
      tool.type === 'namespace' && tool.name
        ? namespaceTools(tool).map((inner, j) => functionTool(inner, `tools[${i}].tools[${j}]`, names, tool.name))
        : [functionTool(tool, `tools[${i}]`, names)],
    );
  }
  const choice = request.tool_choice;
  if (typeof choice === 'object' && choice?.type === 'allowed_tools') {
    // The model may call only these (chat-tools.ts): those tools alone, in the mode given.
    const allowed = choice as { mode?: unknown; tools?: { name?: unknown }[] };
    chat.tools = allowedOnly(chat.tools ?? [], (allowed.tools ?? []).map((t) => String(t.name ?? '')), (t) => t.function.name);
    chat.tool_choice = allowed.mode === 'required' ? 'required' : 'auto';
  } else if (choice != null) chat.tool_choice = toolChoice(choice);
  const named = chat.tool_choice;
  if (typeof named === 'object' && named !== null && !chat.tools?.some((t) => t.function.name === named.function.name)) {
    throw new TranslationError(providerError(400, `Tool choice '${named.function.name}' not found in 'tools' parameter.`, 'invalid_request_error', 'tool_choice'));
  }
  if (!chat.tools) {
    // A choice among no tools chooses nothing: the Responses API takes `auto` and `none` there
    // (the openai and codex SDKs send `auto` on every call), chat APIs refuse a tool_choice
    // without tools (OpenAI any, vLLM any but none). A call required of no tool cannot be made.
    if (chat.tool_choice === 'required') throw new TranslationError(providerError(400, "tool_choice 'required' needs tools: the request declares none", 'invalid_request_error', 'tool_choice'));
    delete chat.tool_choice;
  } else if (request.parallel_tool_calls != null) chat.parallel_tool_calls = request.parallel_tool_calls;
  if (request.max_output_tokens != null) chat.max_tokens = request.max_output_tokens;
  if (request.temperature != null) chat.temperature = request.temperature;
  if (request.top_p != null) chat.top_p = request.top_p;
  if (request.user) chat.user = request.user;
  if (request.reasoning?.effort) chat.reasoning_effort = request.reasoning.effort;
  const format = request.text?.format;
  if (format?.type === 'json_object') chat.response_format = { type: 'json_object' };
  else if (format?.type === 'json_schema') {
    chat.response_format = {
      type: 'json_schema',
      json_schema: { name: format.name ?? 'response', ...(format.schema ? { schema: format.schema } : {}), ...(format.strict != null ? { strict: format.strict } : {}) },
    };
  }
  if (request.stream) {
    chat.stream = true;
    // response.completed reports usage, so the upstream must send it.
    chat.stream_options = { include_usage: true };
  }
  return chat;
}

/** A function tool as a chat tool (named with its namespace, if it is in one: `names`); any other is OpenAI's. */
function functionTool(tool: ResponsesTool, param: string, names: NamespaceNames, namespace?: string | null): Tool {
  if (tool.type === 'function' && !tool.name) throw new TranslationError(providerError(400, `Missing required parameter: '${param}.name'.`, 'invalid_request_error', `${param}.name`));
  if (tool.type !== 'function' || !tool.name) throw openAIOnly(tool.type === 'custom' ? 'custom tools' : `the hosted tool ${tool.type}`, param);
  return {
    type: 'function',
    function: {
      name: names.sent(tool.name, namespace),
      ...(tool.description ? { description: tool.description } : {}),
      ...(tool.parameters ? { parameters: tool.parameters } : {}),
      ...(tool.strict != null ? { strict: tool.strict } : {}),
    },
  };
}

function messageItem(out: ChatMessage[], item: InputMessage, param: string, reasoning: ReasoningItem[]): void {
  const parts = typeof item.content === 'string' ? undefined : item.content;
  switch (item.role) {
    case 'system':
    case 'developer':
      out.push({ role: item.role, content: typeof item.content === 'string' ? item.content : textParts(parts ?? [], param) });
      break;
    case 'assistant': {
      const text = typeof item.content === 'string' ? item.content : textParts(parts ?? [], param).map((p) => p.text).join('');
      const message = assistantFor(out, reasoning, true);
      message.content = typeof message.content === 'string' && message.content ? message.content + text : text;
      break;
    }
    case 'user':
      out.push({ role: 'user', content: typeof item.content === 'string' ? item.content : (parts ?? []).map((p, j) => userPart(p, `${param}.content[${j}]`)) });
      break;
  }
}

/**
 * The assistant message a function call or assistant text belongs to: the last message when it is
 * an assistant turn not yet answered by tool results, else a new one (carrying pending reasoning).
 */
function assistantFor(out: ChatMessage[], reasoning: ReasoningItem[], fresh = false): AssistantMessage {
  const last = out.at(-1);
  if (!fresh && last?.role === 'assistant' && reasoning.length === 0) return last;
  const message: AssistantMessage = { role: 'assistant', content: null };
  if (reasoning.length > 0) {
    const text = reasoning.flatMap((r) => r.summary.map((s) => s.text)).join('\n');
    if (text) message.reasoning_content = text;
    // Only Anthropic's thinking blocks, which the sidecar sealed: OpenAI's encrypted content
    // means nothing to another provider (Anthropic refuses it as a signature).
    const blocks: ThinkingBlock[] = reasoning.flatMap((r) => openThinking(r.encrypted_content));
    if (blocks.length > 0) message.thinking_blocks = blocks;
  }
  out.push(message);
  return message;
}

function textParts(parts: InputContent[], param: string): TextPart[] {
  return parts.map((part, j): TextPart => {
    if (part.type === 'input_text' || part.type === 'output_text') return { type: 'text', text: part.text };
    if (part.type === 'refusal') return { type: 'text', text: part.refusal };
    throw new TranslationError(providerError(400, `${part.type} parts are not allowed here`, 'invalid_request_error', `${param}.content[${j}]`));
  });
}

function userPart(part: InputContent, param: string): UserContentPart {
  switch (part.type) {
    case 'input_text':
    case 'output_text':
      return { type: 'text', text: part.text };
    case 'refusal':
      return { type: 'text', text: part.refusal };
    case 'input_image':
      if (!part.image_url) throw openAIOnly('images by file_id', param);
      return { type: 'image_url', image_url: { url: part.image_url, ...(part.detail ? { detail: part.detail } : {}) } };
    case 'input_file':
      if (!part.file_data) throw openAIOnly('files by file_id or file_url', param);
      return { type: 'file', file: { file_data: part.file_data, ...(part.filename ? { filename: part.filename } : {}) } };
  }
}

/** A function's output: its text for the tool message, its images and files for the user message after (labelled with its call). */
function toolOutput(item: FunctionCallOutputItem, param: string): { content: string | TextPart[]; attached: UserContentPart[] } {
  if (typeof item.output === 'string') return { content: item.output, attached: [] };
  const text: TextPart[] = [];
  const attached: UserContentPart[] = [];
  item.output.forEach((part, j) => {
    if (part.type === 'input_text') text.push({ type: 'text', text: part.text });
    else attached.push(userPart(part as InputContent, `${param}.output[${j}]`));
  });
  if (attached.length > 0) {
    text.push({ type: 'text', text: `[${attached.length === 1 ? 'an attachment' : `${attached.length} attachments`} of this output: in the next user message, after the words "output of ${item.call_id}"]` });
    attached.unshift({ type: 'text', text: `output of ${item.call_id}:` });
  }
  return { content: text, attached };
}

function toolChoice(choice: NonNullable<ResponsesRequest['tool_choice']>): ToolChoice {
  if (typeof choice === 'string') return choice;
  if (choice.type === 'function' && choice.name) return { type: 'function', function: { name: choice.name } };
  throw openAIOnly(`tool_choice ${choice.type}`, 'tool_choice');
}
