/**
 * Anthropic Messages wire format: `POST /v1/messages` (plain and SSE), token counting and
 * models, with keys in `x-api-key` or `Authorization: Bearer`, a required `anthropic-version`
 * header (2023-06-01 or 2026-10-21, whose stricter validation applies) and `{type: "error",
 * error: {type, message}, request_id}` errors. Streams are `event: X\ndata: {json}\n\n` frames
 * without a `[DONE]`.
 */
import { arr, intField, json, obj, schemasByName, stopList, str } from './server.js';
import type { BodyReply, ProviderSpec, Reply, RouteContext, StreamReply } from './server.js';
import { signatureOf, thinkingBudget, thinkingProblem, thoughtsAbout } from './anthropic-thinking.js';
import { countTokens, newId, planTurn } from './turn.js';
import type { LastMessage, ToolChoice, Turn } from './turn.js';

/** API versions; 2026-10-21 (the SDK 1.x default) drops sampling parameters and tightens message content. */
const VERSIONS = new Set(['2023-01-01', '2023-06-01', '2026-10-21']);

const ERRORS: Record<number, { type: string; message: string }> = {
  400: { type: 'invalid_request_error', message: 'Invalid request' },
  401: { type: 'authentication_error', message: 'invalid x-api-key' },
  402: { type: 'billing_error', message: 'Your credit balance is too low to access the Anthropic API.' },
  403: { type: 'permission_error', message: 'Your API key does not have permission to use the specified resource.' },
  404: { type: 'not_found_error', message: 'Not Found' },
  409: { type: 'conflict_error', message: 'Conflict' },
  413: { type: 'request_too_large', message: 'Request exceeds the maximum allowed number of bytes.' },
  429: { type: 'rate_limit_error', message: 'Number of requests has exceeded your rate limit. Please try again later.' },
  500: { type: 'api_error', message: 'Internal server error' },
  504: { type: 'timeout_error', message: 'Request timed out' },
  529: { type: 'overloaded_error', message: 'Overloaded' },
};

function errorObject(status: number, message?: string) {
  const known = ERRORS[status] ?? (status >= 500 ? ERRORS[500] : ERRORS[400]);
  return { type: 'error', error: { type: known?.type ?? 'api_error', message: message ?? known?.message ?? 'Error' } };
}

function reply(status: number, value: unknown): BodyReply {
  const requestId = newId('req_011C', 18);
  const body = status >= 400 ? { ...(value as object), request_id: requestId } : value;
  return { ...json(status, body), headers: { 'request-id': requestId } };
}

const error = (status: number, message?: string) => reply(status, errorObject(status, message));
const frame = (value: { type: string; [field: string]: unknown }) => `event: ${value.type}\ndata: ${JSON.stringify(value)}\n\n`;

function blockText(content: unknown): string {
  if (typeof content === 'string') return content;
  const labels: Record<string, string> = { image: '[image]', document: '[document]' };
  return arr(content)
    .map((b) => {
      const block = obj(b);
      if (block.type === 'text') return str(block.text) ?? '';
      if (block.type === 'tool_result') return blockText(block.content);
      return labels[String(block.type)] ?? '';
    })
    .filter((t) => t.length > 0)
    .join(' ');
}

function lastMessage(all: unknown[]): LastMessage | undefined {
  // A mid-conversation system message instructs; the turn to answer is the one before it.
  const messages = all.filter((m) => obj(m).role !== 'system');
  const last = obj(messages.at(-1));
  if (last.role === 'user') {
    const result = arr(last.content).findLast((b) => obj(b).type === 'tool_result');
    if (result !== undefined) return { role: 'tool', text: blockText(obj(result).content) };
    return { role: 'user', text: blockText(last.content) };
  }
  const user = messages.findLast((m) => obj(m).role === 'user');
  return user === undefined ? undefined : { role: 'other', text: blockText(obj(user).content) };
}

function toolChoice(value: unknown): ToolChoice {
  const choice = obj(value);
  if (choice.type === 'none') return 'none';
  if (choice.type === 'any') return 'required';
  const name = str(choice.name);
  return choice.type === 'tool' && name ? { name } : 'auto';
}

/**
 * A `tool_choice` Anthropic refuses, in its words: any but `none` without tools, and a named tool
 * that no tool (client or server) declares, as users forwarding such requests report.
 */
function toolChoiceProblem(value: unknown, names: string[]): string | undefined {
  const choice = obj(value);
  if (value == null || choice.type === 'none') return undefined;
  if (names.length === 0) return 'tool_choice may only be specified while providing tools.';
  const name = str(choice.name);
  if (choice.type === 'tool' && (name === undefined || !names.includes(name))) return `Tool '${name ?? ''}' not found in provided tools`;
  return undefined;
}

const STOP = { stop: 'end_turn', stop_sequence: 'stop_sequence', length: 'max_tokens', tool_calls: 'tool_use' } as const;

/**
 * Usage as Anthropic reports it. A prompt with a `cache_control` breakpoint is written to the
 * cache whole, each call (the mock keeps no cache), for as long as the first breakpoint's `ttl`
 * says (five minutes without one): its tokens are cache writes, not input_tokens, as Anthropic
 * reports them.
 */
function usage(input: number, output: number, cacheTtl?: string) {
  if (cacheTtl === undefined) return { input_tokens: input, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: output, service_tier: 'standard' };
  const cache_creation = { ephemeral_5m_input_tokens: cacheTtl === '1h' ? 0 : input, ephemeral_1h_input_tokens: cacheTtl === '1h' ? input : 0 };
  return { input_tokens: 0, cache_creation_input_tokens: input, cache_read_input_tokens: 0, cache_creation, output_tokens: output, service_tier: 'standard' };
}

/** The `ttl` of the request's first `cache_control` breakpoint ('5m' when it names none), or undefined without one. */
function cacheTtl(value: unknown): string | undefined {
  if (Array.isArray(value)) {
    for (const v of value) {
      const ttl = cacheTtl(v);
      if (ttl !== undefined) return ttl;
    }
  } else if (value && typeof value === 'object') {
    const control = (value as { cache_control?: unknown }).cache_control;
    if (control && typeof control === 'object') return str((control as { ttl?: unknown }).ttl) ?? '5m';
    for (const v of Object.values(value)) {
      const ttl = cacheTtl(v);
      if (ttl !== undefined) return ttl;
    }
  }
  return undefined;
}

function stream(turn: Turn, message: Record<string, unknown>, inputTokens: number, thinking: string | undefined, ttl: string | undefined): StreamReply {
  // Real streams report a token or so in message_start; message_delta then carries the cumulative count.
  const frames = [frame({ type: 'message_start', message: { ...message, content: [], stop_reason: null, stop_sequence: null, usage: usage(inputTokens, 1, ttl) } })];
  let index = 0;
  const open = (content_block: Record<string, unknown>) => {
    frames.push(frame({ type: 'content_block_start', index, content_block }));
    if (index === 0) frames.push(frame({ type: 'ping' }));
  };
  const delta = (d: Record<string, unknown>) => frames.push(frame({ type: 'content_block_delta', index, delta: d }));
  const close = () => frames.push(frame({ type: 'content_block_stop', index: index++ }));
  if (thinking !== undefined) {
    open({ type: 'thinking', thinking: '', signature: '' });
    for (const piece of thinking.match(/\S+\s*/g) ?? []) delta({ type: 'thinking_delta', thinking: piece });
    delta({ type: 'signature_delta', signature: signatureOf(thinking) });
    close();
  }
  if (turn.chunks.length > 0) {
    open({ type: 'text', text: '' });
    for (const text of turn.chunks) delta({ type: 'text_delta', text });
    close();
  }
  for (const c of turn.calls) {
    open({ type: 'tool_use', id: c.id, name: c.name, input: {} });
    // The API opens every tool input with an empty partial_json.
    for (const partial_json of ['', ...c.fragments]) delta({ type: 'input_json_delta', partial_json });
    close();
  }
  if (index === 0) frames.push(frame({ type: 'ping' }));
  frames.push(
    frame({ type: 'message_delta', delta: { stop_reason: STOP[turn.finish], stop_sequence: turn.stopSequence }, usage: { output_tokens: turn.outputTokens } }),
    frame({ type: 'message_stop' }),
  );
  return {
    type: 'stream',
    contentType: 'text/event-stream; charset=utf-8',
    headers: { 'request-id': newId('req_011C', 18) },
    frames,
    errorFrame: (status, msg) => frame(errorObject(status ?? 529, msg)),
    malformedFrame: 'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":\n\n',
  };
}

/**
 * Roles the API takes: user, assistant, and (since Claude Opus 4.8) a mid-conversation `system`
 * message, which must come right after a user turn and hold text only (platform.claude.com,
 * "Mid-conversation system messages"); undefined when fine.
 */
function roleProblem(messages: unknown[]): string | undefined {
  for (const [i, m] of messages.entries()) {
    const message = obj(m);
    if (message.role === 'user' || message.role === 'assistant') continue;
    if (message.role !== 'system') return `messages.${i}.role: Input should be 'user', 'assistant' or 'system'`;
    if (i === 0 || obj(messages[i - 1]).role !== 'user') return `messages.${i}: a system message must immediately follow a user message`;
    const blocks = typeof message.content === 'string' ? [] : arr(message.content);
    const other = blocks.findIndex((b) => obj(b).type !== 'text');
    if (other >= 0) return `messages.${i}.content.${other}: a system message may contain only text blocks`;
  }
  return undefined;
}

/** A tool_result whose tool_use is not in the message before it, as Anthropic words the 400; undefined when each has one. */
function toolResultProblem(messages: unknown[]): string | undefined {
  for (const [i, m] of messages.entries()) {
    const message = obj(m);
    // Anthropic's ids take letters, digits, _ and - only (ids made elsewhere, e.g. Kimi's functions.name:0, do not).
    for (const [j, b] of arr(message.content).entries()) {
      const block = obj(b);
      const [field, id] = block.type === 'tool_use' ? ['tool_use.id', str(block.id)] : block.type === 'tool_result' ? ['tool_result.tool_use_id', str(block.tool_use_id)] : [];
      if (id !== undefined && !/^[a-zA-Z0-9_-]+$/.test(id)) return `messages.${i}.content.${j}.${field}: String should match pattern '^[a-zA-Z0-9_-]+$'`;
    }
    if (message.role !== 'user') continue;
    const previous = obj(messages[i - 1]);
    const uses = new Set(previous.role === 'assistant' ? arr(previous.content).flatMap((b) => (obj(b).type === 'tool_use' ? [str(obj(b).id)] : [])) : []);
    for (const [j, b] of arr(message.content).entries()) {
      const block = obj(b);
      if (block.type === 'tool_result' && !uses.has(str(block.tool_use_id))) {
        return `messages.${i}.content.${j}: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${String(block.tool_use_id)}. Each \`tool_result\` block must have a corresponding \`tool_use\` block in the previous message.`;
      }
    }
  }
  return undefined;
}

/**
 * What constrained decoding refuses in a schema (structured outputs' `format.schema`, a strict
 * tool's `input_schema`), as Anthropic words it; undefined when it takes the schema. From
 * Anthropic's documented limitations: no numeric or length bounds, `minItems` only 0 or 1, closed
 * objects. Written here, not taken from the sidecar, so that the two can disagree.
 */
function constrainedSchemaProblem(schema: unknown, where: string): string | undefined {
  const bounds = ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf', 'minLength', 'maxLength', 'maxItems', 'uniqueItems', 'minProperties', 'maxProperties'];
  const walk = (node: Record<string, unknown>): string | undefined => {
    const type = Array.isArray(node.type) ? node.type.join(' | ') : String(node.type ?? 'schema');
    const bound = bounds.find((k) => k in node);
    if (bound) return `${where}: For '${type}' type, property '${bound}' is not supported`;
    if (typeof node.minItems === 'number' && node.minItems > 1) return `${where}: For 'array' type, 'minItems' values other than 0 or 1 are not supported`;
    if ((node.type === 'object' || node.properties !== undefined) && node.additionalProperties !== false) return `${where}: For 'object' type, 'additionalProperties' must be explicitly set to false`;
    const children = [...Object.values(obj(node.properties)), node.items, ...arr(node.anyOf), ...arr(node.allOf), ...Object.values(obj(node.$defs))];
    for (const child of children) {
      const problem = child === undefined ? undefined : walk(obj(child));
      if (problem) return problem;
    }
    return undefined;
  };
  return walk(obj(schema));
}

/** The schemas constrained decoding reads in a request: the output format's and strict tools'. */
function constrainedProblem(b: Record<string, unknown>): string | undefined {
  const format = obj(obj(b.output_config).format ?? b.output_format);
  if (format.type === 'json_schema') {
    const problem = constrainedSchemaProblem(format.schema, 'output_config.format.schema');
    if (problem) return problem;
  }
  const strict = arr(b.tools).filter((t) => obj(t).strict === true).length;
  if (strict > 20) return `Too many strict tools: ${strict}. At most 20 tools may set strict: true in one request.`;
  for (const [i, t] of arr(b.tools).entries()) {
    const tool = obj(t);
    const problem = tool.strict === true ? constrainedSchemaProblem(tool.input_schema, `tools.${i}.custom.input_schema`) : undefined;
    if (problem) return problem;
  }
  // One grammar for the request's strict tools and output format, refused past a size Anthropic
  // does not document (reported with 7 to 13 ordinary strict tools). The mock's stand-in: their
  // schemas' JSON past 6 KB.
  const constrained = [...arr(b.tools).filter((t) => obj(t).strict === true).map((t) => obj(t).input_schema), ...(format.type === 'json_schema' ? [format.schema] : [])];
  if (JSON.stringify(constrained).length > GRAMMAR_BYTES) {
    return 'The compiled grammar is too large, which would cause performance issues. Simplify your tool schemas or reduce the number of strict tools.';
  }
  return undefined;
}

/** The mock's stand-in for Anthropic's undocumented grammar size (constrainedProblem). */
const GRAMMAR_BYTES = 6_000;

/** What API version 2026-10-21 refuses that 2023-06-01 accepted, as the 400 message; undefined when fine. */
function version20261021(body: Record<string, unknown>): string | undefined {
  for (const field of ['temperature', 'top_p', 'top_k']) if (field in body) return `${field}: Extra inputs are not permitted`;
  for (const [i, m] of arr(body.messages).entries()) {
    const message = obj(m);
    for (const [j, b] of arr(message.content).entries()) {
      const block = obj(b);
      if (message.role === 'assistant' && block.type === 'document') return `messages.${i}.content.${j}: document blocks are not allowed in assistant messages`;
      if (message.role === 'user' && block.type === 'text' && arr(block.citations).length > 0) return `messages.${i}.content.${j}.citations: citations are not allowed in user messages`;
    }
  }
  return undefined;
}

function messages(ctx: RouteContext): Reply {
  const b = obj(ctx.body);
  const model = str(b.model);
  if (!model) return error(400, 'model: Field required');
  if (intField(b.max_tokens) === undefined) return error(400, 'max_tokens: Field required');
  // Opus 4 and 4.1 write at most 32,000 tokens.
  if (/^claude-opus-4(-0|-1|-2025)/.test(model) && intField(b.max_tokens)! > 32_000) return error(400, `max_tokens: ${String(b.max_tokens)} > 32000, which is the maximum allowed number of output tokens for ${model}`);
  if (!Array.isArray(b.messages)) return error(400, 'messages: Field required');
  if (b.messages.length === 0) return error(400, 'messages: at least one message is required');
  // Anthropic's tool names: letters, digits, _ and -, 1 to 128 of them.
  const badName = arr(b.tools).findIndex((t) => typeof obj(t).name === 'string' && !/^[a-zA-Z0-9_-]{1,128}$/.test(String(obj(t).name)));
  if (badName >= 0) return error(400, `tools.${badName}.custom.name: String should match pattern '^[a-zA-Z0-9_-]{1,128}$'`);
  // Two tools of one name: refused as a whole, no index named (Anthropic's words).
  const names = arr(b.tools).flatMap((t) => str(obj(t).name) ?? []);
  if (new Set(names).size < names.length) return error(400, 'tools: Tool names must be unique.');
  const choiceRefused = toolChoiceProblem(b.tool_choice, names);
  if (choiceRefused) return error(400, choiceRefused);
  // Every message has content, but a final assistant one (a prefill) may be empty.
  const empty = b.messages.findIndex((m, i) => {
    const content = obj(m).content;
    return (content === '' || (Array.isArray(content) && content.length === 0)) && !(i === arr(b.messages).length - 1 && obj(m).role === 'assistant');
  });
  if (empty >= 0) return error(400, `messages.${empty}: all messages must have non-empty content except for the optional final assistant message`);
  const unanswered = toolResultProblem(b.messages);
  if (unanswered) return error(400, unanswered);
  const roleRefused = roleProblem(b.messages);
  if (roleRefused) return error(400, roleRefused);
  const thinkingRefused = thinkingProblem(b);
  if (thinkingRefused) return error(400, thinkingRefused);
  const blankStop = arr(b.stop_sequences).findIndex((s) => typeof s === 'string' && s.trim() === '');
  if (blankStop >= 0) return error(400, `stop_sequences.${blankStop}: each stop sequence must contain non-whitespace`);
  const unconstrainable = constrainedProblem(b);
  if (unconstrainable) return error(400, unconstrainable);
  if (ctx.headers['anthropic-version'] === '2026-10-21') {
    const refused = version20261021(b);
    if (refused) return error(400, refused);
  }
  const turn = planTurn({
    last: lastMessage(b.messages),
    tools: arr(b.tools).flatMap((t) => str(obj(t).name) ?? []),
    toolSchemas: schemasByName(arr(b.tools).map(obj), 'input_schema'),
    toolChoice: toolChoice(b.tool_choice),
    parallel: obj(b.tool_choice).disable_parallel_tool_use !== true,
    maxTokens: intField(b.max_tokens),
    stop: stopList(b.stop_sequences),
    step: ctx.step,
    idPrefix: 'toolu_01',
    // Structured outputs: `output_config.format` makes the text a JSON document of the schema
    // (`output_format`, the beta's spelling, is still taken).
    json: jsonSchemaFormat(obj(b.output_config).format ?? b.output_format),
  });
  const inputTokens = countTokens([b.system, b.messages]);
  const message = { id: newId('msg_01', 18), type: 'message', role: 'assistant', model };
  const thinking = thinkingBudget(b) === undefined ? undefined : thoughtsAbout(lastMessage(b.messages)?.text ?? '');
  const ttl = cacheTtl([b.system, b.messages, b.tools]);
  if (b.stream === true) return stream(turn, message, inputTokens, thinking, ttl);
  const content = [
    ...(thinking !== undefined ? [{ type: 'thinking', thinking, signature: signatureOf(thinking) }] : []),
    ...(turn.text !== '' ? [{ type: 'text', text: turn.text }] : []),
    ...turn.calls.map((c) => ({ type: 'tool_use', id: c.id, name: c.name, input: c.args })),
  ];
  return reply(200, { ...message, content, stop_reason: STOP[turn.finish], stop_sequence: turn.stopSequence, usage: usage(inputTokens, turn.outputTokens, ttl) });
}

/** `output_config.format` (`{type: json_schema, schema}`, the only type) as the mock's JSON mode. */
function jsonSchemaFormat(value: unknown): { schema: unknown } | undefined {
  const format = obj(value);
  return format.type === 'json_schema' ? { schema: format.schema } : undefined;
}

const model = (id: string) => ({ type: 'model', id, display_name: id, created_at: '2025-01-01T00:00:00Z' });

/** The Anthropic provider spec. */
export const anthropic: ProviderSpec = {
  basePath: '',
  defaultModels: ['claude-sonnet-4-6', 'claude-haiku-4-5'],
  authenticate(headers, _url, keys) {
    if (keys) {
      // SDK majors for API version 2026-10-21 send the key as a bearer token; x-api-key wins when both come.
      const apiKey = headers['x-api-key'];
      const key = typeof apiKey === 'string' && apiKey !== '' ? apiKey : /^Bearer\s+(\S+)$/i.exec(headers.authorization ?? '')?.[1];
      if (key === undefined) return error(401, 'x-api-key header is required');
      if (!keys.has(key)) return error(401, 'invalid x-api-key');
    }
    const version = headers['anthropic-version'];
    if (typeof version !== 'string' || version === '') return error(400, 'anthropic-version: header is required');
    if (!VERSIONS.has(version)) return error(400, `anthropic-version: ${version} is not a valid version`);
    return undefined;
  },
  error,
  invalidJson: () => error(400, 'There was an error parsing the body of your request. Please make sure the body is valid JSON.'),
  route(ctx) {
    const { method, url } = ctx;
    const path = url.pathname;
    if (method === 'POST' && path === '/v1/messages') return messages(ctx);
    if (method === 'POST' && path === '/v1/messages/count_tokens') {
      const b = obj(ctx.body);
      return reply(200, { input_tokens: countTokens([b.system, b.messages]) });
    }
    if (method === 'GET' && path === '/v1/models') {
      const data = ctx.models.map(model);
      return reply(200, { data, has_more: false, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null });
    }
    const id = /^\/v1\/models\/(.+)$/.exec(path)?.[1];
    if (method === 'GET' && id !== undefined) {
      const name = decodeURIComponent(id);
      return ctx.models.includes(name) ? reply(200, model(name)) : error(404, `model: ${name}`);
    }
    return error(404, 'Not Found');
  },
};
