/**
 * Routes client requests to the backend that owns the tool, prompt or resource, and rewrites
 * names and URIs in both directions. Progress notifications flow back to the client under the
 * client's own progress token; the client's cancellation aborts the backend request. Every
 * tool call ends in one audit record (session, backend, tool, duration, outcome; never the
 * arguments).
 */
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type {
  CallToolRequest,
  CallToolResult,
  CompleteRequest,
  CompleteResult,
  ContentBlock,
  GetPromptRequest,
  GetPromptResult,
  ReadResourceRequest,
  ReadResourceResult,
  ServerNotification,
  ServerRequest,
} from '@modelcontextprotocol/sdk/types.js';
import type { Aggregate } from './aggregate.js';
import type { Backend, ForwardOptions } from './backend.js';
import { GatewayError, GatewayErrorCode } from './errors.js';
import type { BuiltinResource, BuiltinTool } from './builtin-tools.js';
import { approvedPrompt, approvedTool, checkResourceAccess } from './exposure.js';
import { BUILTIN_BACKEND, BUILTIN_PREFIX, MAX_URI_LENGTH, unwrapUri, wrapUri } from './naming.js';
import { startToolSpan } from '../telemetry/tool-call.js';
import type { DownstreamSession } from './upstream.js';

/** How a tool call ended: the tool answered, the tool reported an error, the gateway or backend failed, or the client cancelled. */
export type ToolCallOutcome = 'ok' | 'tool_error' | 'error' | 'cancelled';

/** The audit record of one tool call. */
export interface ToolCallRecord {
  session: string | undefined;
  backend: string;
  /** The name the client called (`<prefix>__<name>`). */
  tool: string;
  durationMs: number;
  outcome: ToolCallOutcome;
  /** The JSON-RPC error code when the outcome is `error`. */
  code?: number | undefined;
}

/** What routing needs from the gateway. */
export interface RoutingContext {
  aggregate(): Aggregate;
  backend(name: string): Backend | undefined;
  /** Records one finished call of a backend tool. */
  toolCalled(record: ToolCallRecord): void;
  /** The built-in tool (`airlock__<name>`) of that name, if the gateway has one. */
  builtin?(name: string): BuiltinTool | undefined;
  /** The enabled built-in resource of that (unwrapped) URI, if the gateway has one. */
  builtinResource?(uri: string): BuiltinResource | undefined;
}

/** The `extra` argument of SDK request handlers. */
export type HandlerExtra = RequestHandlerExtra<ServerRequest, ServerNotification>;

type Meta = Record<string, unknown> & { progressToken?: string | number | undefined };

/** Calls an exposed tool on its backend; refuses tools that are unknown, denied, unapproved or changed. */
export async function callTool(ctx: RoutingContext, params: CallToolRequest['params'], extra: HandlerExtra, session?: DownstreamSession): Promise<CallToolResult> {
  const started = performance.now();
  const known = ctx.aggregate().toolsByName.get(params.name);
  const span = known ? startToolSpan({ backend: known.backend, tool: known.prefixedName }) : undefined;
  const record = (outcome: ToolCallOutcome, code?: number) => {
    span?.end(outcome);
    // Names that are no tool at all are not audited: they would let a client fill the log and the metrics with anything.
    if (known) ctx.toolCalled({ session: extra.sessionId, backend: known.backend, tool: known.prefixedName, durationMs: Math.round(performance.now() - started), outcome, code });
  };
  try {
    const entry = approvedTool(ctx, params.name);
    const builtin = entry.backend === BUILTIN_BACKEND ? ctx.builtin?.(entry.name) : undefined;
    if (builtin) {
      const run = () => builtin.run(params.arguments, extra);
      const result = await (span ? span.within(run) : run());
      record(result.isError ? 'tool_error' : 'ok');
      return result;
    }
    const backend = available(ctx, entry.backend);
    const result = backend.withoutSecrets(await backend.callTool({ ...params, name: entry.name, _meta: backendMeta(params._meta) }, forwardOptions(params._meta, extra, session)));
    record(result.isError ? 'tool_error' : 'ok');
    return { ...result, content: result.content.map((block) => wrapContent(backend.config.prefix, block)) };
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    record(extra.signal.aborted ? 'cancelled' : 'error', typeof code === 'number' ? code : undefined);
    throw err;
  }
}

/** resources/subscribe or resources/unsubscribe: the backend owning the URI watches it for this session. */
export async function subscription(
  ctx: RoutingContext,
  method: 'resources/subscribe' | 'resources/unsubscribe',
  wrapped: string,
  extra: HandlerExtra,
  session: DownstreamSession,
): Promise<Record<string, never>> {
  const { backend, uri } = resourceBackend(ctx, wrapped);
  if (method === 'resources/subscribe' && !session.subscriptions.has(wrapped)) roomToWatch(session, wrapped);
  if (!backend.resourceCapabilities()?.subscribe) {
    throw new GatewayError(GatewayErrorCode.InvalidParams, `backend ${JSON.stringify(backend.name)} does not support resource subscriptions`, { backend: backend.name });
  }
  await backend.subscription(method, uri, forwardOptions(undefined, extra, session));
  if (method === 'resources/subscribe') session.subscriptions.add(wrapped);
  else session.subscriptions.delete(wrapped);
  return {};
}

/** URI characters one session's subscriptions may add up to: each is kept for the session's life. */
export const MAX_SUBSCRIBED_CHARS = 256 * 1024;

/** Refuses a new subscription that would take the session's past {@link MAX_SUBSCRIBED_CHARS}. */
function roomToWatch(session: DownstreamSession, wrapped: string): void {
  let chars = wrapped.length;
  for (const watched of session.subscriptions) chars += watched.length;
  if (chars <= MAX_SUBSCRIBED_CHARS) return;
  const held = chars - wrapped.length;
  throw new GatewayError(
    GatewayErrorCode.InvalidParams,
    `this session watches ${session.subscriptions.size} resources whose URIs add up to ${held.toLocaleString('en-US')} characters; ` +
      `at most ${MAX_SUBSCRIBED_CHARS.toLocaleString('en-US')} are kept per session: unsubscribe from some first`,
  );
}

/** Reads a resource through the backend its wrapped URI names. */
export async function readResource(ctx: RoutingContext, params: ReadResourceRequest['params'], extra: HandlerExtra, session?: DownstreamSession): Promise<ReadResourceResult> {
  const own = unwrapUri(params.uri);
  const builtin = own?.prefix === BUILTIN_PREFIX ? ctx.builtinResource?.(own.uri) : undefined;
  if (builtin) return builtin.read(params.uri);
  const { backend, uri } = resourceBackend(ctx, params.uri);
  const prefix = backend.config.prefix;
  const result = backend.withoutSecrets(await backend.readResource({ ...params, uri, _meta: backendMeta(params._meta) }, forwardOptions(params._meta, extra, session)));
  return { ...result, contents: result.contents.map((c) => ({ ...c, uri: wrapUri(prefix, c.uri) })) };
}

/** Gets a prompt from the backend that owns it. */
export async function getPrompt(ctx: RoutingContext, params: GetPromptRequest['params'], extra: HandlerExtra, session?: DownstreamSession): Promise<GetPromptResult> {
  const entry = approvedPrompt(ctx, params.name);
  const backend = available(ctx, entry.backend);
  const result = backend.withoutSecrets(await backend.getPrompt({ ...params, name: entry.name, _meta: backendMeta(params._meta) }, forwardOptions(params._meta, extra, session)));
  const prefix = backend.config.prefix;
  return { ...result, messages: result.messages.map((m) => ({ ...m, content: wrapContent(prefix, m.content) })) };
}

/** Forwards argument completion for a prompt or resource template; empty when the backend has none. */
export async function complete(ctx: RoutingContext, params: CompleteRequest['params'], extra: HandlerExtra, session?: DownstreamSession): Promise<CompleteResult> {
  const empty: CompleteResult = { completion: { values: [], hasMore: false } };
  let backend: Backend;
  let ref: CompleteRequest['params']['ref'];
  if (params.ref.type === 'ref/prompt') {
    const entry = approvedPrompt(ctx, params.ref.name);
    backend = available(ctx, entry.backend);
    ref = { ...params.ref, name: entry.name };
  } else {
    const target = resourceBackend(ctx, params.ref.uri);
    backend = target.backend;
    ref = { ...params.ref, uri: target.uri };
  }
  if (!backend.supports('completions')) return empty;
  return backend.withoutSecrets(await backend.complete({ ...params, ref, _meta: backendMeta(params._meta) }, forwardOptions(params._meta, extra, session)));
}

function available(ctx: RoutingContext, name: string): Backend {
  const backend = ctx.backend(name);
  if (!backend) throw new GatewayError(GatewayErrorCode.BackendUnavailable, `backend ${JSON.stringify(name)} is not configured`, { backend: name });
  // A backend that is down is not refused here: the request makes it reconnect now, and fails with the reason if it cannot.
  return backend;
}

function resourceBackend(ctx: RoutingContext, wrapped: string): { backend: Backend; uri: string } {
  // The URI is the client's; the resource globs and the backend's URI templates it meets next are
  // regular expressions whose time can grow with its length squared or worse.
  if (wrapped.length > MAX_URI_LENGTH) {
    throw new GatewayError(
      GatewayErrorCode.InvalidParams,
      `resource URI is ${wrapped.length.toLocaleString('en-US')} characters long; at most ${MAX_URI_LENGTH.toLocaleString('en-US')} are accepted`,
    );
  }
  const parts = unwrapUri(wrapped);
  const name = parts && ctx.aggregate().prefixes.get(parts.prefix);
  if (!parts || !name) {
    throw new GatewayError(GatewayErrorCode.ResourceNotFound, `resource ${JSON.stringify(wrapped)} belongs to no backend: gateway resource URIs start with airlock+<prefix>`, {
      uri: wrapped,
    });
  }
  const backend = available(ctx, name);
  checkResourceAccess(ctx.aggregate(), name, parts.uri);
  return { backend, uri: parts.uri };
}

/**
 * Whether a `_meta` key is one the protocol reserves for itself. Such keys ask the receiver for
 * protocol behaviour (a task the answer belongs to), which between the gateway and a backend only
 * the gateway may ask for. The specification has read the prefix (before `/`) two ways, and a
 * backend may follow either: now its second label is `modelcontextprotocol` or `mcp`
 * (`io.modelcontextprotocol/related-task`); in 2025-06-18 such a label followed by another one
 * (`mcp.dev/`, `tools.mcp.com/`). A key either calls reserved is not passed on; one neither does
 * (`com.example.mcp/trace`, a vendor's own) is.
 */
function reservedMetaKey(key: string): boolean {
  const slash = key.indexOf('/');
  if (slash <= 0) return false;
  const labels = key.slice(0, slash).toLowerCase().split('.');
  return labels.some((label, i) => (i === 1 || i < labels.length - 1) && (label === 'modelcontextprotocol' || label === 'mcp'));
}

/**
 * The client's `_meta` for the backend: less its progress token (the backend gets a token of the
 * gateway's own) and the protocol's reserved keys (a client's `io.modelcontextprotocol/related-task`
 * made a backend on the SDK hold its answer as a task message the gateway never asks for, so the
 * call waited out `callMs`).
 */
function backendMeta(meta: Meta | undefined): Meta | undefined {
  if (!meta) return undefined;
  const kept = Object.entries(meta).filter(([key]) => key !== 'progressToken' && !reservedMetaKey(key));
  return kept.length > 0 ? Object.fromEntries(kept) : undefined;
}

function forwardOptions(meta: Meta | undefined, extra: HandlerExtra, session: DownstreamSession | undefined): ForwardOptions {
  const token = meta?.progressToken;
  return {
    session,
    requestId: extra.requestId,
    signal: extra.signal,
    onprogress:
      token === undefined
        ? undefined
        : (progress) => {
            extra.sendNotification({ method: 'notifications/progress', params: { ...progress, progressToken: token } }).catch(() => undefined);
          },
  };
}

/** Wraps resource URIs inside content blocks so links in results lead back through the gateway. */
function wrapContent(prefix: string, block: ContentBlock): ContentBlock {
  if (block.type === 'resource_link') return { ...block, uri: wrapUri(prefix, block.uri) };
  if (block.type === 'resource') return { ...block, resource: { ...block.resource, uri: wrapUri(prefix, block.resource.uri) } };
  return block;
}
