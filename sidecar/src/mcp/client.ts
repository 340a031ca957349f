/**
 * The MCP client rules shared by the sidecar's gateway and the operator's tool discovery
 * (exported as `@airlock/sidecar/mcp-client`), so both read a server the same way and the
 * hashes the operator shows are the ones the sidecar enforces:
 *
 * - streamable-http falls back to the HTTP+SSE transport when the server answers the first POST
 *   with a 4xx (the MCP specification's backwards-compatibility rule);
 * - lists are followed page by page, at most {@link MAX_PAGES} pages, and a server that announces
 *   a capability but answers a list method with MethodNotFound offers nothing there;
 * - closing ends a Streamable HTTP session with a DELETE first (bounded), so a stateful server
 *   frees it now rather than at its idle timeout.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { RequestOptions } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { FetchLike, Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { ErrorCode, McpError, type ClientCapabilities, type Prompt, type Resource, type ResourceTemplate, type Tool } from '@modelcontextprotocol/sdk/types.js';
import type { AnswerBudget } from '../upstream/answer-budget.js';
import { LARGE_MESSAGE_BYTES, largeMessages, type MessageGate } from './message-gate.js';

/**
 * What the gateway and the operator declare to MCP servers: sampling and elicitation in both modes,
 * form and URL (the gateway passes them through to its clients, each to a client that declared it), so a server that offers tools depending on them lists them
 * all, and both see the same list. Not roots: the agent's roots are paths of its own container, and
 * a server that takes them as its bounds (server-filesystem replaces its allowed directories with
 * them) would let the agent choose what the backend may reach; a backend's bounds are its own
 * configuration (its command's arguments).
 */
export const CLIENT_CAPABILITIES: ClientCapabilities = { sampling: {}, elicitation: { form: {}, url: {} } };

/** A server that never stops paginating must not keep the gateway or a reconcile busy forever. */
export const MAX_PAGES = 100;

/** The HTTP transports. */
export type HttpTransportKind = 'streamable-http' | 'sse';

/**
 * A client transport for `kind` sending `headers` with every request. `onStreamOpen` is called
 * each time a Streamable HTTP server accepts the GET event stream (at connect and at every
 * reconnect): the server drops notifications while no such stream is open (the specification
 * allows it), so a list_changed announced before then is lost, and a client that keeps lists
 * must read them again. An HTTP+SSE session lives on its event stream from the start: no gap.
 */
export function httpTransport(kind: HttpTransportKind, url: URL, headers: Record<string, string>, onStreamOpen?: () => void, answers?: AnswerBudget, stallMs?: number): Transport {
  const requestInit: RequestInit = { headers };
  const calls: CallStreams = new Map();
  const cappedFetch = cappedFetchFor(answers, kind, stallMs, calls);
  if (kind === 'sse') return sendingRequestIds(new SSEClientTransport(url, { requestInit, fetch: cappedFetch }), calls);
  if (!onStreamOpen) return sendingRequestIds(new StreamableHTTPClientTransport(url, { requestInit, fetch: cappedFetch }), calls);
  const watching: FetchLike = async (target, init) => {
    const response = await cappedFetch(target, init);
    if (init?.method === 'GET' && response.ok && response.headers.get('content-type')?.startsWith('text/event-stream')) onStreamOpen();
    return response;
  };
  return sendingRequestIds(new StreamableHTTPClientTransport(url, { requestInit, fetch: watching }), calls);
}

/** The id of the JSON-RPC request a transport is sending, for the fetch that POSTs it. */
const sendingRequest = new AsyncLocalStorage<string | number>();

/**
 * What ends the response a transport's request was POSTed with, by the request's id, while that
 * response is read: once the request is settled (answered, timed out or cancelled), nothing more
 * on it is the request's, and a message begun there held its bytes of the answer budget for as
 * long as the server sent a byte per `stallMs` (red team 24's stall, one byte at a time).
 */
type CallStreams = Map<string | number, () => void>;

/**
 * Has the fetches a transport makes to send a request know its id (`sendingRequest`), taken from
 * the message the SDK sends: the POST's body was parsed again to find it, a large tool argument
 * twice. With `calls`, the response a request was POSTed with is ended once the request is
 * settled: its answer read (the specification has the server close the stream then), or the SDK
 * cancelling it (its timeout, its caller's signal).
 */
function sendingRequestIds<T extends Transport>(transport: T, calls?: CallStreams): T {
  const send = transport.send.bind(transport);
  transport.send = (message, options) => {
    if ('method' in message && 'id' in message) return sending(message.id, () => send(message, options));
    if (calls && 'method' in message && message.method === 'notifications/cancelled') {
      const requestId = (message.params as { requestId?: string | number } | undefined)?.requestId;
      if (requestId !== undefined) calls.get(requestId)?.();
    }
    return send(message, options);
  };
  // The SDK's client calls a transport's onmessage set before it connects, then handles the message.
  if (calls) {
    transport.onmessage = (message) => {
      const answered = 'id' in message && !('method' in message) ? message.id : undefined;
      if (answered !== undefined) calls.get(answered)?.();
    };
  }
  return transport;
}

/** Runs `send`, whose fetches POST the request `id` (what a transport of {@link httpTransport} does for each request). */
export function sending<T>(id: string | number, send: () => T): T {
  return sendingRequest.run(id, send);
}

/**
 * Longest message read from an MCP server over HTTP: a JSON response, or one event of an event
 * stream. The SDK reads either whole and parses it, and the gateway holds it until the client has
 * it, at a few times its size: a server's 60 MiB tool result (a fetch tool the agent pointed at a
 * large page) took a few hundred MiB, and a few at once the sidecar's memory. The same bound as a
 * client's request body by default (listen.maxBodyBytes).
 */
export const MAX_MESSAGE_BYTES = 32 * 1024 * 1024;

/**
 * fetch whose response body stops at a message past {@link MAX_MESSAGE_BYTES}, or one that would
 * take the answers held past `answers` (the sidecar's bound: the message being read counts until
 * it is passed on to be parsed; several large results at once took the sidecar past its memory, red
 * team 21), and passes on one large message at a time across the sidecar (mcp/message-gate.ts). On the
 * event stream answering a request, the request is answered with an error in the backend's place,
 * so its call fails now rather than waiting out its callMs for an answer that will not be read.
 * A message begun and then left without a byte for `stallMs` (the backend's callMs) is given up
 * the same way, its response cut: it held its bytes of the budget for as long as the backend
 * kept the connection open (red team 24). With `calls`, the response a request was POSTed with is
 * ended, what it holds freed, once the request is settled ({@link sendingRequestIds}).
 */
export function cappedFetchFor(answers: AnswerBudget | undefined, kind: HttpTransportKind, stallMs?: number, calls?: CallStreams): FetchLike {
  return async (target, init) => {
    const requestId = init?.method === 'POST' ? sendingRequest.getStore() : undefined;
    const response = await fetch(target, init);
    // A Streamable HTTP server's GET stream carries its own requests and notifications, never an
    // answer, and lives as long as the session: an event on it is read up to MAX_STREAM_EVENT_BYTES
    // and held against no budget. Held, one 30 MiB event begun and never ended kept the budget full
    // for as long as the backend kept the stream open (red team 24).
    if (kind === 'streamable-http' && init?.method === 'GET') return capped(response, undefined, undefined, MAX_STREAM_EVENT_BYTES);
    return capped(response, requestId, answers, MAX_MESSAGE_BYTES, stallMs, requestId === undefined ? undefined : calls);
  };
}

/**
 * Longest event read from a Streamable HTTP server's GET stream: the gateway passes on no request
 * or notification larger than this to its clients either (sessions.ts MAX_NOTIFIED_BYTES).
 */
export const MAX_STREAM_EVENT_BYTES = 1024 * 1024;

/**
 * The response with its body passed on a whole message at a time (of an event stream, a whole
 * event, or several), each message held against `answers` while it is read and until it is passed
 * on; one larger than {@link LARGE_MESSAGE_BYTES} waits for the sidecar's {@link largeMessages}
 * gate, reading nothing more of the response meanwhile.
 */
function capped(response: Response, requestId: string | number | undefined, answers: AnswerBudget | undefined, maxBytes: number, stallMs?: number, calls?: CallStreams, gate: MessageGate = largeMessages): Response {
  if (!response.body) return response;
  const events = response.headers.get('content-type')?.includes('text/event-stream') ?? false;
  /** Bytes read and not yet passed on: the message being read (and, of an event stream, none whole). */
  let pending: Buffer[] = [];
  /** Bytes of the message being read now. */
  let run = 0;
  /** Bytes held against `answers`: those of `pending`, until they are passed on. */
  let held = 0;
  const release = (bytes = held) => {
    const given = Math.min(bytes, held);
    answers?.release(given);
    held -= given;
  };
  /** Set while a message is begun and not passed on, and not waiting for the gate: it fires after `stallMs` without a byte. */
  let stalled: NodeJS.Timeout | undefined;
  const watch = (controller: TransformStreamDefaultController<Uint8Array>) => {
    clearTimeout(stalled);
    stalled = undefined;
    if (stallMs === undefined || !answers || pending.length === 0) return;
    stalled = setTimeout(() => {
      try {
        refuse(controller, `the MCP server sent part of a message and then nothing for ${stallMs} ms; it is not read`);
      } catch {
        release(); // the response ended meanwhile
      }
    }, stallMs);
    stalled.unref();
  };
  const refuse = (controller: TransformStreamDefaultController<Uint8Array>, reason: string) => {
    clearTimeout(stalled);
    forget();
    release();
    pending = [];
    run = 0;
    if (!events || requestId === undefined) return controller.error(new Error(reason));
    // What was read of the message ends here unpassed, and an error answers the request.
    const error = { jsonrpc: '2.0', id: requestId, error: { code: ErrorCode.InternalError, message: reason } };
    controller.enqueue(Buffer.from(`\n\nevent: message\ndata: ${JSON.stringify(error)}\n\n`));
    controller.terminate();
  };
  /** Passes on `whole` (whole messages), waiting for the gate when it is large. */
  const passOn = (controller: TransformStreamDefaultController<Uint8Array>, whole: Buffer): Promise<void> | undefined => {
    if (whole.length <= LARGE_MESSAGE_BYTES) {
      release(whole.length);
      return void controller.enqueue(whole);
    }
    return gate.handOver(() => {
      release(whole.length);
      controller.enqueue(whole);
      if (events) controller.enqueue(LET_GO_EVENT);
    });
  };
  /** Ends the response once its request is settled (what `calls` has it do): what it held is freed. */
  const end = (controller: TransformStreamDefaultController<Uint8Array>) => () => {
    clearTimeout(stalled);
    pending = [];
    run = 0;
    release();
    forget();
    try {
      controller.terminate();
    } catch {
      // ended meanwhile
    }
  };
  const forget = () => {
    if (requestId !== undefined && ending && calls?.get(requestId) === ending) calls.delete(requestId);
  };
  let ending: (() => void) | undefined;
  const limit = new TransformStream<Uint8Array, Uint8Array>({
    start(controller) {
      if (requestId === undefined || !calls) return;
      ending = end(controller);
      calls.set(requestId, ending);
    },
    transform(chunk, controller) {
      const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      // Of an event stream, where in `bytes` the last event ended; of anything else, nowhere.
      const end = events ? eventsEnd(pending, bytes) : -1;
      run = end < 0 ? run + bytes.length : bytes.length - end;
      if (run > maxBytes) return refuse(controller, `the MCP server sent a message of more than ${maxBytes} bytes; it is not read`);
      held += bytes.length;
      if (answers && !answers.hold(bytes.length, held)) {
        return refuse(controller, `the Airlock sidecar holds ${Math.round(answers.maxBytes / 1048576)} MiB of answers that their clients have not read yet, its bound (listen.maxAnswerBytesInFlight); this message of the MCP server was not read`);
      }
      if (end < 0) {
        pending.push(bytes);
        return watch(controller);
      }
      const whole = pending.length === 0 ? bytes.subarray(0, end) : Buffer.concat([...pending, bytes.subarray(0, end)]);
      pending = end < bytes.length ? [bytes.subarray(end)] : [];
      clearTimeout(stalled);
      const passed = passOn(controller, whole);
      if (!passed) return watch(controller);
      return passed.then(() => watch(controller));
    },
    flush(controller) {
      clearTimeout(stalled);
      forget();
      // What is left: a whole JSON body, or an event stream's last bytes (passed on as read).
      const rest = Buffer.concat(pending);
      pending = [];
      return rest.length > 0 ? passOn(controller, rest) : undefined;
    },
    cancel() {
      clearTimeout(stalled);
      forget();
      pending = [];
      release();
    },
  });
  return new Response(response.body.pipeThrough(limit), { status: response.status, statusText: response.statusText, headers: response.headers });
}

/**
 * An event passed on after a large one: a notification nobody handles (the gateway's clients log
 * it at debug level). The MCP SDK's Streamable HTTP client reads an event stream in a loop whose
 * variables keep the last event's text and message until the next event: a backend's sampling
 * request kept both (60 MiB for a 30 MiB question) alive until the result of its call, and eight
 * at once took the sidecar past V8's heap after each had passed the gate (red team 24).
 */
const LET_GO_EVENT = Buffer.from(`event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/airlock/let-go' })}\n\n`);

/**
 * Where in `bytes` the last event of an event stream ends (just past its blank line), counting a
 * blank line begun in `before` (the bytes read of the event so far); -1 when none ends there.
 */
function eventsEnd(before: Buffer[], bytes: Buffer): number {
  const lf = bytes.lastIndexOf('\n\n');
  const crlf = bytes.lastIndexOf('\r\n\r\n');
  const end = Math.max(lf < 0 ? -1 : lf + 2, crlf < 0 ? -1 : crlf + 4);
  if (end >= 0 || before.length === 0) return end;
  // A blank line split between chunks ends in the first bytes of this one.
  const carried = Buffer.concat(before.slice(-3)).subarray(-3);
  const probe = Buffer.concat([carried, bytes.subarray(0, 3)]);
  const ends = [probe.indexOf('\n\n'), probe.indexOf('\r\n\r\n')].map((at, i) => (at < 0 ? -1 : at + (i === 0 ? 2 : 4)));
  const split = Math.max(...ends.filter((at) => at > carried.length));
  return Number.isFinite(split) ? split - carried.length : -1;
}

/** Whether a failed streamable-http connect should be retried over HTTP+SSE: the server answered the first POST with a 4xx. */
export function fallsBackToSse(err: unknown): boolean {
  return err instanceof StreamableHTTPError && err.code !== undefined && err.code >= 400 && err.code < 500;
}

/**
 * Makes the client handle a response only after the notifications read before it. The SDK's
 * client handles a notification a microtask after reading it but a response at once, and forgets a
 * request's progress handler with its response: a progress notification read together with the
 * result (one chunk of a pipe or an event stream, as a server sends its last progress and then
 * its answer) arrived for an unknown token and was dropped. Deferring responses by one microtask
 * keeps the order the server sent.
 */
function progressBeforeResults(transport: Transport): void {
  const handle = transport.onmessage;
  if (!handle) return;
  transport.onmessage = (message, extra) => {
    if ('method' in message) handle(message, extra);
    else queueMicrotask(() => handle(message, extra));
  };
}

/**
 * Connects and initialises within `timeoutMs` (and before `signal` aborts). The race covers
 * what request options cannot: an SSE transport's start() waits for the server's endpoint event
 * with no timeout of its own. On failure the transport is closed.
 */
export async function connectWithin(client: Client, transport: Transport, timeoutMs: number, signal?: AbortSignal): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new McpError(ErrorCode.RequestTimeout, `no answer to initialize within ${timeoutMs} ms`)), timeoutMs);
    onAbort = () => reject(signal?.reason as Error);
    if (signal?.aborted) onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
  });
  try {
    await Promise.race([client.connect(transport, { timeout: timeoutMs, signal }), deadline]);
    progressBeforeResults(transport);
  } catch (err) {
    await transport.close().catch(() => undefined);
    throw err;
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  }
}

/**
 * Most entries of one list a server may offer that are read (tools, prompts, resources or resource
 * templates): the MCPBackend status holds as many. With {@link MAX_LIST_CHARS} it bounds what one
 * server makes the operator and every sidecar using it hold: a server that paged on and on (100
 * pages of 2 MiB) took either past its memory limit. What fits is used, the rest is not read.
 */
export const MAX_LIST_ITEMS = 4096;

/** Most characters (as JSON) the entries read of one list may add up to. */
export const MAX_LIST_CHARS = 8 * 1024 * 1024;

/**
 * Every item of a paginated list, following cursors up to {@link MAX_PAGES} pages; a MethodNotFound
 * ends it. Past {@link MAX_LIST_ITEMS} entries or {@link MAX_LIST_CHARS} characters the rest is not
 * read: what fits is returned, and `cut` told why (Airlock's own words and numbers).
 */
export async function paginate<R extends { nextCursor?: string | undefined }, T>(
  what: string,
  page: (cursor: string | undefined) => Promise<R>,
  items: (result: R) => T[],
  cut?: (why: string) => void,
): Promise<T[]> {
  const all: T[] = [];
  let chars = 0;
  let cursor: string | undefined;
  for (let i = 0; i < MAX_PAGES; i++) {
    let result: R;
    try {
      result = await page(cursor);
    } catch (err) {
      // A server that announces a capability but not every method of it offers nothing there.
      if (err instanceof McpError && err.code === ErrorCode.MethodNotFound) return all;
      throw err;
    }
    for (const item of items(result)) {
      chars += JSON.stringify(item).length;
      if (all.length >= MAX_LIST_ITEMS || chars > MAX_LIST_CHARS) {
        cut?.(`the server lists more ${what} than Airlock reads (at most ${MAX_LIST_ITEMS} entries and ${MAX_LIST_CHARS / 1024 / 1024} MiB of definitions): the first ${all.length} are used`);
        return all;
      }
      all.push(item);
    }
    cursor = result.nextCursor;
    if (!cursor) break;
  }
  return all;
}

/** Every tool of a connected server as the SDK client parsed them (none without the tools capability). */
export async function listAllTools(client: Client, options: RequestOptions, cut?: (why: string) => void): Promise<Tool[]> {
  if (!client.getServerCapabilities()?.tools) return [];
  return paginate('tools', (cursor) => client.listTools(cursor === undefined ? {} : { cursor }, options), (r) => r.tools, cut);
}

/** What one server offers, as the SDK client parsed it. */
export interface BackendCatalog {
  tools: Tool[];
  resources: Resource[];
  resourceTemplates: ResourceTemplate[];
  prompts: Prompt[];
  /** Why a list was read only in part ({@link paginate}); absent when every list was read whole. */
  cut?: string[];
}

/** The lists a server can announce changes of. */
export type ListKind = 'tools' | 'resources' | 'prompts';

/** Reads every list the server's capabilities announce: what the gateway serves and pins, and the operator reports. */
export async function fetchCatalog(client: Client, options: RequestOptions): Promise<BackendCatalog> {
  const [tools, resources, prompts] = await Promise.all([fetchList(client, 'tools', options), fetchList(client, 'resources', options), fetchList(client, 'prompts', options)]);
  const cut = [...(tools.cut ?? []), ...(resources.cut ?? []), ...(prompts.cut ?? [])];
  return { tools: tools.tools, resources: resources.resources, resourceTemplates: resources.resourceTemplates, prompts: prompts.prompts, ...(cut.length > 0 ? { cut } : {}) };
}

/** Reads one kind of list (resources include templates); empty when not announced. */
export async function fetchList(client: Client, kind: 'tools', options: RequestOptions): Promise<Pick<BackendCatalog, 'tools' | 'cut'>>;
export async function fetchList(client: Client, kind: 'resources', options: RequestOptions): Promise<Pick<BackendCatalog, 'resources' | 'resourceTemplates' | 'cut'>>;
export async function fetchList(client: Client, kind: 'prompts', options: RequestOptions): Promise<Pick<BackendCatalog, 'prompts' | 'cut'>>;
export async function fetchList(client: Client, kind: ListKind, options: RequestOptions): Promise<Partial<BackendCatalog>>;
export async function fetchList(client: Client, kind: ListKind, options: RequestOptions): Promise<Partial<BackendCatalog>> {
  const capabilities = client.getServerCapabilities() ?? {};
  const cut: string[] = [];
  const note = (why: string) => void cut.push(why);
  const withCut = <T extends object>(lists: T): T & Pick<BackendCatalog, 'cut'> => (cut.length > 0 ? { ...lists, cut } : lists);
  switch (kind) {
    case 'tools':
      return withCut({ tools: await listAllTools(client, options, note) });
    case 'prompts':
      return withCut({ prompts: capabilities.prompts ? await paginate('prompts', (cursor) => client.listPrompts(cursor === undefined ? {} : { cursor }, options), (r) => r.prompts, note) : [] });
    case 'resources': {
      if (!capabilities.resources) return { resources: [], resourceTemplates: [] };
      const [resources, resourceTemplates] = await Promise.all([
        paginate('resources', (cursor) => client.listResources(cursor === undefined ? {} : { cursor }, options), (r) => r.resources, note),
        paginate('resource templates', (cursor) => client.listResourceTemplates(cursor === undefined ? {} : { cursor }, options), (r) => r.resourceTemplates, note),
      ]);
      return withCut({ resources, resourceTemplates });
    }
  }
}

/** Ends the session politely (a bounded DELETE for Streamable HTTP) and closes the client whatever its state. */
export async function closeClient(client: Client, transport: Transport, graceMs = 1_000): Promise<void> {
  if (transport instanceof StreamableHTTPClientTransport && transport.sessionId !== undefined) {
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
    });
    await Promise.race([transport.terminateSession().catch(() => undefined), grace]);
    clearTimeout(timer);
  }
  await client.close().catch(() => undefined);
}
