/**
 * The OpenAI Responses API on the socket (`POST /v1/responses`), for the OpenAI Agents SDK, Codex
 * and other Responses clients. An `openai` provider takes the call natively (the client's bytes
 * both ways when the model name is the same); every other provider through the canonical form.
 * `previous_response_id`: see ADR 0011.
 */
import { reaching, translatedChat } from './operations.js';
import { estimateTokens } from '../ingress/estimate.js';
import { ReferencesTooLarge, ResponseStore } from '../ingress/responses-store.js';
import { inputItems, responsesToChat } from '../ingress/translate/responses.js';
import { chatToResponse, responseId, responseShell } from '../ingress/translate/responses-output.js';
import { responsesStreamEncoder, type ResponsesStreamItem } from '../ingress/translate/responses-stream.js';
import { firstCallOnly, firstCallStream, mustKeepOneCall } from '../providers/shared/one-call.js';
import { unfencedJSON } from '../providers/shared/content.js';
import { CallToolNames } from '../providers/shared/tool-names.js';
import type { StreamTranslator, TranslateContext } from '../providers/types.js';
import type { ChatRequest } from '../wire/openai.js';
import { openAIError } from '../wire/openai.js';
import { isSidecarReasoning, ResponsesRequest, type InputItem, type ResponseObject } from '../wire/responses.js';
import type { AppOptions } from './app.js';
import { BadRequest } from './body.js';
import type { Ingress } from './ingress.js';
import { modelRoute } from './model-route.js';
import type { Operation } from './proxy.js';
import type { Router } from './http/router.js';
import { errorHandlerFor } from './refusal.js';
import type { ServerResponse } from 'node:http';
import { Routes } from './routes.js';

/** The Responses API as an ingress: OpenAI's error shape; `openai` providers speak it natively. */
export const responsesIngress: Ingress = {
  name: 'responses',
  native: ['openai'],
  errorBody: openAIError,
  completion: (completion) => chatToResponse(completion, responseShell({ model: completion.model }, responseId(completion.id), completion.created)),
  encoder: (context) => {
    const encoder = responsesStreamEncoder(responseShell({ model: context.model }, responseId(context.id), Math.floor(Date.now() / 1000)));
    return { chunk: (c) => encoder.chunk(c), error: (e) => encoder.error(e), end: () => encoder.end() };
  },
};

export function responsesRoutes(router: Router, options: AppOptions): void {
  const store = new ResponseStore();
  const routes = new Routes(router, options, errorHandlerFor(responsesIngress, options.log, options.metrics));
  modelRoute(
    routes,
    '/v1/responses',
    ResponsesRequest,
    // The client's request alone is looked at: what a stored conversation holds was, when it was sent.
    (body, raw) => reaching(responsesOperation(foreground(body), raw, store, options.maxBodyBytes), body, 'responses'),
    // Only reached when previous_response_id names a response the sidecar does not hold and no
    // provider of the model is OpenAI, which is where OpenAI-made responses live.
    (body) => {
      throw new BadRequest({
        status: 400,
        type: 'invalid_request_error',
        message: `Previous response with id '${body.previous_response_id}' not found: this sidecar keeps the responses it translated for an hour, and model '${body.model}' has no OpenAI provider that could hold it`,
        param: 'previous_response_id',
        code: 'previous_response_not_found',
      });
    },
  );

  // responses.retrieve / delete / input_items.list for the responses this sidecar translated.
  // Those OpenAI made and holds are not reachable here: the path names no model, so no provider.
  const notHeld = (id: string) =>
    new BadRequest({
      status: 404,
      type: 'invalid_request_error',
      message: `Response with id '${id}' not found: this sidecar keeps the responses it translated for an hour; one an OpenAI model made is held by OpenAI and cannot be fetched through the socket`,
      param: 'response_id',
      code: 'response_not_found',
    });
  /**
   * A stored response (or a page of its items) rendered for its client, held against the answer
   * budget until the client has it: one response of 16 MiB read back by 40 clients that read
   * nothing was 640 MiB (red team 19).
   */
  const rendered = (value: unknown, res: ServerResponse): Buffer => {
    const bytes = Buffer.from(JSON.stringify(value));
    const answers = options.live.answers;
    if (!answers.holdUntilClosed(res, bytes.length)) {
      throw new BadRequest({ status: 503, type: 'api_error', message: `the sidecar holds ${Math.round(answers.maxBytes / 1048576)} MiB of answers that their clients have not read yet, its bound (listen.maxAnswerBytesInFlight); retry later` });
    }
    return bytes;
  };
  routes.add('GET', '/v1/responses/:id', (request, res) => {
    const id = request.params.id!;
    const response = store.response(id);
    if (!response) throw notHeld(id);
    return rendered(response, res);
  });
  routes.add('GET', '/v1/responses/:id/input_items', (request, res) => {
    const id = request.params.id!;
    const response = store.response(id);
    const items = store.get(id);
    if (!response || !items) throw notHeld(id);
    // The response's own output is not an input; newest first unless order=asc, `limit` a page
    // (20 unless given, at most 100) after the item `after` names, as OpenAI pages them.
    const query = new URLSearchParams(request.query);
    const limit = query.has('limit') ? Number(query.get('limit')) : 20;
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw badQuery('limit', `Invalid 'limit': expected an integer from 1 to 100, got '${query.get('limit')}'.`);
    const order = query.get('order') ?? 'desc';
    if (order !== 'asc' && order !== 'desc') throw badQuery('order', `Invalid 'order': expected 'asc' or 'desc', got '${order}'.`);
    const listed = items.slice(0, items.length - response.output.length).map((item) => listedItem(item, store.inputItemId(item)));
    if (order === 'desc') listed.reverse();
    const after = query.get('after');
    const from = after === null ? 0 : listed.findIndex((item) => item.id === after) + 1;
    if (from === 0 && after !== null) throw badQuery('after', `Item with id '${after}' not found in the input items of response '${id}'.`);
    const data = listed.slice(from, from + limit);
    return rendered({ object: 'list', data, first_id: itemId(data[0]), last_id: itemId(data.at(-1)), has_more: from + limit < listed.length }, res);
  });
  routes.add('DELETE', '/v1/responses/:id', (request) => {
    const id = request.params.id!;
    if (!store.delete(id)) throw notHeld(id);
    return { id, object: 'response.deleted', deleted: true };
  });
}

/**
 * The request, refused when it asks for a background job: OpenAI queues it and answers at once
 * with no usage, the job runs (and is billed) at the provider after the call has ended, and its
 * answer is read back later by id. The sandbox's token and budget limits could not count it;
 * other providers have no such jobs.
 * @throws {BadRequest} naming `background`.
 */
function foreground(body: ResponsesRequest): ResponsesRequest {
  if ((body as Record<string, unknown>).background !== true) return body;
  const message =
    "`background: true` is not served through the sidecar: a background job runs at the provider after the call ends, where the sandbox's token and budget limits cannot count it; send the call without it (stream a long one)";
  throw new BadRequest({ status: 400, type: 'invalid_request_error', message, param: 'background', code: 'unsupported_parameter' });
}

function badQuery(param: string, message: string): BadRequest {
  return new BadRequest({ status: 400, type: 'invalid_request_error', message, param });
}

/** The held items in place of their references, the whole at most the body limit (400 past it). */
function resolveReferences(items: InputItem[], store: ResponseStore, bodyBytes: number, maxBodyBytes: number): InputItem[] {
  try {
    return store.resolve(items, maxBodyBytes - bodyBytes);
  } catch (err) {
    if (!(err instanceof ReferencesTooLarge)) throw err;
    const message = `the items named by item_reference would make the input more than ${maxBodyBytes} bytes, this sidecar's body limit (listen.maxBodyBytes): send fewer references, or previous_response_id`;
    throw new BadRequest({ status: 400, type: 'invalid_request_error', message, param: 'input' });
  }
}

/**
 * An input item as OpenAI lists it: typed, with an id, a message's text as content parts (a
 * request may give `{role, content: "text"}` with neither).
 */
function listedItem(item: InputItem, id: string | undefined): Record<string, unknown> {
  const o = item as Record<string, unknown>;
  const type = typeof o.type === 'string' ? o.type : 'message';
  const listed: Record<string, unknown> = { ...o, type, id };
  if (type === 'message' && typeof o.content === 'string') listed.content = [{ type: o.role === 'assistant' ? 'output_text' : 'input_text', text: o.content }];
  return listed;
}

function itemId(item: Record<string, unknown> | undefined): string | null {
  const id = (item as { id?: unknown } | undefined)?.id;
  return typeof id === 'string' ? id : null;
}

/**
 * One Responses call. A `previous_response_id` the sidecar holds is expanded into the full input
 * for every provider (OpenAI never saw those turns); one it does not hold is OpenAI's, so only
 * `openai` providers are tried. Likewise an `item_reference` to an output item the sidecar holds
 * becomes that item; one it does not hold is left for OpenAI (and refused by translation).
 */
/** Whether `input` names by reference items the sidecar does not hold (resolveReferences left them for OpenAI). */
function namesHeldItems(input: ResponsesRequest['input']): boolean {
  return Array.isArray(input) && input.some((item) => (item as { type?: unknown }).type === 'item_reference');
}

export function responsesOperation(sent: ResponsesRequest, raw: Buffer, store: ResponseStore, maxBodyBytes = Infinity): Operation<ResponseObject, ResponsesStreamItem> {
  const input = Array.isArray(sent.input) ? resolveReferences(sent.input, store, raw.length, maxBodyBytes) : sent.input;
  const request = input === sent.input ? sent : { ...sent, input };
  const previous = request.previous_response_id;
  const history = previous ? store.get(previous) : undefined;
  const heldElsewhere = previous != null && history === undefined;
  // A conversation OpenAI holds that the sidecar saw answered: its size is known.
  const heldSize = heldElsewhere ? store.sizeOf(previous) : undefined;
  const expanded: ResponsesRequest = history ? { ...request, previous_response_id: null, input: [...history, ...inputItems(request)] } : request;
  // OpenAI gets no reasoning the sidecar made from another provider's answer: it refuses
  // encrypted content it did not make, and reasoning ids it never issued.
  const forOpenAI: ResponsesRequest = Array.isArray(expanded.input) && expanded.input.some(isSidecarReasoning) ? { ...expanded, input: expanded.input.filter((item) => !isSidecarReasoning(item)) } : expanded;
  let chat: ChatRequest | undefined;
  const asChat = () => (chat ??= responsesToChat({ ...request, previous_response_id: null }, history));
  const names = new CallToolNames();
  const shell = (context: TranslateContext) => ({ ...responseShell(request, responseId(context.id), context.created), model: context.requestedModel });
  const remember = (response: ResponseObject) => {
    if (request.store === false || response.status === 'failed') return;
    store.put(response.id, [...(history ?? []), ...inputItems(request), ...(response.output as InputItem[])], response);
  };
  return {
    kind: 'responses',
    ingress: responsesIngress,
    model: request.model,
    stream: request.stream === true,
    // An expanded or filtered continuation is a new body; otherwise OpenAI gets the client's bytes.
    raw: history || request !== sent || forOpenAI !== expanded ? undefined : raw,
    chatRequest: asChat,
    maxOutputTokens: request.max_output_tokens ?? undefined,
    // A continuation sends the whole conversation upstream: held as such against the limits.
    ...(history ? { inputTokens: (dense = false) => estimateTokens([request.instructions, expanded.input, request.tools], dense) } : {}),
    ...(heldSize !== undefined ? { inputTokens: (dense = false) => heldSize + estimateTokens([request.instructions, request.input, request.tools], dense) } : {}),
    // A conversation or stored prompt only OpenAI holds is as long as it has grown there.
    // So are items of its responses named by reference (`item_reference`) that the sidecar does not hold.
    ...((heldElsewhere && heldSize === undefined) || request.conversation != null || request.prompt != null || namesHeldItems(request.input) ? { heldByProvider: true } : {}),
    answered: (id, tokens) => store.noteSize(id, tokens),
    supports: (provider) => !heldElsewhere || provider.adapter.responsesRequest !== undefined,
    build: (provider, target) => provider.adapter.responsesRequest?.(forOpenAI, target) ?? translatedChat(provider, asChat(), target, names),
    parse(provider, body, context) {
      if (provider.adapter.responsesResponse) return provider.adapter.responsesResponse(body, context);
      const completion = unfencedJSON(names.completion(provider.adapter.chatResponse(body, context), provider.config.type), asChat().response_format);
      const response = chatToResponse(mustKeepOneCall(provider.config.type, request) ? firstCallOnly(completion) : completion, shell(context));
      remember(response);
      return response;
    },
    render: (response) => response,
    usage: (response) => (response.usage ? { input: response.usage.input_tokens, output: response.usage.output_tokens } : undefined),
    streamFrames: {
      translator: (provider, context) => {
        if (provider.adapter.responsesStream) return provider.adapter.responsesStream(context) as StreamTranslator<ResponsesStreamItem>;
        const chat = names.stream(provider.adapter.chatStream(context), provider.config.type);
        return (mustKeepOneCall(provider.config.type, request) ? firstCallStream(chat) : chat) as StreamTranslator<ResponsesStreamItem>;
      },
      encoder: (context) => responsesStreamEncoder(shell(context), remember),
    },
  };
}
