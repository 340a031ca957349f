/**
 * Canonical request → Ollama `/api/chat` body.
 *
 * - system and developer messages stay in place as system messages (Ollama's templates accept
 *   them anywhere);
 * - images must be bytes: `data:` URLs become `images`, other URLs are refused (Ollama cannot
 *   fetch them); audio and file parts are refused;
 * - tool results carry `tool_name` (looked up from the assistant tool call), which Ollama uses to
 *   match results to calls; tool call arguments are sent as objects;
 * - Ollama cannot force a tool: `tool_choice: none` sends no tools, `required` and a named function
 *   are sent as plain tools; parallel_tool_calls is not expressible;
 * - `stream` is always sent, because Ollama streams unless told otherwise;
 * - the model's configured `numCtx` goes as `options.num_ctx` on every call: no client API can
 *   say it, and without it Ollama runs a small default window and silently drops the start of a
 *   longer prompt (system prompt and tools first);
 * - json_object → `format: "json"`, json_schema → `format: <schema>`; sampling goes in `options`
 *   (max tokens → num_predict); `user` and logit_bias are dropped; n > 1 is refused;
 * - a thinking budget or reasoning_effort becomes `think` (true, or false for a zero budget):
 *   Ollama has levels only for some models and no budgets; an assistant turn's reasoning goes
 *   back as its `thinking`; `is_error` on tool results has no equivalent and is dropped.
 */
import type { AssistantMessage, ChatRequest, UserMessage } from '../../wire/openai.js';
import { parseArguments, parseDataURL, requireSingleChoice, stopList, textOf, toolNamesById } from '../shared/content.js';
import { untranslatable } from '../shared/errors.js';
import { thinkingBudget } from '../shared/reasoning.js';

const PROVIDER = 'ollama';

type OllamaMessage = Record<string, unknown>;

/** What the call adds to the request besides the model name. */
export interface OllamaCall {
  /** Ask without `think` (see UpstreamTarget.unconstrained). */
  unconstrained?: boolean | undefined;
  /** The model's configured context window, sent as `options.num_ctx` (ModelEntry.numCtx). */
  numCtx?: number | undefined;
}

/** The /api/chat body for a canonical request. */
export function toOllamaRequest(request: ChatRequest, model: string, call: OllamaCall = {}): Record<string, unknown> {
  requireSingleChoice(PROVIDER, request.n);
  const names = toolNamesById(request.messages);
  const messages = request.messages.map((message, i): OllamaMessage => {
    switch (message.role) {
      case 'system':
      case 'developer':
        return { role: 'system', content: textOf(message.content) };
      case 'user':
        return userMessage(message, i);
      case 'assistant':
        return assistantMessage(message, i);
      case 'tool': {
        const name = names.get(message.tool_call_id);
        return { role: 'tool', content: textOf(message.content), ...(name ? { tool_name: name } : {}) };
      }
    }
  });
  const body: Record<string, unknown> = { model, messages, stream: request.stream === true };
  if (request.tools?.length && request.tool_choice !== 'none') body.tools = request.tools;
  const format = request.response_format;
  if (format?.type === 'json_object') body.format = 'json';
  else if (format?.type === 'json_schema') body.format = format.json_schema.schema ?? 'json';
  // `think` is asked for unless the model refused it once (a model without the thinking capability:
  // llama3, gemma3, qwen3-coder answer 400 "does not support thinking"): UpstreamTarget.unconstrained.
  const budget = thinkingBudget(request);
  if (budget !== undefined && !call.unconstrained) body.think = budget > 0;
  const options = { ...sampling(request), ...(call.numCtx !== undefined ? { num_ctx: call.numCtx } : {}) };
  if (Object.keys(options).length > 0) body.options = options;
  return body;
}

function userMessage(message: UserMessage, i: number): OllamaMessage {
  if (typeof message.content === 'string') return { role: 'user', content: message.content };
  let content = '';
  const images: string[] = [];
  message.content.forEach((part, j) => {
    const param = `messages[${i}].content[${j}]`;
    switch (part.type) {
      case 'text':
        content = content ? `${content}\n${part.text}` : part.text;
        break;
      case 'image_url': {
        const inline = parseDataURL(part.image_url.url);
        if (!inline) throw untranslatable(PROVIDER, 'images must be sent as data: URLs (Ollama cannot fetch URLs)', `${param}.image_url.url`);
        images.push(inline.data);
        break;
      }
      default:
        throw untranslatable(PROVIDER, `${part.type} parts are not supported`, param);
    }
  });
  return images.length > 0 ? { role: 'user', content, images } : { role: 'user', content };
}

function assistantMessage(message: AssistantMessage, i: number): OllamaMessage {
  const out: OllamaMessage = { role: 'assistant', content: textOf(message.content) };
  if (message.reasoning_content) out.thinking = message.reasoning_content;
  if (message.tool_calls?.length) {
    out.tool_calls = message.tool_calls.map((call, j) => ({
      function: { name: call.function.name, arguments: parseArguments(PROVIDER, call.function.arguments, `messages[${i}].tool_calls[${j}].function.arguments`) },
    }));
  }
  return out;
}

function sampling(request: ChatRequest): Record<string, unknown> {
  const options: Record<string, unknown> = {};
  if (request.temperature != null) options.temperature = request.temperature;
  if (request.top_p != null) options.top_p = request.top_p;
  if (request.top_k != null) options.top_k = request.top_k;
  const max = request.max_completion_tokens ?? request.max_tokens;
  if (max != null) options.num_predict = max;
  const stop = stopList(request.stop);
  if (stop?.length) options.stop = stop;
  if (request.seed != null) options.seed = request.seed;
  if (request.presence_penalty != null) options.presence_penalty = request.presence_penalty;
  if (request.frequency_penalty != null) options.frequency_penalty = request.frequency_penalty;
  return options;
}
