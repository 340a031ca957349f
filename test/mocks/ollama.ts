/**
 * Ollama native API: `/api/chat` (NDJSON stream by default), `/api/embed`, the older
 * `/api/embeddings`, `/api/tags`, `/api/version` and the root health text. No auth; errors are
 * `{"error": "..."}`; unknown paths get Go's plain-text 404.
 */
import { createHash } from 'node:crypto';
import { arr, intField, json, obj, schemasByName, stopList, str } from './server.js';
import type { BodyReply, ProviderSpec, Reply, RouteContext } from './server.js';
import { countTokens, embed, planTurn, splitWords } from './turn.js';
import type { LastMessage, Turn } from './turn.js';

const JSON_TYPE = 'application/json; charset=utf-8';

const MESSAGES: Record<number, string> = {
  400: 'invalid request',
  404: 'model not found, try pulling it first',
  429: 'too many requests',
  500: 'an error was encountered while running the model',
  503: 'server busy, please try again.  maximum pending requests exceeded',
};

const error = (status: number, message?: string): BodyReply =>
  json(status, { error: message ?? MESSAGES[status] ?? (status >= 500 ? 'internal server error' : 'bad request') }, JSON_TYPE);
const ok = (value: unknown): BodyReply => json(200, value, JSON_TYPE);
const text = (status: number, body: string): BodyReply => ({ type: 'body', status, contentType: 'text/plain; charset=utf-8', body });

function messageText(message: Record<string, unknown>): string {
  const images = arr(message.images).map(() => '[image]');
  return [str(message.content) ?? '', ...images].filter((t) => t.length > 0).join(' ');
}

/**
 * Ollama's context window when the request sets no `options.num_ctx` and the Modelfile none: 4096
 * tokens (0.6 to 0.12; 2048 before, and from 0.13 by VRAM, 4096 under 24 GiB).
 */
export const DEFAULT_NUM_CTX = 4096;

/**
 * What the model sees of a prompt longer than its window, as Ollama's runner cuts it ("truncating
 * input prompt"): the end only. The template renders the tools before the messages (with the
 * system prompt), so they go first; a message cut in part keeps its last words.
 */
function window(tools: unknown[], messages: unknown[], numCtx: number): { tools: unknown[]; messages: unknown[]; cut: boolean } {
  const total = countTokens(tools) + countTokens(messages);
  if (total <= numCtx) return { tools, messages, cut: false };
  let room = numCtx;
  const kept: unknown[] = [];
  for (const message of messages.toReversed()) {
    const size = countTokens(message);
    if (size <= room) kept.unshift(message);
    else if (room > 0) {
      const m = obj(message);
      const words = (str(m.content) ?? '').split(/\s+/).filter(Boolean);
      kept.unshift({ ...m, content: words.slice(words.length - room).join(' ') });
    }
    room = Math.max(0, room - size);
  }
  return { tools: room >= countTokens(tools) ? tools : [], messages: kept, cut: true };
}

function lastMessage(messages: unknown[]): LastMessage | undefined {
  const last = obj(messages.at(-1));
  if (last.role === 'tool') return { role: 'tool', text: str(last.content) ?? '' };
  if (last.role === 'user') return { role: 'user', text: messageText(last) };
  const user = messages.findLast((m) => obj(m).role === 'user');
  return user === undefined ? undefined : { role: 'other', text: messageText(obj(user)) };
}

// Durations are nanoseconds; any deterministic numbers do.
function metrics(promptTokens: number, outputTokens: number) {
  return {
    total_duration: 2_000_000 + (promptTokens + outputTokens) * 1_000_000,
    load_duration: 1_000_000,
    prompt_eval_count: promptTokens,
    prompt_eval_duration: promptTokens * 500_000,
    eval_count: outputTokens,
    eval_duration: outputTokens * 1_000_000,
  };
}

// Ollama's Go types omit `index` when it is 0 and give no call ids.
function toolCalls(turn: Turn) {
  return turn.calls.map((c, index) => ({ function: { ...(index > 0 ? { index } : {}), name: c.name, arguments: c.args } }));
}

function chat(ctx: RouteContext): Reply {
  const b = obj(ctx.body);
  const model = str(b.model);
  if (!model) return error(400, 'model is required');
  // Models without the thinking capability refuse think: true (these families; the tests' other names think).
  if (b.think === true && /^(llama|gemma|mistral|phi|codellama|qwen2|qwen3-coder)/.test(model)) return error(400, `"${model}" does not support thinking`);
  const options = obj(b.options);
  const numCtx = intField(options.num_ctx) || DEFAULT_NUM_CTX;
  const seen = window(arr(b.tools), arr(b.messages), numCtx);
  const { messages, tools } = seen;
  const turn = planTurn({
    last: lastMessage(messages),
    tools: tools.flatMap((t) => str(obj(obj(t).function).name) ?? []),
    toolSchemas: schemasByName(tools.map((t) => obj(obj(t).function)), 'parameters'),
    toolChoice: 'auto',
    parallel: true,
    maxTokens: intField(options.num_predict),
    stop: stopList(options.stop),
    step: ctx.step,
    idPrefix: '',
    // `format: "json"` or a JSON Schema.
    json: b.format === 'json' ? {} : b.format && typeof b.format === 'object' ? { schema: b.format } : undefined,
  });
  const promptTokens = seen.cut ? numCtx : countTokens(messages);
  const doneReason = turn.finish === 'length' ? 'length' : 'stop';
  const head = () => ({ model, created_at: new Date().toISOString() });
  const calls = toolCalls(turn);

  if (b.stream === false) {
    const message = { role: 'assistant', content: turn.text, ...(calls.length > 0 ? { tool_calls: calls } : {}) };
    return ok({ ...head(), message, done_reason: doneReason, done: true, ...metrics(promptTokens, turn.outputTokens) });
  }
  const line = (value: unknown) => `${JSON.stringify(value)}\n`;
  const frames = turn.chunks.map((content) => line({ ...head(), message: { role: 'assistant', content }, done: false }));
  if (calls.length > 0) frames.push(line({ ...head(), message: { role: 'assistant', content: '', tool_calls: calls }, done: false }));
  frames.push(line({ ...head(), message: { role: 'assistant', content: '' }, done_reason: doneReason, done: true, ...metrics(promptTokens, turn.outputTokens) }));
  return {
    type: 'stream',
    contentType: 'application/x-ndjson',
    frames,
    errorFrame: (status, message) => line({ error: message ?? MESSAGES[status ?? 500] ?? 'internal server error' }),
    malformedFrame: `{"model":${JSON.stringify(model)},"message":{"role":"assistant","content":\n`,
  };
}

function embedInputs(ctx: RouteContext): Reply {
  const b = obj(ctx.body);
  const model = str(b.model);
  if (!model) return error(400, 'model is required');
  // Each input is cut to the model's window, its end dropped (`truncate` defaults to true).
  const numCtx = intField(obj(b.options).num_ctx) || DEFAULT_NUM_CTX;
  const inputs = (typeof b.input === 'string' ? [b.input] : arr(b.input).filter((x): x is string => typeof x === 'string')).map((input) => splitWords(input).slice(0, numCtx).join(''));
  const dims = intField(b.dimensions) || 8;
  const promptTokens = countTokens(inputs);
  return ok({
    model,
    embeddings: inputs.map((input) => embed(input, dims)),
    total_duration: 1_000_000 + promptTokens * 100_000,
    load_duration: 500_000,
    prompt_eval_count: promptTokens,
  });
}

function describe(name: string) {
  return {
    name,
    model: name,
    modified_at: '2025-01-01T00:00:00Z',
    size: 2_019_393_189,
    digest: createHash('sha256').update(name).digest('hex'),
    details: { parent_model: '', format: 'gguf', family: 'llama', families: ['llama'], parameter_size: '3.2B', quantization_level: 'Q4_K_M' },
  };
}

/** The Ollama provider spec. */
export const ollama: ProviderSpec = {
  basePath: '',
  defaultModels: ['llama3.2:latest', 'nomic-embed-text:latest'],
  authenticate: () => undefined,
  error,
  invalidJson: () => error(400, 'invalid character looking for beginning of value'),
  route(ctx) {
    const { method } = ctx;
    const path = ctx.url.pathname;
    if ((method === 'GET' || method === 'HEAD') && path === '/') return text(200, 'Ollama is running');
    if (method === 'GET' && path === '/api/version') return ok({ version: '0.12.6' });
    if (method === 'GET' && path === '/api/tags') return ok({ models: ctx.models.map(describe) });
    if (method === 'POST' && path === '/api/chat') return chat(ctx);
    if (method === 'POST' && path === '/api/embed') return embedInputs(ctx);
    if (method === 'POST' && path === '/api/embeddings') {
      const b = obj(ctx.body);
      if (!str(b.model)) return error(400, 'model is required');
      return ok({ embedding: embed(str(b.prompt) ?? '') });
    }
    return text(404, '404 page not found');
  },
};
