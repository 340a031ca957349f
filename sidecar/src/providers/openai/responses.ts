/**
 * The Responses API on an `openai` provider: the request goes as it came (only `model` replaced),
 * the response and its typed event stream come back with only `model` reported as the client
 * asked for it. Parsing here serves accounting (usage from `response.completed`), model renaming
 * when the provider's model name differs, and errors (`error` and `response.failed` events).
 */
import type { ResponseObject, ResponsesEvent, ResponsesPassthrough, ResponsesRequest } from '../../wire/responses.js';
import { badResponse, brokenStream, parseFrame, providerError } from '../shared/errors.js';
import { sseFramer, type SSEEvent } from '../shared/framing.js';
import { joinURL, postJSON } from '../shared/http.js';
import { frameTranslator } from '../shared/translator.js';
import { reasoningModel } from './models.js';
import { StreamError, type StreamTranslator, type TranslateContext, type UpstreamRequest, type UpstreamTarget } from '../types.js';

const PROVIDER = 'openai';

/**
 * `POST {baseURL}/responses` with the client's body, `model` replaced; for a model that does not
 * reason (another model than the client named: an alias, a failover), without `reasoning` and
 * encrypted reasoning in `include`, which it refuses with 400.
 */
export function responsesRequest(request: ResponsesRequest, target: UpstreamTarget, headers: Record<string, string>): UpstreamRequest {
  return postJSON(joinURL(target.baseURL, '/responses'), headers, () => (reasoningModel(target.model) ? { ...request, model: target.model } : withoutReasoning({ ...request, model: target.model })));
}

function withoutReasoning(body: ResponsesRequest & Record<string, unknown>): Record<string, unknown> {
  const { reasoning: _reasoning, ...rest } = body;
  const include = Array.isArray(body.include) ? (body.include as unknown[]).filter((i) => i !== 'reasoning.encrypted_content') : undefined;
  return include === undefined ? rest : { ...rest, include };
}

/** A Responses body, checked for the shape the API promises, reporting the requested model. */
export function responsesResponse(body: unknown, context: TranslateContext): ResponseObject {
  const response = body as Partial<ResponseObject> | null;
  if (typeof body !== 'object' || response === null || response.object !== 'response' || !Array.isArray(response.output)) {
    throw badResponse(PROVIDER, 'expected a response object with output');
  }
  return { ...(response as ResponseObject), model: context.requestedModel };
}

const TERMINAL = new Set(['response.completed', 'response.incomplete']);

/** Usage of a response object in the relay's terms. */
export function relayUsage(usage: ResponseObject['usage'] | undefined): ResponsesPassthrough['usage'] {
  return usage ? { prompt_tokens: usage.input_tokens, completion_tokens: usage.output_tokens } : undefined;
}

/** The content an event carries, in canonical delta terms (none for framing events). */
function contentOf(event: ResponsesEvent & { delta?: unknown; item?: { type?: unknown; name?: unknown } }, terminal: boolean): ResponsesPassthrough['choices'] {
  const delta = typeof event.delta === 'string' ? event.delta : '';
  let content: Record<string, unknown> | undefined;
  if (event.type === 'response.output_text.delta' || event.type === 'response.refusal.delta') content = { content: delta };
  else if (event.type === 'response.function_call_arguments.delta') content = { tool_calls: [{ index: 0, function: { arguments: delta } }] };
  else if (event.type === 'response.output_item.added' && event.item?.type === 'function_call') content = { tool_calls: [{ index: 0, function: { name: event.item.name } }] };
  else if (event.type.startsWith('response.reasoning') && event.type.endsWith('.delta')) content = { reasoning_content: delta };
  if (!content && !terminal) return [];
  return [{ index: 0, delta: content ?? {}, finish_reason: terminal ? 'stop' : null }];
}

/** A translator for a Responses event stream (no `[DONE]`: a terminal event ends it). */
export function responsesStream(context: TranslateContext): StreamTranslator<ResponsesPassthrough> {
  let out: ResponsesPassthrough[] = [];
  let finished = false;
  return frameTranslator(sseFramer(PROVIDER), {
    frame({ data }: SSEEvent) {
      if (finished) return;
      const event = parseFrame(PROVIDER, data) as ResponsesEvent & { response?: ResponseObject; error?: unknown; message?: unknown; code?: unknown };
      if (typeof event !== 'object' || event === null || typeof event.type !== 'string') throw brokenStream(PROVIDER, 'event data is not a typed JSON object');
      if (event.type === 'error') {
        throw new StreamError(providerError(500, typeof event.message === 'string' ? event.message : 'stream error', typeof event.code === 'string' ? event.code : null));
      }
      if (event.type === 'response.failed') {
        const error = event.response?.error;
        throw new StreamError(providerError(500, error?.message ?? 'the response failed', error?.code ?? null));
      }
      if (event.response && typeof event.response === 'object') event.response = { ...event.response, model: context.requestedModel };
      const terminal = TERMINAL.has(event.type);
      if (terminal) finished = true;
      out.push({ passthrough: event, choices: contentOf(event, terminal), ...(terminal ? { usage: relayUsage(event.response?.usage) } : {}) });
    },
    end() {
      if (!finished) throw brokenStream(PROVIDER, 'ended before response.completed');
    },
    complete() {
      return finished;
    },
    drain() {
      const events = out;
      out = [];
      return events;
    },
  });
}
