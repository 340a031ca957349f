/**
 * Routes client requests to the backend that owns the tool, prompt or resource, and rewrites
 * names and URIs in both directions. Progress notifications flow back to the client under the
 * client's own progress token; the client's cancellation aborts the backend request.
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
import { approvedPrompt, approvedTool, checkResourceAccess } from './exposure.js';
import { unwrapUri, wrapUri } from './naming.js';

/** What routing needs from the gateway. */
export interface RoutingContext {
  aggregate(): Aggregate;
  backend(name: string): Backend | undefined;
}

/** The `extra` argument of SDK request handlers. */
export type HandlerExtra = RequestHandlerExtra<ServerRequest, ServerNotification>;

type Meta = Record<string, unknown> & { progressToken?: string | number | undefined };

/** Calls an exposed tool on its backend; refuses tools that are unknown, denied, unapproved or changed. */
export async function callTool(ctx: RoutingContext, params: CallToolRequest['params'], extra: HandlerExtra): Promise<CallToolResult> {
  const entry = approvedTool(ctx, params.name);
  const backend = available(ctx, entry.backend);
  const result = await backend.callTool({ ...params, name: entry.name, _meta: backendMeta(params._meta) }, forwardOptions(params._meta, extra));
  return { ...result, content: result.content.map((block) => wrapContent(backend.config.prefix, block)) };
}

/** Reads a resource through the backend its wrapped URI names. */
export async function readResource(ctx: RoutingContext, params: ReadResourceRequest['params'], extra: HandlerExtra): Promise<ReadResourceResult> {
  const { backend, uri } = resourceBackend(ctx, params.uri);
  const prefix = backend.config.prefix;
  const result = await backend.readResource({ ...params, uri, _meta: backendMeta(params._meta) }, forwardOptions(params._meta, extra));
  return { ...result, contents: result.contents.map((c) => ({ ...c, uri: wrapUri(prefix, c.uri) })) };
}

/** Gets a prompt from the backend that owns it. */
export async function getPrompt(ctx: RoutingContext, params: GetPromptRequest['params'], extra: HandlerExtra): Promise<GetPromptResult> {
  const entry = approvedPrompt(ctx, params.name);
  const backend = available(ctx, entry.backend);
  const result = await backend.getPrompt({ ...params, name: entry.name, _meta: backendMeta(params._meta) }, forwardOptions(params._meta, extra));
  const prefix = backend.config.prefix;
  return { ...result, messages: result.messages.map((m) => ({ ...m, content: wrapContent(prefix, m.content) })) };
}

/** Forwards argument completion for a prompt or resource template; empty when the backend has none. */
export async function complete(ctx: RoutingContext, params: CompleteRequest['params'], extra: HandlerExtra): Promise<CompleteResult> {
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
  return backend.complete({ ...params, ref, _meta: backendMeta(params._meta) }, forwardOptions(params._meta, extra));
}

function available(ctx: RoutingContext, name: string): Backend {
  const backend = ctx.backend(name);
  if (!backend) throw new GatewayError(GatewayErrorCode.BackendUnavailable, `backend ${JSON.stringify(name)} is not configured`, { backend: name });
  if (backend.state !== 'ready') {
    throw new GatewayError(GatewayErrorCode.BackendUnavailable, backend.unavailableReason(), { backend: name, state: backend.state });
  }
  return backend;
}

function resourceBackend(ctx: RoutingContext, wrapped: string): { backend: Backend; uri: string } {
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

/** The client's `_meta` minus its progress token: the backend gets a token of the gateway's own. */
function backendMeta(meta: Meta | undefined): Meta | undefined {
  if (!meta) return undefined;
  const { progressToken: _token, ...rest } = meta;
  return Object.keys(rest).length > 0 ? rest : undefined;
}

function forwardOptions(meta: Meta | undefined, extra: HandlerExtra): ForwardOptions {
  const token = meta?.progressToken;
  return {
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
