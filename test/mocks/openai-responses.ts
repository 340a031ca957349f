/**
 * OpenAI's Responses API (`POST /v1/responses`) for the OpenAI mock: input as a string or items
 * (messages, function_call, function_call_output, reasoning), flat function tools and `namespace`
 * tools grouping them (a call of one comes back as `{name, namespace}`; a script names it
 * `<namespace>__<name>`),
 * `previous_response_id` against the responses this mock stored, `reasoning` with an
 * encrypted_content item when `include` asks for it, and the typed SSE events in OpenAI's order,
 * each with `sequence_number`, ending with `response.completed` or `response.incomplete`.
 */
import { arr, intField, obj, schemasByName, str, strictSchemaProblem } from './server.js';
import type { BodyReply, Reply, RouteContext, StreamReply } from './server.js';
import { countTokens, newId, planTurn } from './turn.js';
import type { LastMessage, ToolChoice, Turn } from './turn.js';

const SSE = 'text/event-stream; charset=utf-8';

/** What the mock needs from the OpenAI spec: its error and success replies. */
export interface ResponsesDeps {
  error(status: number, message?: string, param?: string | null, code?: string | null): BodyReply;
  ok(value: unknown): BodyReply;
  errorObject(status: number, message?: string): unknown;
}

/** Stored conversations (response id → items), as OpenAI keeps them with `store: true`. Bounded. */
const stored = new Map<string, unknown[]>();
const MAX_STORED = 1_000;

function text(content: unknown): string {
  if (typeof content === 'string') return content;
  return arr(content)
    .map((p) => str(obj(p).text) ?? str(obj(p).refusal) ?? '')
    .filter(Boolean)
    .join(' ');
}

function lastMessage(items: unknown[]): LastMessage | undefined {
  const last = obj(items.at(-1));
  if (last.type === 'function_call_output') return { role: 'tool', text: text(last.output) };
  const user = items.findLast((i) => obj(i).role === 'user' && (obj(i).type ?? 'message') === 'message');
  if (user === undefined) return undefined;
  return { role: last.role === 'user' ? 'user' : 'other', text: text(obj(user).content) };
}

function toolChoice(value: unknown): ToolChoice {
  if (value === 'none' || value === 'required' || value === 'auto') return value;
  const name = str(obj(value).name);
  return name ? { name } : 'auto';
}

/** The names of the tools the model may call: those `tool_choice: allowed_tools` names, else all. */
function allowedNames(b: Record<string, unknown>): string[] {
  const names = functionNames(arr(b.tools));
  const choice = obj(b.tool_choice);
  if (choice.type !== 'allowed_tools') return names;
  const allowed = new Set(arr(choice.tools).map((t) => str(obj(t).name)));
  return names.filter((name) => allowed.has(name));
}

/** The function tools the "model" may call: flat ones by name, those inside a namespace as `<namespace>__<name>`. */
function functionNames(tools: unknown[]): string[] {
  return tools.flatMap((t) => {
    const tool = obj(t);
    if (tool.type === 'function') return str(tool.name) ?? [];
    if (tool.type === 'namespace') return arr(tool.tools).flatMap((inner) => (obj(inner).type === 'function' && str(obj(inner).name) ? `${str(tool.name)}__${str(obj(inner).name)}` : []));
    return [];
  });
}

/** A call as the API returns it: a function inside a namespace names both. */
function callFields(tools: unknown[], name: string): { name: string; namespace?: string } {
  for (const t of tools) {
    const tool = obj(t);
    const namespace = str(tool.name);
    if (tool.type !== 'namespace' || !namespace || !name.startsWith(`${namespace}__`)) continue;
    const inner = name.slice(namespace.length + 2);
    if (arr(tool.tools).some((i) => str(obj(i).name) === inner)) return { name: inner, namespace };
  }
  return { name };
}

/** The request's problem as OpenAI words it, if any. */
function invalid(b: Record<string, unknown>, deps: ResponsesDeps): BodyReply | undefined {
  if (!str(b.model)) return deps.error(400, "Missing required parameter: 'model'.", 'model', 'missing_required_parameter');
  const bad = arr(b.tools).findIndex((t) => obj(t).type === 'function' && !str(obj(t).name));
  if (bad >= 0) return deps.error(400, `Missing required parameter: 'tools[${bad}].name'.`, `tools[${bad}].name`, 'missing_required_parameter');
  const namespace = arr(b.tools).findIndex((t) => obj(t).type === 'namespace' && (!str(obj(t).name) || !Array.isArray(obj(t).tools)));
  if (namespace >= 0) return deps.error(400, `Missing required parameter: 'tools[${namespace}].tools'.`, `tools[${namespace}]`, 'missing_required_parameter');
  // Function names: letters, digits, _ and -, at most 128 of them here (the chat API takes 64), in OpenAI's words.
  const longName = arr(b.tools).findIndex((t) => obj(t).type === 'function' && (str(obj(t).name) ?? '').length > 128);
  if (longName >= 0) return deps.error(400, `Invalid 'tools[${longName}].name': string too long. Expected a string with maximum length 128, but got a string with length ${str(obj(arr(b.tools)[longName]).name)!.length} instead.`, `tools[${longName}].name`, 'string_above_max_length');
  const badName = arr(b.tools).findIndex((t) => obj(t).type === 'function' && !/^[a-zA-Z0-9_-]+$/.test(str(obj(t).name) ?? ''));
  if (badName >= 0) return deps.error(400, `Invalid 'tools[${badName}].name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.`, `tools[${badName}].name`, 'invalid_value');
  // A named function choice must name a function of `tools`.
  const chosen = obj(b.tool_choice).type === 'function' ? str(obj(b.tool_choice).name) : undefined;
  const declared = new Set([...functionNames(arr(b.tools)), ...arr(b.tools).flatMap((t) => arr(obj(t).tools).flatMap((inner) => str(obj(inner).name) ?? []))]);
  if (chosen !== undefined && !declared.has(chosen)) return deps.error(400, `Tool choice '${chosen}' not found in 'tools' parameter.`, 'tool_choice', null);
  const format = obj(obj(b.text).format);
  const formatProblem = format.type === 'json_schema' && format.strict === true ? strictSchemaProblem(format.schema) : undefined;
  if (formatProblem) return deps.error(400, `Invalid schema for response_format '${str(format.name) ?? ''}': ${formatProblem}`, 'text.format.schema', 'invalid_json_schema');
  for (const [i, tool] of arr(b.tools).map(obj).entries()) {
    const problem = tool.type === 'function' && tool.strict === true ? strictSchemaProblem(tool.parameters) : undefined;
    if (problem) return deps.error(400, `Invalid schema for function '${str(tool.name) ?? ''}': ${problem}`, `tools[${i}].parameters`, 'invalid_function_parameters');
  }
  if (b.input === undefined && b.previous_response_id === undefined) return deps.error(400, "Missing required parameter: 'input'.", 'input', 'missing_required_parameter');
  // Input item ids: OpenAI checks their shape (at most 64 of [A-Za-z0-9_-]) and their prefix by
  // type, whoever made them.
  for (const [i, item] of arr(b.input).map(obj).entries()) {
    const id = item.id;
    if (id === undefined || item.type === 'item_reference') continue;
    if (typeof id !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(id)) {
      return deps.error(400, typeof id === 'string' && id.length > 64 ? `Invalid 'input[${i}].id': string too long. Expected a string with maximum length 64, but got a string with length ${id.length} instead.` : `Invalid 'input[${i}].id': '${String(id)}'.`, `input[${i}].id`, 'invalid_value');
    }
    const prefix = ({ message: 'msg', function_call: 'fc', reasoning: 'rs' } as Record<string, string>)[str(item.type) ?? (item.role ? 'message' : '')];
    if (prefix && !id.startsWith(prefix)) return deps.error(400, `Invalid 'input[${i}].id': '${id}'. Expected an ID that begins with '${prefix}'.`, `input[${i}].id`, 'invalid_value');
  }
  // Call ids: 1 to 64 characters on a function_call and its output, in OpenAI's words (as Codex,
  // hermes-agent and fastllm users report).
  for (const [i, item] of arr(b.input).map(obj).entries()) {
    if (item.type !== 'function_call' && item.type !== 'function_call_output') continue;
    const param = `input[${i}].call_id`;
    if (item.call_id === undefined) return deps.error(400, `Missing required parameter: '${param}'.`, param, 'missing_required_parameter');
    const callId = str(item.call_id) ?? '';
    if (callId === '') return deps.error(400, `Invalid '${param}': empty string. Expected a string with minimum length 1, but got an empty string instead.`, param, 'empty_string');
    if (callId.length > 64) return deps.error(400, `Invalid '${param}': string too long. Expected a string with maximum length 64, but got a string with length ${callId.length} instead.`, param, 'string_above_max_length');
  }
  // Reasoning comes back only as OpenAI made it: its encrypted content, or the id of one it holds.
  for (const item of arr(b.input).map(obj)) {
    if (item.type !== 'reasoning') continue;
    const encrypted = str(item.encrypted_content);
    if (encrypted !== undefined && !issued.has(encrypted)) return deps.error(400, `The encrypted content for item ${str(item.id) ?? ''} could not be verified.`, null, 'invalid_encrypted_content');
    if (encrypted === undefined && !issued.has(str(item.id) ?? '')) return deps.error(400, `Item with id '${str(item.id) ?? ''}' not found.`, 'input', null);
  }
  return undefined;
}

/** Reasoning ids and encrypted contents this mock gave out. */
const issued = new Set<string>();

/** Answers `POST /v1/responses`. */
export function responses(ctx: RouteContext, deps: ResponsesDeps): Reply {
  const b = obj(ctx.body);
  const problem = invalid(b, deps);
  if (problem) return problem;
  const previousId = str(b.previous_response_id);
  const history = previousId ? stored.get(previousId) : [];
  if (history === undefined) return deps.error(400, `Previous response with id '${previousId}' not found.`, 'previous_response_id', 'previous_response_not_found');
  const input = typeof b.input === 'string' ? [{ role: 'user', content: b.input }] : arr(b.input);
  const items = [...history, ...input];
  const turn = planTurn({
    last: lastMessage(items),
    tools: allowedNames(b),
    toolSchemas: schemasByName(arr(b.tools).map(obj), 'parameters'),
    toolChoice: toolChoice(obj(b.tool_choice).type === 'allowed_tools' ? obj(b.tool_choice).mode : b.tool_choice),
    parallel: b.parallel_tool_calls !== false,
    maxTokens: intField(b.max_output_tokens),
    stop: [],
    step: ctx.step,
    idPrefix: 'call_',
    json: textFormat(obj(obj(b.text).format)),
  });
  const id = newId('resp_', 24);
  const effort = str(obj(b.reasoning).effort);
  const encrypted = arr(b.include).includes('reasoning.encrypted_content');
  const output = outputItems(turn, id, effort, encrypted, arr(b.tools));
  const inputTokens = countTokens([b.instructions, items]);
  const reasoningTokens = effort ? 8 : 0;
  const usage = {
    input_tokens: inputTokens,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: turn.outputTokens + reasoningTokens,
    output_tokens_details: { reasoning_tokens: reasoningTokens },
    total_tokens: inputTokens + turn.outputTokens + reasoningTokens,
  };
  const incomplete = turn.finish === 'length';
  const shell = {
    id,
    object: 'response',
    created_at: Math.floor(Date.now() / 1000),
    status: 'in_progress',
    background: false,
    error: null,
    incomplete_details: null,
    instructions: b.instructions ?? null,
    max_output_tokens: b.max_output_tokens ?? null,
    model: b.model,
    output: [] as unknown[],
    parallel_tool_calls: b.parallel_tool_calls ?? true,
    previous_response_id: previousId ?? null,
    reasoning: { effort: effort ?? null, summary: null },
    store: b.store !== false,
    temperature: b.temperature ?? 1,
    text: { format: { type: 'text' } },
    tool_choice: b.tool_choice ?? 'auto',
    tools: b.tools ?? [],
    top_p: b.top_p ?? 1,
    truncation: 'disabled',
    usage: null as unknown,
    user: null,
    metadata: b.metadata ?? {},
  };
  // A background job is queued: the answer comes at once, with no output and no usage yet; the
  // job runs on at OpenAI, and is billed there, after the call has ended.
  if (b.background === true) return deps.ok({ ...shell, status: 'queued', background: true });
  const final = { ...shell, status: incomplete ? 'incomplete' : 'completed', incomplete_details: incomplete ? { reason: 'max_output_tokens' } : null, output, usage };
  if (b.store !== false) {
    if (stored.size >= MAX_STORED) stored.delete(stored.keys().next().value!);
    stored.set(id, [...items, ...output]);
  }
  if (b.stream !== true) return deps.ok(final);
  return stream(turn, shell, final, output, deps);
}

type Item = Record<string, unknown> & { type: string; id: string };

function outputItems(turn: Turn, id: string, effort: string | undefined, encrypted: boolean, tools: unknown[]): Item[] {
  const base = id.slice(5);
  const items: Item[] = [];
  // A reasoning model thinks first; its state comes back only when asked for (stateless use).
  if (effort) {
    items.push({ type: 'reasoning', id: `rs_${base}`, summary: [], ...(encrypted ? { encrypted_content: `gAAAAB${base}` } : {}) });
    issued.add(`rs_${base}`).add(`gAAAAB${base}`);
  }
  if (turn.text) {
    items.push({ type: 'message', id: `msg_${base}`, status: 'completed', role: 'assistant', content: [{ type: 'output_text', text: turn.text, annotations: [], logprobs: [] }] });
  }
  turn.calls.forEach((c, n) => items.push({ type: 'function_call', id: `fc_${base}${n}`, call_id: c.id, ...callFields(tools, c.name), arguments: c.json, status: 'completed' }));
  return items;
}

function stream(turn: Turn, shell: Record<string, unknown>, final: Record<string, unknown>, output: Item[], deps: ResponsesDeps): StreamReply {
  const frames: string[] = [];
  let sequence = 0;
  const event = (type: string, fields: Record<string, unknown>) => frames.push(`event: ${type}\ndata: ${JSON.stringify({ type, ...fields, sequence_number: sequence++ })}\n\n`);
  event('response.created', { response: shell });
  event('response.in_progress', { response: shell });
  output.forEach((item, index) => {
    if (item.type === 'message') {
      const part = { type: 'output_text', text: '', annotations: [], logprobs: [] };
      event('response.output_item.added', { output_index: index, item: { ...item, status: 'in_progress', content: [] } });
      event('response.content_part.added', { item_id: item.id, output_index: index, content_index: 0, part });
      for (const delta of turn.chunks) event('response.output_text.delta', { item_id: item.id, output_index: index, content_index: 0, delta, logprobs: [] });
      event('response.output_text.done', { item_id: item.id, output_index: index, content_index: 0, text: turn.text, logprobs: [] });
      event('response.content_part.done', { item_id: item.id, output_index: index, content_index: 0, part: { ...part, text: turn.text } });
    } else if (item.type === 'function_call') {
      const call = turn.calls.find((c) => c.id === item.call_id)!;
      event('response.output_item.added', { output_index: index, item: { ...item, arguments: '', status: 'in_progress' } });
      for (const delta of call.fragments) event('response.function_call_arguments.delta', { item_id: item.id, output_index: index, delta });
      event('response.function_call_arguments.done', { item_id: item.id, output_index: index, name: item.name, arguments: call.json });
    } else {
      event('response.output_item.added', { output_index: index, item });
    }
    event('response.output_item.done', { output_index: index, item });
  });
  event(final.status === 'completed' ? 'response.completed' : 'response.incomplete', { response: final });
  return {
    type: 'stream',
    contentType: SSE,
    headers: { 'x-request-id': newId('req_', 16) },
    frames,
    errorFrame: (status, message) => {
      const body = obj(obj(deps.errorObject(status ?? 500, message)).error);
      return `event: error\ndata: ${JSON.stringify({ type: 'error', code: body.code ?? 'server_error', message: body.message, param: null, sequence_number: sequence })}\n\n`;
    },
    malformedFrame: 'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","delta":\n\n',
  };
}

/** The Responses API's `text.format`: JSON mode, with the schema of `json_schema`. */
function textFormat(format: Record<string, unknown>): { schema?: unknown } | undefined {
  if (format.type === 'json_object') return {};
  if (format.type === 'json_schema') return { schema: format.schema };
  return undefined;
}
