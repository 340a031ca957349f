/**
 * Canonical completion → Responses response object, and the pieces the stream encoder shares:
 * the response shell echoing the request, item ids, usage and status mappings.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { ChatCompletion, FinishReason, ResponseThinkingBlock, Usage } from '../../wire/openai.js';
import { clientCallName } from './responses-namespaces.js';
import { sealThinking, SIDECAR_REASONING, type OutputItem, type OutputReasoning, type ResponseObject, type ResponsesRequest, type ResponsesUsage } from '../../wire/responses.js';

/** Drawn once per process: response ids are a keyed hash of the call id, which no client can compute. */
const ID_KEY = randomBytes(32);

/**
 * `resp_` + 40 hex digits of an HMAC of the call id; item ids are derived from it. The id is the
 * only thing that stands between one client of the socket and another's held conversation
 * (retrieve, input_items, previous_response_id, item_reference), and call ids are a process
 * prefix plus a counter: derived from them directly, one's own id told every other (ADR 0012).
 */
export function responseId(callId: string): string {
  if (callId.startsWith('resp_')) return callId;
  return `resp_${createHmac('sha256', ID_KEY).update(callId).digest('hex').slice(0, 40)}`;
}

/** The id of output item `n` of a response (`msg_…`, `fc_…`, `rs_…`, as OpenAI prefixes them). */
export function itemId(prefix: 'msg' | 'fc' | 'rs', response: string, n: number): string {
  return `${prefix}_${response.slice(5)}${n}`;
}

/** The response object before any output: what the request asked for, echoed as OpenAI does. */
export function responseShell(request: ResponsesRequest, id: string, created: number): ResponseObject {
  return {
    id,
    object: 'response',
    created_at: created,
    status: 'in_progress',
    error: null,
    incomplete_details: null,
    instructions: request.instructions ?? null,
    max_output_tokens: request.max_output_tokens ?? null,
    model: request.model,
    output: [],
    parallel_tool_calls: request.parallel_tool_calls ?? true,
    previous_response_id: request.previous_response_id ?? null,
    reasoning: { effort: request.reasoning?.effort ?? null, summary: request.reasoning?.summary ?? null },
    store: request.store ?? true,
    temperature: request.temperature ?? null,
    text: { format: request.text?.format ?? { type: 'text' } },
    tool_choice: request.tool_choice ?? 'auto',
    tools: request.tools ?? [],
    top_p: request.top_p ?? null,
    truncation: 'disabled',
    usage: null,
    user: request.user ?? null,
    metadata: request.metadata ?? {},
  };
}

/** Canonical usage in Responses terms. */
export function responsesUsage(usage: Usage | null | undefined): ResponsesUsage | null {
  if (!usage) return null;
  return {
    input_tokens: usage.prompt_tokens,
    input_tokens_details: { cached_tokens: usage.prompt_tokens_details?.cached_tokens ?? 0 },
    output_tokens: usage.completion_tokens,
    output_tokens_details: { reasoning_tokens: usage.completion_tokens_details?.reasoning_tokens ?? 0 },
    total_tokens: usage.prompt_tokens + usage.completion_tokens,
  };
}

/** Status and incomplete details for a canonical finish: cut short is `incomplete`, as OpenAI reports it. */
export function finishStatus(finish: FinishReason | null | undefined): Pick<ResponseObject, 'status' | 'incomplete_details'> {
  if (finish === 'length') return { status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } };
  if (finish === 'content_filter') return { status: 'incomplete', incomplete_details: { reason: 'content_filter' } };
  return { status: 'completed', incomplete_details: null };
}

/**
 * A reasoning item for a turn's reasoning: the text as its summary, and as `encrypted_content`
 * the sidecar's mark with Anthropic's signed and redacted blocks, so a client that hands the item
 * back (as the Agents SDK does) gives Anthropic its thinking again as it was, and no other
 * provider gets it (wire/responses.ts, SIDECAR_REASONING).
 */
export function reasoningItem(id: string, text: string, blocks: readonly ResponseThinkingBlock[] | undefined): OutputReasoning {
  return {
    type: 'reasoning',
    id,
    summary: text ? [{ type: 'summary_text', text }] : [],
    encrypted_content: sealThinking(blocks) ?? SIDECAR_REASONING,
  };
}

/** A canonical completion (first choice) as a response object. */
export function chatToResponse(completion: ChatCompletion, shell: ResponseObject): ResponseObject {
  const choice = completion.choices[0];
  const message = choice?.message;
  const output: OutputItem[] = [];
  const reasoningText = message?.reasoning_content ?? '';
  if (reasoningText || message?.thinking_blocks?.length) output.push(reasoningItem(itemId('rs', shell.id, output.length), reasoningText, message?.thinking_blocks));
  if (message?.content) {
    output.push({
      type: 'message',
      id: itemId('msg', shell.id, output.length),
      status: 'completed',
      role: 'assistant',
      content: [{ type: 'output_text', text: message.content, annotations: [], logprobs: [] }],
    });
  }
  for (const call of message?.tool_calls ?? []) {
    output.push({ type: 'function_call', id: itemId('fc', shell.id, output.length), call_id: call.id, ...clientCallName(shell.tools, call.function.name), arguments: call.function.arguments, status: 'completed' });
  }
  return { ...shell, ...finishStatus(choice?.finish_reason), output, usage: responsesUsage(completion.usage) };
}
