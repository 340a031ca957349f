/**
 * MCPBackend tool discovery: connects to a streamable-http or sse server with the MCP SDK client,
 * lists its tools and disconnects. The tools come back exactly as the SDK client parsed them,
 * which is what the sidecar's gateway hashes, so the hashes in status are the ones the sidecar
 * enforces.
 */
import { CLIENT_CAPABILITIES, closeClient, connectWithin, fallsBackToSse, fetchCatalog, httpTransport, type BackendCatalog, type HttpTransportKind } from '@airlock/sidecar/mcp-client';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SseError } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
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
 * The outcome of a discovery: the server's tools, prompts, resources and resource templates as
 * the MCP SDK client returns them (what the gateway serves and hashes), or why discovery failed.
 */
export type DiscoveryResult = ({ ok: true } & BackendCatalog) | { ok: false; reason: string };

/** What the operator tells servers about itself. */
export const CLIENT_INFO = { name: 'airlock-operator', version: '0.1.0' } as const;

/**
 * Connects, lists every tool (following pagination) and disconnects, always closing the client.
 *
 * It reads the server with the sidecar's client rules (`@airlock/sidecar/mcp-client`: the same
 * capabilities declared, the same fallback from streamable-http to HTTP+SSE on a 4xx, the same
 * page cap and MethodNotFound handling), so it sees the tools the gateway sees; `sse` uses the
 * HTTP+SSE transport only. Resolves (never rejects); a failure's reason names the transport and what went
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
  const over = (kind: HttpTransportKind) => listOver(kind, url, target, deadline);

  if (target.transport === 'sse') {
    const attempt = await over('sse');
    return 'tools' in attempt ? { ok: true, ...attempt } : fail(`sse: ${attempt.reason}`);
  }
  const first = await over('streamable-http');
  if ('tools' in first) return { ok: true, ...first };
  if (!first.fallback) return fail(`streamable-http: ${first.reason}`);
  const second = await over('sse');
  if ('tools' in second) return { ok: true, ...second };
  return fail(`streamable-http: ${first.reason}; SSE fallback: ${second.reason}`);
}

type Attempt = BackendCatalog | { reason: string; fallback: boolean };

/** One connection: connect, list, close. Never rejects. */
async function listOver(kind: HttpTransportKind, url: URL, target: DiscoveryTarget, deadline: AbortSignal): Promise<Attempt> {
  const transport = httpTransport(kind, url, target.headers);
  const client = new Client(CLIENT_INFO, { capabilities: CLIENT_CAPABILITIES });
  let phase = 'connecting';
  try {
    await connectWithin(client, transport, target.timeoutMs, deadline);
    phase = 'listing tools, prompts and resources';
    return await fetchCatalog(client, { signal: deadline, timeout: target.timeoutMs });
  } catch (err) {
    if (deadline.aborted || isTimeout(err)) return { reason: `no answer within ${target.timeoutMs} ms while ${phase} (timeout)`, fallback: false };
    return { reason: failureReason(err), fallback: phase === 'connecting' && fallsBackToSse(err) };
  } finally {
    await closeClient(client, transport);
  }
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
