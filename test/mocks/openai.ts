/**
 * OpenAI wire format (also "openai-compatible"): chat completions, legacy completions,
 * embeddings, models and the Responses API (./openai-responses.ts), with `Authorization: Bearer` keys and `{error: {message, type, param,
 * code}}` errors. Streams are SSE `data: {json}\n\n` frames ending with `data: [DONE]\n\n`.
 */
import { arr, intField, json, obj, schemasByName, stopList, str, strictSchemaProblem } from './server.js';
import type { BodyReply, ProviderSpec, Reply, RouteContext, StreamReply } from './server.js';
import { responses } from './openai-responses.js';
import { countTokens, embed, newId, planTurn } from './turn.js';
import type { LastMessage, ToolChoice, Turn } from './turn.js';

const SSE = 'text/event-stream; charset=utf-8';
const FINGERPRINT = 'fp_mock0001';

const ERRORS: Record<number, { type: string; code: string | null; message: string }> = {
  400: { type: 'invalid_request_error', code: null, message: 'Invalid request.' },
  401: { type: 'invalid_request_error', code: 'invalid_api_key', message: 'Incorrect API key provided.' },
  403: { type: 'invalid_request_error', code: 'unsupported_country_region_territory', message: 'Country, region, or territory not supported' },
  404: { type: 'invalid_request_error', code: 'model_not_found', message: 'The model does not exist or you do not have access to it.' },
  429: { type: 'requests', code: 'rate_limit_exceeded', message: 'Rate limit reached for requests. Please try again later.' },
  503: { type: 'server_error', code: null, message: 'The engine is currently overloaded, please try again later' },
};
const SERVER_ERROR = { type: 'server_error', code: null, message: 'The server had an error while processing your request. Sorry about that!' };

function errorObject(status: number, message?: string, param: string | null = null, code?: string | null) {
  const known = ERRORS[status] ?? (status >= 500 ? SERVER_ERROR : { type: 'invalid_request_error', code: null, message: 'Invalid request.' });
  return { error: { message: message ?? known.message, type: known.type, param, code: code === undefined ? known.code : code } };
}

function error(status: number, message?: string, param: string | null = null, code?: string | null): BodyReply {
  return { ...json(status, errorObject(status, message, param, code)), headers: { 'x-request-id': newId('req_', 16) } };
}

function ok(value: unknown): BodyReply {
  return { ...json(200, value), headers: { 'x-request-id': newId('req_', 16) } };
}

const data = (value: unknown) => `data: ${JSON.stringify(value)}\n\n`;

function mask(key: string): string {
  return key.length > 8 ? `${key.slice(0, 3)}${'*'.repeat(key.length - 7)}${key.slice(-4)}` : '***';
}

function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  const labels: Record<string, string> = { image_url: '[image]', input_audio: '[audio]', file: '[file]' };
  return arr(content)
    .map((p) => {
      const part = obj(p);
      return part.type === 'text' ? (str(part.text) ?? '') : (labels[String(part.type)] ?? '');
    })
    .filter((t) => t.length > 0)
    .join(' ');
}

function lastMessage(messages: unknown[]): LastMessage | undefined {
  const last = obj(messages.at(-1));
  if (last.role === 'tool' || last.role === 'function') return { role: 'tool', text: contentText(last.content) };
  const user = messages.findLast((m) => obj(m).role === 'user');
  if (user === undefined) return undefined;
  return { role: last.role === 'user' ? 'user' : 'other', text: contentText(obj(user).content) };
}

/** The tools the model may call: those `tool_choice: allowed_tools` names, else all of them. */
function allowedTools(b: Record<string, unknown>): unknown[] {
  const choice = obj(b.tool_choice);
  if (choice.type !== 'allowed_tools') return arr(b.tools);
  const names = new Set(arr(obj(choice.allowed_tools).tools).map((t) => str(obj(obj(t).function).name) ?? str(obj(obj(t).custom).name)));
  return arr(b.tools).filter((t) => names.has(str(obj(obj(t).function).name) ?? str(obj(obj(t).custom).name)));
}

function toolChoice(value: unknown): ToolChoice {
  if (value === 'none' || value === 'required' || value === 'auto') return value;
  const name = str(obj(obj(value).function).name);
  return name ? { name } : 'auto';
}

const FINISH = { stop: 'stop', stop_sequence: 'stop', length: 'length', tool_calls: 'tool_calls' } as const;

function usage(prompt: number, completion: number) {
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  };
}

function streamReply(frames: string[]): StreamReply {
  return {
    type: 'stream',
    contentType: SSE,
    headers: { 'x-request-id': newId('req_', 16) },
    frames,
    errorFrame: (status, message) => data(errorObject(status ?? 500, message)),
    malformedFrame: 'data: {"id":"chatcmpl-broken","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":\n\n',
  };
}

/** Each of `choices` choices streams the turn in turn (the index tells them apart); usage counts them all. */
function chatStream(turn: Turn, head: Record<string, unknown>, options: Record<string, unknown>, promptTokens: number, choices: number): StreamReply {
  const includeUsage = options.include_usage === true;
  const frames: string[] = [];
  for (let index = 0; index < choices; index++) frames.push(...choiceFrames(turn, head, options, index));
  if (includeUsage) frames.push(data({ ...head, choices: [], usage: usage(promptTokens, turn.outputTokens * choices) }));
  frames.push('data: [DONE]\n\n');
  return streamReply(frames);
}

function choiceFrames(turn: Turn, head: Record<string, unknown>, options: Record<string, unknown>, choice: number): string[] {
  const includeUsage = options.include_usage === true;
  const obfuscate = options.include_obfuscation !== false;
  let n = 0;
  // Real chunks carry a random `obfuscation` pad (on by default since 2025); any string will do.
  const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
    data({
      ...head,
      choices: [{ index: choice, delta, logprobs: null, finish_reason: finish }],
      ...(includeUsage ? { usage: null } : {}),
      ...(obfuscate ? { obfuscation: 'QmFzZTY0UGFkZGluZw'.slice(0, (n++ * 7) % 17 + 1) } : {}),
    });
  const frames: string[] = [];
  const textFirst = turn.chunks.length > 0 || turn.calls.length === 0;
  if (textFirst) frames.push(chunk({ role: 'assistant', content: '', refusal: null }));
  for (const text of turn.chunks) frames.push(chunk({ content: text }));
  turn.calls.forEach((c, index) => {
    const start = { index, id: c.id, type: 'function', function: { name: c.name, arguments: '' } };
    // Without text, the role arrives in the same delta as the first call, as OpenAI sends it.
    frames.push(chunk(index === 0 && !textFirst ? { role: 'assistant', content: null, tool_calls: [start], refusal: null } : { tool_calls: [start] }));
    for (const f of c.fragments) frames.push(chunk({ tool_calls: [{ index, function: { arguments: f } }] }));
  });
  frames.push(chunk({}, FINISH[turn.finish]));
  return frames;
}

/** OpenAI's bounds of `n`, in its words; the answer has that many choices, each billed. */
function choiceCountProblem(n: unknown): BodyReply | undefined {
  if (typeof n !== 'number') return undefined;
  if (n > 128) return error(400, `Invalid 'n': integer above maximum value. Expected a value <= 128, but got ${n} instead.`, 'n', 'integer_above_max_value');
  if (n < 1) return error(400, `Invalid 'n': integer below minimum value. Expected a value >= 1, but got ${n} instead.`, 'n', 'integer_below_min_value');
  return undefined;
}

/** A strict schema (`response_format` or a function) that strict mode does not take: OpenAI's 400. */
function strictRefusal(b: Record<string, unknown>): BodyReply | undefined {
  const format = obj(obj(b.response_format).json_schema);
  if (format.strict === true) {
    const problem = strictSchemaProblem(format.schema);
    if (problem) return error(400, `Invalid schema for response_format '${str(format.name) ?? ''}': ${problem}`, 'response_format', null);
  }
  for (const [i, tool] of arr(b.tools).entries()) {
    const fn = obj(obj(tool).function);
    const problem = fn.strict === true ? strictSchemaProblem(fn.parameters) : undefined;
    if (problem) return error(400, `Invalid schema for function '${str(fn.name) ?? ''}': ${problem}`, `tools[${i}].function.parameters`, 'invalid_function_parameters');
  }
  return undefined;
}

/**
 * Tool fields OpenAI refuses, as its 400 (param, message): `tool_choice` (any, `none` included)
 * and then `parallel_tool_calls` without tools, `tools: []` counting as none ("Invalid value for
 * 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.", as users of
 * openai-dotnet, gptel, Codex and others report), and a named function that no function tool
 * declares (the Responses API's words; the chat API's wording is not confirmed).
 */
function toolFieldProblem(b: Record<string, unknown>): { param: string; message: string } | undefined {
  if (arr(b.tools).length === 0) {
    const field = ['tool_choice', 'parallel_tool_calls'].find((f) => b[f] != null);
    return field ? { param: field, message: `Invalid value for '${field}': '${field}' is only allowed when 'tools' are specified.` } : undefined;
  }
  const choice = obj(b.tool_choice);
  const chosen = choice.type === 'function' ? str(obj(choice.function).name) : undefined;
  const declared = arr(b.tools).flatMap((t) => (obj(t).type === 'function' ? (str(obj(obj(t).function).name) ?? []) : []));
  if (chosen !== undefined && !declared.includes(chosen)) return { param: 'tool_choice', message: `Tool choice '${chosen}' not found in 'tools' parameter.` };
  return undefined;
}

/** OpenAI refuses tool call ids longer than 40 characters, in assistant tool_calls and tool messages. */
function longToolCallId(messages: unknown[]): { param: string; length: number } | undefined {
  for (const [i, m] of messages.entries()) {
    const message = obj(m);
    for (const [j, call] of arr(message.tool_calls).entries()) {
      const id = str(obj(call).id);
      if (id !== undefined && id.length > 40) return { param: `messages[${i}].tool_calls[${j}].id`, length: id.length };
    }
    const id = str(message.tool_call_id);
    if (id !== undefined && id.length > 40) return { param: `messages[${i}].tool_call_id`, length: id.length };
  }
  return undefined;
}

/**
 * A function name OpenAI refuses (`^[a-zA-Z0-9_-]{1,64}$`), in the declared tools or in an earlier
 * assistant turn's calls, as its 400: the param and message OpenAI gives.
 */
function badFunctionName(b: Record<string, unknown>): { param: string; message: string; code: string } | undefined {
  const named = [
    ...arr(b.tools).map((t, i) => [`tools[${i}].function.name`, str(obj(obj(t).function).name)] as const),
    ...arr(b.messages).flatMap((m, i) => arr(obj(m).tool_calls).map((c, j) => [`messages[${i}].tool_calls[${j}].function.name`, str(obj(obj(c).function).name)] as const)),
  ];
  for (const [param, name] of named) {
    if (name === undefined) continue;
    if (name.length > 64) return { param, code: 'string_above_max_length', message: `Invalid '${param}': string too long. Expected a string with maximum length 64, but got a string with length ${name.length} instead.` };
    if (!/^[a-zA-Z0-9_-]+$/.test(name)) return { param, code: 'invalid_value', message: `Invalid '${param}': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.` };
  }
  return undefined;
}

/** OpenAI's reasoning models: the o-series, gpt-5 (not its chat model), codex. */
function reasons(model: string): boolean {
  return (/^o[1-9]/.test(model) || model.startsWith('gpt-5') || model.startsWith('codex')) && !model.includes('-chat');
}

/**
 * `asOpenAI`: refuse the function names and tool fields OpenAI refuses (OpenAI-compatible servers
 * such as vLLM and llama.cpp take any name, and differ on tool choices).
 */
function chat(ctx: RouteContext, { asOpenAI = true } = {}): Reply {
  const b = obj(ctx.body);
  const model = str(b.model);
  if (!model) return error(400, 'you must provide a model parameter');
  if (!Array.isArray(b.messages)) return error(400, "Missing required parameter: 'messages'.", 'messages', 'missing_required_parameter');
  // Fields OpenAI refuses: top_k is no parameter of its API; reasoning_effort only its reasoning models take.
  if ('top_k' in b) return error(400, 'Unrecognized request argument supplied: top_k');
  if (b.reasoning_effort != null && !reasons(model)) return error(400, "Unsupported parameter: 'reasoning_effort' is not supported with this model.", 'reasoning_effort', 'unsupported_parameter');
  for (const field of ['thinking', 'cache_control']) if (field in b) return error(400, `Unrecognized request argument supplied: ${field}`);
  // gpt-5.1 and later take them while they do not reason: at effort none, their default.
  const samplesAtNone = /^gpt-(5\.[1-9]|[6-9])/.test(model) && (b.reasoning_effort == null || b.reasoning_effort === 'none');
  if (reasons(model) && !samplesAtNone) {
    // The reasoning models take the sampling fields at their default only, and no stop sequences.
    for (const field of ['temperature', 'top_p'] as const) {
      if (b[field] != null && b[field] !== 1) return error(400, `Unsupported value: '${field}' does not support ${String(b[field])} with this model. Only the default (1) value is supported.`, field, 'unsupported_value');
    }
    for (const field of ['presence_penalty', 'frequency_penalty', 'logprobs', 'top_logprobs', 'logit_bias', 'stop']) {
      if (b[field] != null && b[field] !== 0 && b[field] !== false) return error(400, `Unsupported parameter: '${field}' is not supported with this model.`, field, 'unsupported_parameter');
    }
  }
  if (Array.isArray(b.stop) && b.stop.length > 4) return error(400, `Invalid 'stop': array too long. Expected an array with maximum length 4, but got an array with length ${b.stop.length} instead.`, 'stop', 'array_above_max_length');
  const strict = strictRefusal(b);
  if (strict) return strict;
  const choicesRefused = choiceCountProblem(b.n);
  if (choicesRefused) return choicesRefused;
  const choices = intField(b.n) ?? 1;
  // A file by data needs its name; without one OpenAI asks for the other way to give a file.
  for (const [i, m] of arr(b.messages).entries()) {
    for (const [j, part] of arr(obj(m).content).entries()) {
      const file = obj(obj(part).file);
      if (obj(part).type === 'file' && !str(file.file_id) && !str(file.filename)) return error(400, `Missing required parameter: 'messages[${i}].content[${j}].file.file_id'.`, `messages[${i}].content[${j}].file.file_id`, 'missing_required_parameter');
      // Tool messages take text parts only: an image a tool returned goes in a user message.
      const type = String(obj(part).type);
      if (obj(m).role === 'tool' && type !== 'text') return error(400, `Invalid value: '${type}'. Supported values are: 'text'.`, `messages[${i}].content[${j}].type`, 'invalid_value');
    }
  }
  // An assistant message needs content unless it has tool calls (or a refusal).
  const empty = arr(b.messages).findIndex((m) => obj(m).role === 'assistant' && obj(m).content == null && arr(obj(m).tool_calls).length === 0 && obj(m).refusal == null);
  if (empty >= 0) return error(400, "Invalid value for 'content': expected a string, got null.", `messages.[${empty}].content`, null);
  const toolField = asOpenAI ? toolFieldProblem(b) : undefined;
  if (toolField) return error(400, toolField.message, toolField.param, null);
  const badName = asOpenAI ? badFunctionName(b) : undefined;
  if (badName) return error(400, badName.message, badName.param, badName.code);
  const tooLong = longToolCallId(b.messages);
  if (tooLong) return error(400, `Invalid '${tooLong.param}': string too long. Expected a string with maximum length 40, but got a string with length ${tooLong.length} instead.`, tooLong.param, 'string_above_max_length');
  const turn = planTurn({
    last: lastMessage(b.messages),
    tools: allowedTools(b).flatMap((t) => str(obj(obj(t).function).name) ?? str(obj(obj(t).custom).name) ?? []),
    toolSchemas: schemasByName(arr(b.tools).map((t) => obj(obj(t).function)), 'parameters'),
    toolChoice: toolChoice(obj(b.tool_choice).type === 'allowed_tools' ? obj(obj(b.tool_choice).allowed_tools).mode : b.tool_choice),
    parallel: b.parallel_tool_calls !== false,
    maxTokens: intField(b.max_completion_tokens) ?? intField(b.max_tokens),
    stop: stopList(b.stop),
    step: ctx.step,
    idPrefix: 'call_',
    json: jsonFormat(obj(b.response_format)),
  });
  const promptTokens = countTokens(b.messages);
  const head = { id: newId('chatcmpl-', 22), object: 'chat.completion.chunk', created: Math.floor(Date.now() / 1000), model, service_tier: 'default', system_fingerprint: FINGERPRINT };
  if (b.stream === true) return chatStream(turn, head, obj(b.stream_options), promptTokens, choices);

  const toolCalls = turn.calls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.json } }));
  const message = {
    role: 'assistant',
    content: turn.text === '' && toolCalls.length > 0 ? null : turn.text,
    refusal: null,
    annotations: [],
    ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
  };
  return ok({
    ...head,
    object: 'chat.completion',
    choices: Array.from({ length: choices }, (_, index) => ({ index, message, logprobs: null, finish_reason: FINISH[turn.finish] })),
    usage: usage(promptTokens, turn.outputTokens * choices),
  });
}

/**
 * The prompts of a legacy completion: a text or a token list is one; a list of texts or of token
 * lists is a batch, answered with a completion (n of them, best_of generated) for each prompt.
 */
function completionPrompts(prompt: unknown): { text: string; tokens: number }[] {
  const one = (p: unknown) => (Array.isArray(p) ? { text: '', tokens: p.length } : { text: str(p) ?? '', tokens: countTokens(str(p) ?? '') });
  if (!Array.isArray(prompt) || prompt.length === 0 || typeof prompt[0] === 'number') return [one(prompt)];
  return prompt.map(one);
}

function completions(ctx: RouteContext): Reply {
  const b = obj(ctx.body);
  const model = str(b.model);
  if (!model) return error(400, 'you must provide a model parameter');
  const turns = completionPrompts(b.prompt).map((prompt) => ({
    prompt,
    turn: planTurn({
      last: { role: 'user', text: prompt.text },
      tools: [],
      toolChoice: 'none',
      parallel: false,
      maxTokens: intField(b.max_tokens),
      stop: stopList(b.stop),
      step: { ...ctx.step, toolCalls: [] },
      idPrefix: 'call_',
    }),
  }));
  const head = { id: newId('cmpl-', 22), object: 'text_completion', created: Math.floor(Date.now() / 1000), model, system_fingerprint: FINGERPRINT };
  const choice = (text: string, finish_reason: string | null, index: number) => ({ text, index, logprobs: null, finish_reason });
  // best_of completions are generated (and billed) to return the best n, for each prompt: choice
  // p × n + i is the i-th completion of prompt p.
  const returned = intField(b.n) ?? 1;
  const generated = Math.max(returned, intField(b.best_of) ?? 1);
  const promptTokens = turns.reduce((sum, t) => sum + t.prompt.tokens, 0);
  const completionTokens = turns.reduce((sum, t) => sum + t.turn.outputTokens * generated, 0);
  const tokens = { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
  const indexed = turns.flatMap(({ turn }, p) => Array.from({ length: returned }, (_, i) => ({ turn, index: p * returned + i })));
  if (b.stream !== true) return ok({ ...head, choices: indexed.map(({ turn, index }) => choice(turn.text, FINISH[turn.finish], index)), usage: tokens });

  const includeUsage = obj(b.stream_options).include_usage === true;
  const extra = includeUsage ? { usage: null } : {};
  const frames = indexed.flatMap(({ turn, index }) => [
    ...turn.chunks.map((text) => data({ ...head, choices: [choice(text, null, index)], ...extra })),
    data({ ...head, choices: [choice('', FINISH[turn.finish], index)], ...extra }),
  ]);
  if (includeUsage) frames.push(data({ ...head, choices: [], usage: tokens }));
  frames.push('data: [DONE]\n\n');
  return streamReply(frames);
}

function embeddings(ctx: RouteContext): Reply {
  const b = obj(ctx.body);
  const model = str(b.model);
  if (!model) return error(400, 'you must provide a model parameter');
  const input = b.input;
  const items: unknown[] = typeof input === 'string' ? [input] : Array.isArray(input) ? (input.every((x) => typeof x === 'number') ? [input] : input) : [];
  if (items.length === 0) return error(400, "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.", 'input', null);
  const dims = intField(b.dimensions) || 8;
  const base64 = b.encoding_format === 'base64';
  const texts = items.map((x) => (typeof x === 'string' ? x : JSON.stringify(x)));
  // A list of token ids is billed one token an id.
  const tokens = items.reduce((sum: number, x) => sum + (Array.isArray(x) ? x.length : countTokens(x)), 0);
  return ok({
    object: 'list',
    data: texts.map((text, index) => {
      const vector = embed(text, dims);
      return { object: 'embedding', index, embedding: base64 ? Buffer.from(new Float32Array(vector).buffer).toString('base64') : vector };
    }),
    model,
    usage: { prompt_tokens: tokens, total_tokens: tokens },
  });
}

const model = (id: string) => ({ id, object: 'model', created: 1_700_000_000, owned_by: 'system' });

/** The OpenAI provider spec. */
export const openai: ProviderSpec = {
  basePath: '/v1',
  defaultModels: ['gpt-4o-mini', 'text-embedding-3-small'],
  authenticate(headers, _url, keys) {
    if (!keys) return undefined;
    const key = /^Bearer\s+(\S+)$/i.exec(headers.authorization ?? '')?.[1];
    if (key === undefined) {
      return error(
        401,
        "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY). You can obtain an API key from https://platform.openai.com/account/api-keys.",
        null,
        null,
      );
    }
    if (keys.has(key)) return undefined;
    return error(401, `Incorrect API key provided: ${mask(key)}. You can find your API key at https://platform.openai.com/account/api-keys.`);
  },
  error: (status, message) => error(status, message),
  invalidJson: () =>
    error(
      400,
      "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble figuring out how to fix this, please contact us through our help center at help.openai.com.)",
      null,
      null,
    ),
  route(ctx) {
    const { method, url } = ctx;
    const path = url.pathname;
    if (method === 'POST' && path === '/v1/chat/completions') return chat(ctx);
    if (method === 'POST' && path === '/v1/completions') return completions(ctx);
    if (method === 'POST' && path === '/v1/embeddings') return embeddings(ctx);
    if (method === 'POST' && path === '/v1/responses') return responses(ctx, { error, ok, errorObject });
    if (method === 'GET' && path === '/v1/models') return ok({ object: 'list', data: ctx.models.map(model) });
    const id = /^\/v1\/models\/(.+)$/.exec(path)?.[1];
    if (method === 'GET' && id !== undefined) {
      const name = decodeURIComponent(id);
      return ctx.models.includes(name) ? ok(model(name)) : error(404, `The model '${name}' does not exist`, 'model', 'model_not_found');
    }
    return error(404, `Invalid URL (${method} ${path})`, null, null);
  },
};

/**
 * An OpenAI-compatible server (vLLM, llama.cpp, a gateway): the OpenAI mock, taking any function
 * name, less the `developer` role, which such servers refuse where the model's chat template has no such role (vLLM's
 * answer, as Qwen's and Llama's templates make it, is this 400). A `tool_choice` other than `none`
 * without `tools` is refused in vLLM's words (its request model's check; `none` passes).
 */
export const openaiCompatible: ProviderSpec = {
  ...openai,
  route(ctx) {
    const chatPath = ctx.method === 'POST' && ctx.url.pathname === '/v1/chat/completions';
    if (chatPath && arr(obj(ctx.body).messages).some((m) => obj(m).role === 'developer')) return error(400, 'Unexpected message role.', null, null);
    const choice = obj(ctx.body).tool_choice;
    if (chatPath && choice != null && choice !== 'none' && obj(ctx.body).tools == null) return error(400, 'When using `tool_choice`, `tools` must be set.', null, null);
    // vLLM and llama.cpp take any function name (their request models have no pattern).
    if (chatPath) return chat(ctx, { asOpenAI: false });
    return openai.route(ctx);
  },
};

/** Chat completions' `response_format`: JSON mode, with the schema of `json_schema`. */
function jsonFormat(format: Record<string, unknown>): { schema?: unknown } | undefined {
  if (format.type === 'json_object') return {};
  if (format.type === 'json_schema') return { schema: obj(format.json_schema).schema };
  return undefined;
}
