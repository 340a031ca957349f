/**
 * Gemini (Generative Language API) wire format: generateContent, streamGenerateContent (SSE
 * with `alt=sse`, else a streamed JSON array), embedContent, batchEmbedContents, countTokens and
 * models, with keys in `x-goog-api-key` or `?key=` and Google's `{error: {code, message,
 * status}}` errors. Bodies are pretty-printed like Google's; SSE frames end in CRLF CRLF.
 */
import { createHash } from 'node:crypto';
import { arr, intField, json, obj, schemasByName, stopList, str } from './server.js';
import type { BodyReply, ProviderSpec, Reply, RouteContext, StreamReply } from './server.js';
import { countTokens, embed, newId, planTurn } from './turn.js';
import type { LastMessage, ToolChoice, Turn } from './turn.js';

const JSON_TYPE = 'application/json; charset=UTF-8';

const ERRORS: Record<number, { status: string; message: string }> = {
  400: { status: 'INVALID_ARGUMENT', message: 'Request contains an invalid argument.' },
  401: { status: 'UNAUTHENTICATED', message: 'Request had invalid authentication credentials.' },
  403: { status: 'PERMISSION_DENIED', message: 'The caller does not have permission' },
  404: { status: 'NOT_FOUND', message: 'Requested entity was not found.' },
  429: { status: 'RESOURCE_EXHAUSTED', message: 'Resource has been exhausted (e.g. check quota).' },
  500: { status: 'INTERNAL', message: 'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting' },
  503: { status: 'UNAVAILABLE', message: 'The model is overloaded. Please try again later.' },
  504: { status: 'DEADLINE_EXCEEDED', message: 'Deadline expired before operation could complete.' },
};

function errorObject(code: number, message?: string, details?: unknown[]) {
  const known = ERRORS[code] ?? (code >= 500 ? ERRORS[500] : ERRORS[400]);
  return { error: { code, message: message ?? known?.message ?? 'Error', status: known?.status ?? 'UNKNOWN', ...(details ? { details } : {}) } };
}

/** Values that are free JSON, read as sent: call arguments, function responses, JSON Schemas (and a Schema's `properties` names). */
const FREE_JSON = new Set(['args', 'response', 'parametersJsonSchema', 'responseJsonSchema']);

/** A copy of a request with every field by its lowerCamelCase name (the snake_case one read when it is the only one). */
function camelFields(value: unknown, names = false): unknown {
  if (Array.isArray(value)) return value.map((v) => camelFields(v));
  if (typeof value !== 'object' || value === null) return value;
  const out = new Map<string, unknown>();
  for (const [key, v] of Object.entries(value)) {
    const field = names ? key : key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
    if (out.has(field) && field !== key) continue;
    out.set(field, !names && FREE_JSON.has(field) ? v : camelFields(v, !names && field === 'properties'));
  }
  return Object.fromEntries(out);
}

const error = (code: number, message?: string, details?: unknown[]): BodyReply => json(code, errorObject(code, message, details), JSON_TYPE, 2);
const ok = (value: unknown): BodyReply => json(200, value, JSON_TYPE, 2);

function partsText(parts: unknown): string {
  return arr(parts)
    .map((p) => {
      const part = obj(p);
      if (typeof part.text === 'string') return part.text;
      if (part.inlineData) return String(obj(part.inlineData).mimeType ?? '').startsWith('image/') ? '[image]' : '[file]';
      if (part.fileData) return '[file]';
      return '';
    })
    .filter((t) => t.length > 0)
    .join(' ');
}

function responseText(response: unknown): string {
  const r = obj(response);
  for (const key of ['output', 'result', 'content']) if (typeof r[key] === 'string') return r[key];
  return JSON.stringify(response);
}

function lastMessage(contents: unknown[]): LastMessage | undefined {
  const last = obj(contents.at(-1));
  const role = str(last.role) ?? 'user';
  if (role === 'user' || role === 'function') {
    const result = arr(last.parts).findLast((p) => obj(p).functionResponse);
    if (result !== undefined) return { role: 'tool', text: responseText(obj(obj(result).functionResponse).response) };
    return { role: 'user', text: partsText(last.parts) };
  }
  const user = contents.findLast((c) => (str(obj(c).role) ?? 'user') === 'user');
  return user === undefined ? undefined : { role: 'other', text: partsText(obj(user).parts) };
}

function tools(body: Record<string, unknown>): { names: string[]; choice: ToolChoice } {
  const declared = arr(body.tools).flatMap((t) => arr(obj(t).functionDeclarations).flatMap((d) => str(obj(d).name) ?? []));
  const config = obj(obj(body.toolConfig).functionCallingConfig);
  const allowed = arr(config.allowedFunctionNames).filter((n): n is string => typeof n === 'string');
  const names = allowed.length > 0 ? declared.filter((n) => allowed.includes(n)) : declared;
  if (config.mode === 'NONE') return { names, choice: 'none' };
  if (config.mode === 'ANY') return { names, choice: names.length === 1 && names[0] ? { name: names[0] } : 'required' };
  return { names, choice: 'auto' };
}

/**
 * A `toolConfig.functionCallingConfig` Gemini refuses (400 INVALID_ARGUMENT): one without function
 * declarations (Google's words, as users sending it with only google_search report), and
 * `allowedFunctionNames` unless the mode is ANY (or VALIDATED, which also restricts the calls), or
 * naming a function not declared (the API reference: "Only set when the Mode is ANY. Function names
 * should match [FunctionDeclaration.name]"; the wording of those two is not confirmed).
 */
function functionCallingProblem(b: Record<string, unknown>, declared: string[]): string | undefined {
  const config = obj(b.toolConfig).functionCallingConfig;
  if (config === undefined) return undefined;
  if (declared.length === 0) return 'Function calling config is set without function_declarations.';
  const allowed = arr(obj(config).allowedFunctionNames);
  if (allowed.length === 0) return undefined;
  const mode = str(obj(config).mode) ?? 'MODE_UNSPECIFIED';
  if (mode !== 'ANY' && mode !== 'VALIDATED') return `* GenerateContentRequest.tool_config.function_calling_config.allowed_function_names: allowed_function_names may only be set when mode is ANY, not ${mode}.\n`;
  const unknown = allowed.findIndex((name) => typeof name !== 'string' || !declared.includes(name));
  if (unknown >= 0) return `* GenerateContentRequest.tool_config.function_calling_config.allowed_function_names[${unknown}]: function '${String(allowed[unknown])}' is not declared in tools.\n`;
  return undefined;
}

/**
 * Gemini 3 thought signatures: the first function call of each step carries an opaque
 * `thoughtSignature` (about 90 base64 characters), and a later request whose current turn lacks
 * it, or carries one that was not issued for that call, is refused with 400. Here the signature
 * is a digest of the call, so the mock can check it without keeping state.
 */
const SKIP_SIGNATURE = 'skip_thought_signature_validator';

function signs(model: string): boolean {
  return /^gemini-/.test(model) && !/^gemini-[12][.-]/.test(model);
}

function signatureOf(name: string, args: unknown): string {
  return createHash('sha512').update(`mock-thought:${name}:${JSON.stringify(args ?? {})}`).digest('base64');
}

/** The 400 for a current turn whose function calls lack their signature, if any. */
function checkSignatures(contents: unknown[]): BodyReply | undefined {
  // The current turn starts after the last user content with text (not a function response).
  const start = contents.findLastIndex((c) => (str(obj(c).role) ?? 'user') === 'user' && arr(obj(c).parts).some((p) => typeof obj(p).text === 'string'));
  for (const [i, content] of contents.entries()) {
    if (i <= start || obj(content).role !== 'model') continue;
    const first = arr(obj(content).parts).findIndex((p) => obj(p).functionCall);
    if (first < 0) continue;
    const part = obj(arr(obj(content).parts)[first]);
    const call = obj(part.functionCall);
    const signature = part.thoughtSignature;
    if (signature === undefined) {
      return error(400, `Function call is missing a thought_signature in functionCall parts. This is required for tools to work correctly, and missing thought_signature may lead to degraded model performance. Additional data, function call \`default_api:${String(call.name)}\` , position ${first + 1}. Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures for more details.`);
    }
    // bytes in the API: sent in base64 or in its URL-safe form (google-genai for Python).
    const issued = Buffer.from(signatureOf(String(call.name), call.args), 'base64');
    if (signature !== SKIP_SIGNATURE && !Buffer.from(String(signature), 'base64').equals(issued)) return error(400, 'Corrupted thought signature.');
  }
  return undefined;
}

function parts(text: string, turn: Turn, signed = false): unknown[] {
  const calls = turn.calls.map((c, i) => ({ functionCall: { name: c.name, args: c.args }, ...(signed && i === 0 ? { thoughtSignature: signatureOf(c.name, c.args) } : {}) }));
  return [...(text !== '' ? [{ text }] : []), ...calls];
}

function usage(prompt: number, candidates: number) {
  return { promptTokenCount: prompt, candidatesTokenCount: candidates, totalTokenCount: prompt + candidates, promptTokensDetails: [{ modality: 'TEXT', tokenCount: prompt }] };
}

function stream(turn: Turn, head: Record<string, unknown>, promptTokens: number, sse: boolean, signed: boolean): StreamReply {
  const finishReason = turn.finish === 'length' ? 'MAX_TOKENS' : 'STOP';
  const responses: unknown[] = [];
  let sent = 0;
  // Text arrives a word per response; function calls arrive whole, in the last one, which carries the finish reason.
  turn.chunks.forEach((text, i) => {
    sent += 1;
    const last = i === turn.chunks.length - 1 && turn.calls.length === 0;
    const candidate = { content: { parts: [{ text }], role: 'model' }, ...(last ? { finishReason } : {}), index: 0 };
    responses.push({ candidates: [candidate], usageMetadata: usage(promptTokens, sent), ...head });
  });
  if (turn.calls.length > 0 || turn.chunks.length === 0) {
    const callParts = turn.calls.length > 0 ? parts('', turn, signed) : [{ text: '' }];
    responses.push({ candidates: [{ content: { parts: callParts, role: 'model' }, finishReason, index: 0 }], usageMetadata: usage(promptTokens, turn.outputTokens), ...head });
  }
  if (sse) {
    const frame = (value: unknown) => `data: ${JSON.stringify(value)}\r\n\r\n`;
    return {
      type: 'stream',
      contentType: 'text/event-stream',
      frames: responses.map(frame),
      errorFrame: (status, message) => frame(errorObject(status ?? 500, message)),
      malformedFrame: 'data: {"candidates": [{"content": {"parts": [{"text": \r\n\r\n',
    };
  }
  // Without alt=sse the API streams one pretty-printed JSON array.
  const frames = responses.map((r, i) => `${i === 0 ? '[' : ',\r\n'}${JSON.stringify(r, null, 2)}`);
  frames.push(']');
  return {
    type: 'stream',
    contentType: JSON_TYPE,
    frames,
    errorFrame: (status, message) => `,\r\n${JSON.stringify(errorObject(status ?? 500, message), null, 2)}]`,
    malformedFrame: ',\r\n{\n  "candidates": [\n    {\n      "content": ',
  };
}

function generate(ctx: RouteContext, model: string, streaming: boolean): Reply {
  const b = obj(ctx.body);
  const contents = arr(b.contents);
  if (contents.length === 0) return error(400, '* GenerateContentRequest.contents: contents is not specified\n');
  const signed = signs(model);
  const unsigned = signed ? checkSignatures(contents) : undefined;
  if (unsigned) return unsigned;
  const config = obj(b.generationConfig);
  if (arr(config.stopSequences).length > 5) return error(400, '* GenerateContentRequest.generation_config.stop_sequences: at most 5 stop sequences may be given\n');
  // Each 2.5 model's thinking budgets (Google's thinking guide); 2.5 Pro cannot stop thinking.
  const budget = intField(obj(config.thinkingConfig).thinkingBudget);
  const range = /^gemini-2\.5-pro/.test(model) ? [128, 32_768] : /^gemini-2\.5-flash-lite/.test(model) ? [512, 24_576] : /^gemini-2\.5-flash/.test(model) ? [1, 24_576] : undefined;
  if (budget !== undefined && budget !== -1 && range) {
    if (budget === 0 && range[0] === 128) return error(400, 'Budget 0 is invalid. This model only works in thinking mode.');
    if (budget !== 0 && (budget < range[0]! || budget > range[1]!)) return error(400, `The thinking budget ${budget} is invalid. Please choose a value between ${range[0]} and ${range[1]}.`);
  }
  const noParts = contents.findIndex((c) => arr(obj(c).parts).length === 0);
  if (noParts >= 0) return error(400, `* GenerateContentRequest.contents[${noParts}].parts: contents.parts must not be empty.\n`);
  const { names, choice } = tools(b);
  // Gemini's function names: a letter or _ first, then letters, digits, _ . : and -, at most 64.
  const declared = arr(b.tools).flatMap((t, i) => arr(obj(t).functionDeclarations).map((d, j) => [i, j, str(obj(d).name) ?? ''] as const));
  const badName = declared.find(([, , name]) => !/^[a-zA-Z_][a-zA-Z0-9_.:-]{0,63}$/.test(name));
  if (badName) {
    return error(400, `* GenerateContentRequest.tools[${badName[0]}].function_declarations[${badName[1]}].name: Invalid function name. Must start with a letter or an underscore. Must be alphameric (a-z, A-Z, 0-9), underscores (_), dots (.), colons (:), or dashes (-), with a maximum length of 64.\n`);
  }
  const configRefused = functionCallingProblem(b, declared.map(([, , name]) => name));
  if (configRefused) return error(400, configRefused);
  // Gemini 2 and older take function calling or a JSON response type, not both.
  if (/^gemini-[12][.-]/.test(model) && names.length > 0 && config.responseMimeType === 'application/json') {
    return error(400, "Function calling with a response mime type: 'application/json' is unsupported");
  }
  const turn = planTurn({
    last: lastMessage(contents),
    tools: names,
    toolSchemas: schemasByName(
      arr(b.tools).flatMap((t) => arr(obj(t).functionDeclarations).map((d) => obj(d))).map((d) => ({ name: d.name, schema: d.parametersJsonSchema ?? d.parameters })),
      'schema',
    ),
    toolChoice: choice,
    parallel: true,
    maxTokens: intField(config.maxOutputTokens),
    stop: stopList(config.stopSequences),
    step: ctx.step,
    idPrefix: '',
    // JSON mode: responseMimeType application/json, with responseJsonSchema or the OpenAPI-style responseSchema.
    json: config.responseMimeType === 'application/json' ? { schema: config.responseJsonSchema ?? config.responseSchema } : undefined,
  });
  const promptTokens = countTokens([b.systemInstruction, contents]);
  const head = { modelVersion: model, responseId: newId('', 15) };
  // Several candidates, each generated and billed; Gemini 3 models take one only.
  const candidateCount = intField(config.candidateCount) ?? 1;
  if (candidateCount > 1 && /^gemini-3/.test(model)) return error(400, 'Multiple candidates is not enabled for this model');
  if (streaming) return stream(turn, head, promptTokens, ctx.url.searchParams.get('alt') === 'sse', signed);
  const finishReason = turn.finish === 'length' ? 'MAX_TOKENS' : 'STOP';
  return ok({
    candidates: Array.from({ length: candidateCount }, (_, index) => ({ content: { parts: parts(turn.text, turn, signed), role: 'model' }, finishReason, index })),
    usageMetadata: usage(promptTokens, turn.outputTokens * candidateCount),
    ...head,
  });
}

function vector(request: Record<string, unknown>): { values: number[] } {
  return { values: embed(partsText(obj(request.content).parts), intField(request.outputDimensionality) || 8) };
}

function embedContent(ctx: RouteContext): Reply {
  const b = obj(ctx.body);
  if (!b.content) return error(400, '* EmbedContentRequest.content: content is not specified\n');
  return ok({ embedding: vector(b) });
}

function batchEmbedContents(ctx: RouteContext, model: string): Reply {
  const requests = arr(obj(ctx.body).requests).map(obj);
  if (requests.length === 0) return error(400, '* BatchEmbedContentsRequest.requests: requests is not specified\n');
  const wrong = requests.findIndex((r) => r.model !== `models/${model}`);
  if (wrong >= 0) return error(400, `* BatchEmbedContentsRequest.requests[${wrong}].model: model must be models/${model}\n`);
  return ok({ embeddings: requests.map(vector) });
}

function describe(id: string) {
  const embedding = id.includes('embedding');
  return {
    name: `models/${id}`,
    version: '001',
    displayName: id,
    description: `Mock ${id}`,
    inputTokenLimit: embedding ? 2048 : 1_048_576,
    outputTokenLimit: embedding ? 1 : 65_536,
    supportedGenerationMethods: embedding ? ['embedContent', 'countTextTokens', 'countTokens'] : ['generateContent', 'countTokens', 'createCachedContent', 'batchGenerateContent'],
    ...(embedding ? {} : { temperature: 1, topP: 0.95, topK: 64, maxTemperature: 2 }),
  };
}

/** countTokens takes `contents` or a whole `generateContentRequest` (system and tools count then), never both. */
function countTokensReply(ctx: RouteContext): Reply {
  const b = obj(ctx.body);
  const whole = obj(b.generateContentRequest);
  if (b.contents !== undefined && b.generateContentRequest !== undefined) {
    return error(400, 'CountTokensRequest must have one of contents or generate_content_request set, not both.');
  }
  const totalTokens = b.generateContentRequest !== undefined ? countTokens([whole.systemInstruction, whole.contents, whole.tools]) : countTokens(b.contents);
  return ok({ totalTokens, promptTokensDetails: [{ modality: 'TEXT', tokenCount: totalTokens }] });
}

/** The Gemini provider spec. */
export const gemini: ProviderSpec = {
  basePath: '',
  defaultModels: ['gemini-2.5-flash', 'gemini-embedding-001'],
  authenticate(headers, url, keys) {
    if (!keys) return undefined;
    const header = headers['x-goog-api-key'];
    const key = (typeof header === 'string' ? header : undefined) ?? url.searchParams.get('key') ?? undefined;
    if (key === undefined || key === '') {
      return error(403, "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.");
    }
    if (keys.has(key)) return undefined;
    // Google answers a bad key with 400 INVALID_ARGUMENT, not 401.
    return error(400, 'API key not valid. Please pass a valid API key.', [
      { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID', domain: 'googleapis.com', metadata: { service: 'generativelanguage.googleapis.com' } },
      { '@type': 'type.googleapis.com/google.rpc.LocalizedMessage', locale: 'en-US', message: 'API key not valid. Please pass a valid API key.' },
    ]);
  },
  error: (status, message) => error(status, message),
  invalidJson: () => error(400, 'Invalid JSON payload received. Unexpected token.'),
  route(raw) {
    // Gemini reads every field by its lowerCamelCase or its snake_case name (proto3's JSON
    // mapping); google-genai for Python sends some of each.
    const ctx = { ...raw, body: camelFields(raw.body) };
    const { method, url } = ctx;
    const action = /^\/v1(?:beta|alpha)?\/models\/([^/:]+):([A-Za-z]+)$/.exec(url.pathname);
    if (method === 'POST' && action) {
      const model = decodeURIComponent(action[1] ?? '');
      switch (action[2]) {
        case 'generateContent':
          return generate(ctx, model, false);
        case 'streamGenerateContent':
          return generate(ctx, model, true);
        case 'embedContent':
          return embedContent(ctx);
        case 'batchEmbedContents':
          return batchEmbedContents(ctx, model);
        case 'countTokens':
          return countTokensReply(ctx);
      }
    }
    if (method === 'GET' && /^\/v1(?:beta|alpha)?\/models$/.test(url.pathname)) return ok({ models: ctx.models.map(describe) });
    const one = /^\/v1(?:beta|alpha)?\/models\/([^/:]+)$/.exec(url.pathname)?.[1];
    if (method === 'GET' && one !== undefined) {
      const id = decodeURIComponent(one);
      return ctx.models.includes(id) ? ok(describe(id)) : error(404, `models/${id} is not found for API version v1beta, or is not supported for generateContent.`);
    }
    return error(404, 'Requested entity was not found.');
  },
};
