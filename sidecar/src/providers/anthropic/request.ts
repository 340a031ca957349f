/**
 * Canonical request → Anthropic Messages body.
 *
 * - system and developer messages, wherever they are, become the top-level `system` (a string
 *   when the request had exactly one string system message, else text blocks);
 * - tool messages become `tool_result` blocks of a user turn, and consecutive turns of one role
 *   are merged, so results follow their tool_use turn as Anthropic requires;
 * - `response_format: json_schema` becomes structured outputs (`output_config.format`) where the
 *   model and the schema allow it (./structured-output.ts, ADR 0020); otherwise, and for
 *   json_object, which has no equivalent, JSON mode is a system instruction (with the schema). A
 *   forced tool would change what the response looks like, and pre-filling `{` breaks with thinking;
 * - `max_tokens` is required: the request's, else {@link DEFAULT_MAX_TOKENS};
 * - temperature is clamped to Anthropic's 0..1; when both temperature and top_p are set, top_p is
 *   dropped, because current Claude models refuse the pair;
 * - seed, penalties, logit_bias and logprobs have no equivalent and are dropped; n > 1 is refused.
 * - a thinking budget (`thinking.budget_tokens`, else `reasoning_effort` through the shared table)
 *   becomes `thinking: {type: enabled, budget_tokens}` (at least 1024); max_tokens counts thinking
 *   on Anthropic, as OpenAI's caps count reasoning: under a cap the client set, the budget is at
 *   most half of it (none when that is under 1024); with no cap, the default max_tokens is raised
 *   by the budget when it would not exceed it; temperature, top_k and a top_p below 0.95, which
 *   Anthropic refuses with thinking, are dropped; a forced tool or an assistant prefill, with
 *   which Anthropic refuses thinking, runs without it ({@link refusesThinking});
 * - an assistant turn's signed `thinking_blocks` go first in its content, as Anthropic requires
 *   when thinking is on; unsigned reasoning (from another provider) is dropped; a request ending
 *   in tool results for a turn without them runs without thinking, which Anthropic would refuse;
 * - `is_error` on a tool message becomes `is_error` on its tool_result.
 * - media a tool result carried (a Gemini client's functionResponse parts), which the canonical
 *   form puts in the user message after the tool messages (wire/tool-attachments.ts), go back
 *   inside their tool_result's content, after its text, with the names before them: Claude reads
 *   them as the result's, and the tool message's note and the "result of" label are left out.
 * - `cache_control` on text and image parts (the convention LiteLLM popularised for OpenAI-shaped
 *   requests to Claude) is carried over.
 */
import { createHash } from 'node:crypto';
import type { AnthropicToolChoice, MessagesRequest } from '../../wire/anthropic.js';
import type { AssistantMessage, ChatMessage, ChatRequest, ToolChoice, ToolMessage, UserContentPart } from '../../wire/openai.js';
import { resultMediaOf } from '../../wire/tool-attachments.js';
import { jsonInstruction, parseArguments, parseDataURL, requireSingleChoice, stopList, textOf } from '../shared/content.js';
import { untranslatable } from '../shared/errors.js';
import { thinkingBudget } from '../shared/reasoning.js';
import { nativeFormat, strictToolSchemas } from './structured-output.js';

const PROVIDER = 'anthropic';

/**
 * A tool call id as Anthropic takes it (`^[a-zA-Z0-9_-]+$`): as it is when it fits, else the same
 * digest for the call and its result, so the pair still matches. Ids made by other providers or
 * frameworks (Kimi's `functions.get_weather:0`) reached Claude as they were and were refused; only
 * the history carries them, so nothing maps back.
 */
function anthropicId(id: string): string {
  return /^[a-zA-Z0-9_-]+$/.test(id) ? id : `toolu_${createHash('sha256').update(id).digest('base64url').slice(0, 24)}`;
}

/** Anthropic's smallest thinking budget. */
const MIN_BUDGET = 1024;

/**
 * The most output tokens of the Claude models whose most is under what a thinking budget can add
 * to the default max_tokens (xhigh: 32,768 + 4,096); Anthropic answers 400 past it.
 */
function outputCap(model: string): number | undefined {
  return /^claude-opus-4(-0|-1|-2025)/.test(model) ? 32_000 : undefined;
}

/** max_tokens sent when the client set none (Anthropic requires one). */
export const DEFAULT_MAX_TOKENS = 4096;

type Block = Record<string, unknown> & { type: string };
interface Turn {
  role: 'user' | 'assistant';
  content: string | Block[];
}

/** The Messages body for a canonical request; `unconstrained`: no strict tools or output format (UpstreamTarget.unconstrained). */
export function toAnthropicRequest(request: ChatRequest, model: string, unconstrained = false): Record<string, unknown> {
  requireSingleChoice(PROVIDER, request.n);
  const system: Block[] = [];
  let systemMessages = 0;
  let systemString: string | undefined;
  const turns: Turn[] = [];
  const media = resultMedia(request.messages);
  request.messages.forEach((message, i) => {
    switch (message.role) {
      case 'system':
      case 'developer':
        systemMessages++;
        if (typeof message.content === 'string') {
          systemString = message.content;
          if (message.content) system.push({ type: 'text', text: message.content });
        } else {
          systemString = undefined;
          for (const part of message.content) if (part.text) system.push(withCache({ type: 'text', text: part.text }, part));
        }
        break;
      case 'user': {
        if (typeof message.content === 'string') {
          append(turns, 'user', message.content);
          break;
        }
        const own = message.content.map((part, j) => ({ part, j })).filter(({ part }) => !media.has(resultMediaOf(part)?.id ?? ''));
        // A message that held only a result's media is gone with them.
        if (own.length > 0 || message.content.length === 0) append(turns, 'user', own.flatMap(({ part, j }) => userBlock(part, `messages[${i}].content[${j}]`)));
        break;
      }
      case 'assistant': {
        const content = assistantContent(message, i);
        if (content !== undefined) append(turns, 'assistant', content);
        break;
      }
      case 'tool':
        append(turns, 'user', [toolResult(message, media.get(message.tool_call_id) ?? [])]);
        break;
    }
  });
  const format = unconstrained ? undefined : nativeFormat(request.response_format, model);
  const instruction = format ? undefined : jsonInstruction(request.response_format);
  if (instruction) system.push({ type: 'text', text: instruction });

  const budget = thinkingBudget(request);
  const asked = request.max_completion_tokens ?? request.max_tokens;
  const choice = request.tools?.length ? toolChoice(request.tool_choice, request.parallel_tool_calls) : undefined;
  let thinking = budget !== undefined && budget > 0 && !refusesThinking(turns, choice) ? Math.max(MIN_BUDGET, budget) : undefined;
  // A cap the client set counts the reasoning too (OpenAI's max_completion_tokens and
  // max_output_tokens do): the budget shrinks to half of it, or there is no thinking.
  if (thinking !== undefined && asked != null) {
    const room = Math.min(thinking, Math.floor(asked / 2));
    thinking = room >= MIN_BUDGET ? room : undefined;
  }
  const maxTokens = asked ?? DEFAULT_MAX_TOKENS;
  let max = thinking !== undefined && maxTokens <= thinking ? maxTokens + thinking : maxTokens;
  // Past the model's own most (Opus 4 and 4.1 write 32,000) the budget added there is taken back.
  const most = outputCap(model);
  if (most !== undefined && max > most && asked == null) {
    max = most;
    if (thinking !== undefined && thinking >= max) thinking = Math.max(MIN_BUDGET, max - DEFAULT_MAX_TOKENS);
  }
  const body: Record<string, unknown> = { model, max_tokens: max };
  if (systemMessages === 1 && systemString && !instruction) body.system = systemString;
  else if (system.length > 0) body.system = system;
  body.messages = turns;
  if (request.tools?.length) {
    // Strict functions stay strict where Claude can decode to their schemas.
    const strictSchemas = unconstrained ? [] : strictToolSchemas(request.tools, model);
    body.tools = request.tools.map((t, i) => {
      const parameters = t.function.parameters ?? { type: 'object', properties: {} };
      const strict = strictSchemas[i];
      return { name: t.function.name, ...(t.function.description ? { description: t.function.description } : {}), input_schema: strict ?? parameters, ...(strict ? { strict: true } : {}) };
    });
    if (choice) body.tool_choice = choice;
  }
  // Anthropic refuses a stop sequence of whitespace only (OpenAI clients send "\n"): it is left out.
  const stop = stopList(request.stop)?.filter((s) => s.trim() !== '');
  if (stop?.length) body.stop_sequences = stop;
  if (thinking !== undefined) body.thinking = { type: 'enabled', budget_tokens: thinking };
  else {
    if (request.temperature != null) body.temperature = Math.min(1, Math.max(0, request.temperature));
    if (request.top_k != null) body.top_k = request.top_k;
  }
  // With thinking Anthropic takes top_p between 0.95 and 1 only.
  if (request.temperature == null && request.top_p != null && (thinking === undefined || (request.top_p >= 0.95 && request.top_p <= 1))) body.top_p = request.top_p;
  if (request.user) body.metadata = { user_id: request.user };
  if (format) body.output_config = { format };
  if (request.stream) body.stream = true;
  return body;
}

const COUNTED_FIELDS = ['model', 'messages', 'system', 'tools', 'tool_choice', 'thinking'];

/** The count_tokens body for a canonical request: the Messages body less what count_tokens refuses. */
export function toAnthropicCountRequest(request: ChatRequest, model: string): Record<string, unknown> {
  const body = toAnthropicRequest({ ...request, stream: false }, model);
  return Object.fromEntries(Object.entries(body).filter(([key]) => COUNTED_FIELDS.includes(key)));
}

/**
 * Whether the conversation ends in tool results answering an assistant turn that does not start
 * with a (signed) thinking block. Anthropic refuses thinking on such a request, and it is what a
 * client sends that does not hand `thinking_blocks` back (the Vercel AI SDK's and LangChain's
 * OpenAI models, Gemini clients): that step runs without thinking instead of failing.
 */
/**
 * Whether Anthropic refuses thinking on this request, so it runs without: the conversation ends
 * in tool results for a turn without thinking ({@link endsInUnthoughtToolTurn}), the tool choice
 * forces a tool ("Thinking may not be enabled when tool_choice forces tool use": `required` or a
 * named function, as the Agents SDK and structured output through a tool send), or it ends in an
 * assistant prefill, which with thinking would have to start with a thinking block.
 */
function refusesThinking(turns: Turn[], choice: AnthropicToolChoice | undefined): boolean {
  if (choice?.type === 'any' || choice?.type === 'tool') return true;
  const last = turns.at(-1);
  if (last?.role === 'assistant') {
    const first = asBlocks(last.content)[0];
    if (first?.type !== 'thinking' && first?.type !== 'redacted_thinking') return true;
  }
  return endsInUnthoughtToolTurn(turns);
}

function endsInUnthoughtToolTurn(turns: Turn[]): boolean {
  const last = turns.at(-1);
  if (last?.role !== 'user' || !asBlocks(last.content).some((b) => b.type === 'tool_result')) return false;
  const first = asBlocks(turns.findLast((t) => t.role === 'assistant')?.content ?? '')[0];
  return first?.type !== 'thinking' && first?.type !== 'redacted_thinking';
}

/**
 * A Messages request for Anthropic as the client wrote it, less `thinking` when thinking is
 * enabled on a request Anthropic refuses it on ({@link endsInUnthoughtToolTurn}): the history of a
 * tool loop another provider served after a failover carries no signed thinking. That step runs
 * without thinking, as a translated one does. Undefined when nothing needs to change.
 */
export function withoutRefusedThinking(request: MessagesRequest): MessagesRequest | undefined {
  if (request.thinking?.type !== 'enabled' || !endsInUnthoughtToolTurn(request.messages as Turn[])) return undefined;
  const { thinking: _thinking, ...rest } = request;
  return rest;
}

/** Appends a turn, merging it into the previous one when the role repeats. */
function append(turns: Turn[], role: Turn['role'], content: string | Block[]): void {
  const last = turns[turns.length - 1];
  if (!last || last.role !== role) {
    turns.push({ role, content });
    return;
  }
  last.content = [...asBlocks(last.content), ...asBlocks(content)];
}

function asBlocks(content: string | Block[]): Block[] {
  if (typeof content !== 'string') return content;
  return content ? [{ type: 'text', text: content }] : [];
}

/** Copies `cache_control` from a canonical part, when the client set it. */
function withCache(block: Block, part: object): Block {
  const cache = (part as { cache_control?: unknown }).cache_control;
  return cache === undefined ? block : { ...block, cache_control: cache };
}

function userBlock(part: UserContentPart, param: string): Block[] {
  switch (part.type) {
    case 'text':
      // Anthropic refuses empty text blocks; an empty part carries nothing anyway.
      return part.text ? [withCache({ type: 'text', text: part.text }, part)] : [];
    case 'image_url': {
      const inline = parseDataURL(part.image_url.url);
      const source = inline
        ? { type: 'base64', media_type: inline.mediaType, data: inline.data }
        : { type: 'url', url: part.image_url.url };
      return [withCache({ type: 'image', source }, part)];
    }
    case 'file': {
      const inline = part.file.file_data ? parseDataURL(part.file.file_data) : undefined;
      if (inline?.mediaType !== 'application/pdf') throw untranslatable(PROVIDER, 'only PDF files sent as file_data are supported', param);
      return [withCache({ type: 'document', source: { type: 'base64', media_type: inline.mediaType, data: inline.data } }, part)];
    }
    case 'input_audio':
      throw untranslatable(PROVIDER, 'audio input is not supported', param);
  }
}

function assistantContent(message: AssistantMessage, i: number): string | Block[] | undefined {
  const text = textOf(message.content);
  // Signed thinking goes back first; unsigned reasoning came from another provider and cannot.
  const thinking: Block[] = (message.thinking_blocks ?? []).flatMap((b): Block[] =>
    b.type === 'redacted_thinking' ? [{ type: 'redacted_thinking', data: b.data }] : b.signature ? [{ type: 'thinking', thinking: b.thinking, signature: b.signature }] : [],
  );
  if (!message.tool_calls?.length && thinking.length === 0) return text || undefined;
  const blocks: Block[] = [...thinking, ...(text ? [{ type: 'text', text }] : [])];
  message.tool_calls?.forEach((call, j) => {
    const input = parseArguments(PROVIDER, call.function.arguments, `messages[${i}].tool_calls[${j}].function.arguments`);
    blocks.push({ type: 'tool_use', id: anthropicId(call.id), name: call.function.name, input });
  });
  return blocks;
}

/**
 * The media of tool results in the request's user messages (the parts wire/tool-attachments.ts
 * marks, names included), by the call id of a tool message of the request, each with where it is.
 */
function resultMedia(messages: ChatMessage[]): Map<string, { part: UserContentPart; param: string }[]> {
  const results = new Set(messages.flatMap((m) => (m.role === 'tool' ? [m.tool_call_id] : [])));
  const media = new Map<string, { part: UserContentPart; param: string }[]>();
  messages.forEach((message, i) => {
    if (message.role !== 'user' || typeof message.content === 'string') return;
    message.content.forEach((part, j) => {
      const of = resultMediaOf(part);
      if (!of || !results.has(of.id)) return;
      const parts = media.get(of.id) ?? [];
      media.set(of.id, parts);
      if (of.role === 'media') parts.push({ part, param: `messages[${i}].content[${j}]` });
    });
  });
  return media;
}

function toolResult(message: ToolMessage, media: { part: UserContentPart; param: string }[]): Block {
  const text =
    typeof message.content === 'string'
      ? message.content
      : message.content.flatMap((p) => (p.text && resultMediaOf(p)?.role !== 'note' ? [{ type: 'text', text: p.text }] : []));
  const content = media.length === 0 ? text : [...asBlocks(text), ...media.flatMap(({ part, param }) => userBlock(part, param))];
  return { type: 'tool_result', tool_use_id: anthropicId(message.tool_call_id), content, ...(message.is_error ? { is_error: true } : {}) };
}

function toolChoice(choice: ToolChoice | null | undefined, parallel: boolean | null | undefined): AnthropicToolChoice | undefined {
  const disable = parallel === false ? { disable_parallel_tool_use: true } : {};
  if (choice == null) return parallel === false ? { type: 'auto', ...disable } : undefined;
  if (choice === 'none') return { type: 'none' };
  if (choice === 'auto') return { type: 'auto', ...disable };
  if (choice === 'required') return { type: 'any', ...disable };
  return { type: 'tool', name: choice.function.name, ...disable };
}
