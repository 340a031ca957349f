/**
 * MCPBackend tool discovery: connects to a streamable-http or sse server with the MCP SDK client,
 * lists its tools and disconnects. The tools come back exactly as the SDK client parsed them,
 * which is what the sidecar's gateway hashes, so the hashes in status are the ones the sidecar
 * enforces.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport, SseError } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { ErrorCode, McpError, type Tool } from '@modelcontextprotocol/sdk/types.js';
import { finishReason, httpReason, isTimeout, networkReason, redactor } from './reasons.js';

export { approvalMessage, MAX_CONDITION_MESSAGE, toolStates } from './approval.js';
export type { ApprovalMessageTarget, ApprovalSpec } from './approval.js';

/** Where the server is and how to talk to it. */
export interface DiscoveryTarget {
  transport: 'streamable-http' | 'sse';
  url: string;
  /** Headers with secret values already resolved; none of them reaches a reason. */
  headers: Record<string, string>;
  /** Budget for the whole discovery: connect, initialise, every tools/list page, fallback included. */
  timeoutMs: number;
}

/**
 * The outcome of a discovery: the server's tools as the MCP SDK client returns them from
 * tools/list (name, description, inputSchema, outputSchema, annotations, and whatever else the
 * SDK keeps such as title), or why discovery failed.
 */
export type DiscoveryResult = { ok: true; tools: Tool[] } | { ok: false; reason: string };

/** What the operator tells servers about itself. */
export const CLIENT_INFO = { name: 'airlock-operator', version: '0.1.0' } as const;

/** A server that never stops paginating must not keep a reconcile busy (same cap as the sidecar). */
const MAX_PAGES = 100;

/** Ending a session politely must not hold up the reconcile for long. */
const CLOSE_GRACE_MS = 1_000;

/**
 * Connects, lists every tool (following pagination) and disconnects, always closing the client.
 *
 * `streamable-http` falls back to the HTTP+SSE transport when the server answers the first POST
 * with a 4xx, the rule of the MCP specification's backwards-compatibility section (and the
 * sidecar's); `sse` uses the HTTP+SSE transport only. A server without the tools capability
 * has no tools. Resolves (never rejects); a failure's reason names the transport and what went
 * wrong (HTTP status and the server's message, connection refused, timeout), with every header
 * value redacted.
 */
export async function discoverTools(target: DiscoveryTarget): Promise<DiscoveryResult> {
  const redact = redactor(Object.values(target.headers));
  const fail = (reason: string): DiscoveryResult => ({ ok: false, reason: finishReason(reason, redact) });

  let url: URL;
  try {
    url = new URL(target.url);
  } catch {
    return fail('the url is not a valid URL');
  }
  const deadline = AbortSignal.timeout(target.timeoutMs);
  const requestInit: RequestInit = { headers: target.headers };

  if (target.transport === 'sse') {
    const attempt = await listOver(new SSEClientTransport(url, { requestInit }), deadline, target.timeoutMs);
    return 'tools' in attempt ? { ok: true, tools: attempt.tools } : fail(`sse: ${attempt.reason}`);
  }
  const first = await listOver(new StreamableHTTPClientTransport(url, { requestInit }), deadline, target.timeoutMs);
  if ('tools' in first) return { ok: true, tools: first.tools };
  if (!first.fallback) return fail(`streamable-http: ${first.reason}`);
  const second = await listOver(new SSEClientTransport(url, { requestInit }), deadline, target.timeoutMs);
  if ('tools' in second) return { ok: true, tools: second.tools };
  return fail(`streamable-http: ${first.reason}; SSE fallback: ${second.reason}`);
}

type Attempt = { tools: Tool[] } | { reason: string; fallback: boolean };

/** One connection: connect, list, close. Never rejects. */
async function listOver(transport: Transport, deadline: AbortSignal, timeoutMs: number): Promise<Attempt> {
  const client = new Client(CLIENT_INFO, { capabilities: {} });
  const options = { signal: deadline, timeout: timeoutMs };
  let phase = 'connecting';
  try {
    // The race covers what request options cannot: an SSE transport's start() waits for the
    // server's endpoint event with no timeout of its own.
    await withDeadline(client.connect(transport, options), deadline);
    phase = 'listing tools';
    const tools = client.getServerCapabilities()?.tools ? await withDeadline(listAllTools(client, options), deadline) : [];
    return { tools };
  } catch (err) {
    if (deadline.aborted || isTimeout(err)) return { reason: `no answer within ${timeoutMs} ms while ${phase} (timeout)`, fallback: false };
    return { reason: failureReason(err), fallback: phase === 'connecting' && err instanceof StreamableHTTPError && isClientError(err.code) };
  } finally {
    await closeClient(client, transport);
  }
}

async function listAllTools(client: Client, options: { signal: AbortSignal; timeout: number }): Promise<Tool[]> {
  const tools: Tool[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    let result;
    try {
      result = await client.listTools(cursor === undefined ? {} : { cursor }, options);
    } catch (err) {
      // A server that announces tools but has no tools/list offers none (as the sidecar reads it).
      if (err instanceof McpError && err.code === ErrorCode.MethodNotFound) return tools;
      throw err;
    }
    tools.push(...result.tools);
    cursor = result.nextCursor;
    if (!cursor) break;
  }
  return tools;
}

function withDeadline<T>(work: Promise<T>, deadline: AbortSignal): Promise<T> {
  if (deadline.aborted) return Promise.reject(deadline.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(deadline.reason as Error);
    deadline.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => deadline.removeEventListener('abort', onAbort));
  });
}

/**
 * Ends the session (a DELETE for Streamable HTTP, so a stateful server frees it now rather than
 * at its idle timeout) and closes the client and transport, whatever state they are in.
 */
async function closeClient(client: Client, transport: Transport): Promise<void> {
  if (transport instanceof StreamableHTTPClientTransport && transport.sessionId !== undefined) {
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, CLOSE_GRACE_MS);
    });
    await Promise.race([transport.terminateSession().catch(() => undefined), grace]);
    clearTimeout(timer);
  }
  await client.close().catch(() => undefined);
}

/**
 * Why a connection failed, in the operator's words only: the HTTP status, a network error code,
 * a JSON-RPC error code. Never the server's text: the URL is the resource author's choice.
 */
function failureReason(err: unknown): string {
  if (err instanceof StreamableHTTPError && err.code !== undefined && err.code > 0) return httpReason(err.code);
  if (err instanceof SseError && err.code !== undefined && err.code > 0) return httpReason(err.code);
  if (err instanceof McpError) return `the server answered with JSON-RPC error ${err.code}`;
  return networkReason(err) ?? 'the answer is not a valid MCP response';
}

function isClientError(code: number | undefined): boolean {
  return code !== undefined && code >= 400 && code < 500;
}
