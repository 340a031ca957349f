/**
 * What a well-formed answer of the sidecar looks like, checked for any request: the status is in
 * the route's expected set, the body is JSON in the error shape of the API the route speaks
 * (OpenAI for /v1/*, Anthropic for /v1/messages* and for Anthropic clients outside the OpenAI
 * routes, JSON-RPC for /mcp), an SSE stream answers only
 * a stream request and ends properly, and no secret appears anywhere. Plus a raw HTTP/1.1 client
 * for requests no HTTP library would send (bogus framing, control bytes in headers).
 */
/** The API a request reached, by method and path, as the sidecar's routes are laid out. */
export type Api = 'openai' | 'anthropic' | 'mcp' | 'health';

export function apiOf(method: string, target: string, headers: Record<string, string> | string[] = {}): Api {
  // As the client sends it: dot segments resolved (undici resolves `/v1/messages/..` to `/v1/`).
  const path = new URL(`http://airlock${target.split('?')[0]!}`).pathname;
  // Every method on /mcp is answered by the MCP edge, refusals included, in JSON-RPC shape.
  if (path === '/mcp') return 'mcp';
  if (path.startsWith('/v1/messages')) return 'anthropic';
  if ((path === '/healthz' || path === '/readyz') && (method === 'GET' || method === 'HEAD')) return 'health';
  if (method === 'POST' && OPENAI_ROUTES.has(path)) return 'openai';
  // Elsewhere (models, unknown paths) the Anthropic SDK, known by its headers, gets Anthropic's shape.
  return headerNames(headers).some((n) => n === 'anthropic-version' || n === 'x-api-key') ? 'anthropic' : 'openai';
}

const OPENAI_ROUTES = new Set(['/v1/chat/completions', '/v1/completions', '/v1/embeddings']);

function headerNames(headers: Record<string, string> | string[]): string[] {
  const names = Array.isArray(headers) ? headers.filter((_, i) => i % 2 === 0) : Object.keys(headers);
  return names.map((n) => n.toLowerCase());
}

export interface Sent {
  method: string;
  path: string;
  headers?: Record<string, string> | string[];
  /** The body bytes sent, if any. */
  body?: Buffer | undefined;
}

export interface Answer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** Statuses a client may get for garbage; 5xx only when a provider failed. */
const CLIENT_STATUSES: Record<Api, number[]> = {
  openai: [200, 400, 404, 413, 415, 422],
  anthropic: [200, 400, 404, 413, 415, 422],
  // 202: notifications and responses; 405/406/409/415: the Streamable HTTP transport's refusals.
  mcp: [200, 202, 400, 404, 405, 406, 409, 413, 415],
  health: [200, 503],
};

/** Whether the request asked for a stream: the body parses (as the sidecar parses it) to an object with `stream: true`. */
export function asksForStream(body: Buffer | undefined): boolean {
  if (!body || body.length === 0) return false;
  try {
    const value = JSON.parse(body.toString('utf8')) as unknown;
    return typeof value === 'object' && value !== null && (value as { stream?: unknown }).stream === true;
  } catch {
    return false;
  }
}

/**
 * Every way `answer` is not a well-formed answer to `sent`; empty when it is. `providerFailed`
 * says whether a provider (mock) answered 5xx or broke during the request, which alone excuses
 * a 5xx.
 */
export function problems(sent: Sent, answer: Answer, options: { secrets: string[]; providerFailed: boolean }): string[] {
  const found: string[] = [];
  const api = apiOf(sent.method, sent.path, sent.headers);
  const text = answer.body.toString('utf8');
  const everything = `${JSON.stringify(answer.headers)}\n${answer.body.toString('latin1')}\n${text}`;
  for (const secret of options.secrets) if (everything.includes(secret)) found.push(`a secret (${secret.slice(0, 6)}…) appears in the response`);

  if (answer.status >= 500) {
    if (!options.providerFailed) found.push(`status ${answer.status} although no provider failed`);
  } else if (!CLIENT_STATUSES[api].includes(answer.status)) {
    found.push(`status ${answer.status} is not one ${api} answers with (${CLIENT_STATUSES[api].join(', ')})`);
  }

  const type = answer.headers['content-type'] ?? '';
  // Bodiless answers: HEAD, 204, and MCP's 202 (accepted notification) and 200 to DELETE (session ended).
  const mcpEmpty = api === 'mcp' && answer.body.length === 0 && (answer.status === 202 || (sent.method === 'DELETE' && answer.status === 200));
  if (sent.method === 'HEAD' || answer.status === 204 || mcpEmpty) return found;
  if (type.startsWith('text/event-stream')) {
    if (api === 'mcp') found.push(...mcpStreamProblems(text));
    else if (!asksForStream(sent.body)) found.push('an SSE stream answered a request that did not ask for one');
    else if (api === 'anthropic') found.push(...anthropicStreamProblems(text));
    else found.push(...openAIStreamProblems(text));
    return found;
  }
  if (!type.startsWith('application/json')) {
    found.push(`content-type ${JSON.stringify(type)} is neither JSON nor SSE`);
    return found;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    found.push(`the body is not valid JSON: ${JSON.stringify(text.slice(0, 200))}`);
    return found;
  }
  if (answer.status < 400) {
    if (api === 'mcp') found.push(...jsonRpcProblems(json));
    return found;
  }
  if (api === 'openai') found.push(...openAIErrorProblems(json));
  else if (api === 'anthropic') found.push(...anthropicErrorProblems(json));
  else if (api === 'mcp') found.push(...jsonRpcProblems(json, true));
  else found.push(...healthProblems(json));
  return found;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function openAIErrorProblems(json: unknown): string[] {
  const error = isObject(json) ? json.error : undefined;
  const ok = isObject(error) && typeof error.message === 'string' && typeof error.type === 'string' && 'param' in error && 'code' in error;
  return ok ? [] : [`not an OpenAI error {error:{message,type,param,code}}: ${JSON.stringify(json).slice(0, 200)}`];
}

function anthropicErrorProblems(json: unknown): string[] {
  const error = isObject(json) ? json.error : undefined;
  const ok = isObject(json) && json.type === 'error' && isObject(error) && typeof error.type === 'string' && typeof error.message === 'string';
  return ok ? [] : [`not an Anthropic error {type:'error',error:{type,message}}: ${JSON.stringify(json).slice(0, 200)}`];
}

function healthProblems(json: unknown): string[] {
  return isObject(json) && typeof json.status === 'string' ? [] : [`not a health answer: ${JSON.stringify(json).slice(0, 200)}`];
}

/** A JSON-RPC 2.0 response (or batch); with `mustBeError` an error response. */
function jsonRpcProblems(json: unknown, mustBeError = false): string[] {
  const messages = Array.isArray(json) ? json : [json];
  if (messages.length === 0) return ['an empty JSON-RPC batch'];
  return messages.flatMap((m) => {
    if (!isObject(m) || m.jsonrpc !== '2.0') return [`not JSON-RPC 2.0: ${JSON.stringify(m).slice(0, 200)}`];
    const error = m.error;
    if (error !== undefined) {
      return isObject(error) && Number.isInteger(error.code) && typeof error.message === 'string' ? [] : [`malformed JSON-RPC error: ${JSON.stringify(m).slice(0, 200)}`];
    }
    if (mustBeError) return [`an error status with a JSON-RPC message that is not an error: ${JSON.stringify(m).slice(0, 200)}`];
    return 'result' in m || 'method' in m ? [] : [`a JSON-RPC message with neither result, error nor method: ${JSON.stringify(m).slice(0, 200)}`];
  });
}

interface SseEvent {
  event: string | undefined;
  data: string;
}

/** SSE events of a complete stream body, or a problem when the body does not end with a blank line. */
export function sseEvents(text: string): { events: SseEvent[]; problem?: string } {
  const normalised = text.replace(/\r\n?/g, '\n');
  if (normalised.length > 0 && !normalised.endsWith('\n\n')) return { events: [], problem: `the stream does not end with a complete event: ${JSON.stringify(normalised.slice(-120))}` };
  const events = normalised
    .split('\n\n')
    .filter((block) => block.length > 0)
    .map((block) => {
      const lines = block.split('\n').filter((l) => !l.startsWith(':'));
      const field = (name: string) => lines.filter((l) => l.startsWith(`${name}:`)).map((l) => l.slice(name.length + 1).replace(/^ /, ''));
      return { event: field('event')[0], data: field('data').join('\n') };
    });
  return { events };
}

function parseData(data: string): unknown {
  try {
    return JSON.parse(data);
  } catch {
    return undefined;
  }
}

function openAIStreamProblems(text: string): string[] {
  const { events, problem } = sseEvents(text);
  if (problem) return [problem];
  if (events.length === 0) return ['an empty OpenAI stream'];
  const found = events.slice(0, -1).flatMap((e) => (e.data !== '[DONE]' && parseData(e.data) !== undefined ? [] : [`an OpenAI stream frame that is not JSON: ${JSON.stringify(e.data.slice(0, 120))}`]));
  const last = events.at(-1)!;
  const lastJson = parseData(last.data);
  if (last.data !== '[DONE]' && !(isObject(lastJson) && isObject(lastJson.error))) found.push(`the OpenAI stream ends with neither [DONE] nor an error: ${JSON.stringify(last.data.slice(0, 120))}`);
  return found;
}

function anthropicStreamProblems(text: string): string[] {
  const { events, problem } = sseEvents(text);
  if (problem) return [problem];
  if (events.length === 0) return ['an empty Anthropic stream'];
  const found = events.flatMap((e) => {
    const json = parseData(e.data);
    return isObject(json) && typeof json.type === 'string' && (e.event === undefined || e.event === json.type) ? [] : [`an Anthropic stream event that is not {type} JSON: ${JSON.stringify(e).slice(0, 160)}`];
  });
  const last = events.at(-1)!;
  if (last.event !== 'message_stop' && last.event !== 'error') found.push(`the Anthropic stream ends with ${last.event}, not message_stop or error`);
  return found;
}

function mcpStreamProblems(text: string): string[] {
  const { events, problem } = sseEvents(text);
  if (problem) return [problem];
  return events.flatMap((e) => (e.data === '' ? [] : jsonRpcProblems(parseData(e.data))));
}
