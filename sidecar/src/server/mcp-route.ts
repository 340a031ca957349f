/**
 * The `/mcp` route: the HTTP edge of the MCP gateway. Every answer the edge gives itself is a
 * JSON-RPC error object (`{jsonrpc, id, error: {code, message}}`), the shape an MCP client
 * parses: refused methods, bodies that are not JSON, an empty batch, and (through
 * {@link mcpClientErrorResponse}) requests Node's HTTP parser refuses. Everything else goes to
 * the gateway untouched; a session answers requests with bad params itself (mcp/params.ts).
 */
import type { ServerResponse } from 'node:http';
import type { McpHandler } from './app.js';
import { withAgentContext } from '../telemetry/model-call.js';
import { JSON_UTF8 } from './http/app.js';
import { HttpError } from './http/read-body.js';
import { writeJson } from './http/reply.js';
import type { Router } from './http/router.js';
import { scanJson } from '../wire/json-scan.js';
import { MAX_PARSED_BYTES, unparsable } from './body.js';

/** The path the gateway is served on. */
export const MCP_PATH = '/mcp';

/** The HTTP methods of the Streamable HTTP transport. */
const MCP_METHODS = ['GET', 'POST', 'DELETE'] as const;

/** The SDK's own code for transport-level refusals (method not allowed, invalid host...). */
const TRANSPORT_ERROR = -32000;

/**
 * JSON-RPC 2.0's error codes, as the MCP SDK's `ErrorCode` spells them. Not imported from it: the
 * SDK's types module builds its ~400 zod schemas when loaded (1.7 MiB of heap), and this module is
 * loaded at start in every sidecar, MCP used or not.
 */
export const JsonRpcErrorCode = { ParseError: -32700, InvalidRequest: -32600, InvalidParams: -32602, InternalError: -32603 } as const;

/** A JSON-RPC error response. */
export function jsonRpcError(code: number, message: string, id: string | number | null = null) {
  return { jsonrpc: '2.0' as const, id, error: { code, message } };
}

/** Mounts `/mcp` on `router`, its refusals (body too large, not JSON) answered in JSON-RPC. */
export function mcpRoute(router: Router, mcp: McpHandler): void {
  const onError = (err: unknown, _request: unknown, res: ServerResponse) => {
    if (err instanceof HttpError) return send(res, err.status, jsonRpcError(JsonRpcErrorCode.InvalidRequest, err.message));
    return send(res, 500, jsonRpcError(JsonRpcErrorCode.InternalError, 'internal error in the Airlock sidecar'));
  };
  router.add(
    MCP_METHODS,
    MCP_PATH,
    async (request, res) => {
      let parsed: unknown;
      if (Buffer.isBuffer(request.body) && request.body.length > 0) {
        // Refused before it is parsed, as a model call's body is (server/body.ts).
        const refusal = unparsable(scanJson(request.body, MAX_PARSED_BYTES));
        if (refusal) return send(res, refusal.status, jsonRpcError(JsonRpcErrorCode.InvalidRequest, `Invalid Request: ${refusal.message}`));
        try {
          parsed = JSON.parse(request.body.toString('utf8'));
        } catch {
          return send(res, 400, jsonRpcError(JsonRpcErrorCode.ParseError, 'Parse error: the body is not valid JSON'));
        }
      }
      if (Array.isArray(parsed) && parsed.length === 0) {
        // JSON-RPC 2.0: "rpc call with an empty Array" is answered with one Invalid Request error.
        return send(res, 400, jsonRpcError(JsonRpcErrorCode.InvalidRequest, 'Invalid Request: the batch is empty; send at least one JSON-RPC message'));
      }
      connectionAsNodeSays(res);
      // The agent's traceparent is linked from the spans of its tool calls (telemetry/model-call.ts).
      await withAgentContext(request.headers, () => mcp.handle(request.raw, res, parsed));
    },
    { onError },
  );
  // HEAD would otherwise run the GET handler and open a notification stream.
  router.add(['PUT', 'PATCH', 'OPTIONS', 'HEAD'], MCP_PATH, (request, res) => refuseMcpMethod(request.method, res), { onError, body: false });
}

/**
 * The 405 for a method the MCP endpoint does not take, in JSON-RPC shape. Also answers methods
 * no route has (PURGE, PROPFIND...), which reach the not-found answer.
 */
export function refuseMcpMethod(method: string, res: ServerResponse): void {
  const message = `Method not allowed: ${method} ${MCP_PATH}; the MCP endpoint takes ${MCP_METHODS.join(', ')}`;
  writeJson(res, 405, jsonRpcError(TRANSPORT_ERROR, message), { ...JSON_UTF8, allow: MCP_METHODS.join(', ') });
}

/**
 * Leaves the answer's Connection header to Node, as on every other route: `close` to a client that
 * asked to close (the connection is then closed), keep-alive otherwise. The MCP SDK writes
 * `Connection: keep-alive` on every event stream it answers with, and Node takes a handler's
 * Connection header over the client's: a client that sent `Connection: close` got a keep-alive
 * answer and a connection left open (red team 19).
 */
function connectionAsNodeSays(res: ServerResponse): void {
  const writeHead = res.writeHead.bind(res) as (status: number, ...rest: unknown[]) => ServerResponse;
  res.writeHead = ((status: number, ...rest: unknown[]) => {
    const headers = rest.at(-1);
    if (headers && typeof headers === 'object' && !Array.isArray(headers)) {
      for (const name of Object.keys(headers)) if (name.toLowerCase() === 'connection') delete (headers as Record<string, unknown>)[name];
    }
    return writeHead(status, ...rest);
  }) as ServerResponse['writeHead'];
}

function send(res: ServerResponse, status: number, body: unknown): void {
  writeJson(res, status, body, JSON_UTF8);
}

/**
 * The raw HTTP response for a request to `/mcp` that Node's HTTP parser refused (oversized
 * headers → 431, anything else → 400), in JSON-RPC; undefined for other paths. `rawPacket` is
 * what Node kept of the request, which starts with its request line.
 */
export function mcpClientErrorResponse(err: { code?: string; rawPacket?: unknown }): string | undefined {
  const requestLine = Buffer.isBuffer(err.rawPacket) ? err.rawPacket.subarray(0, 256).toString('latin1') : '';
  if (!/^[A-Z]+ \/mcp(?:[/?# ]|$)/.test(requestLine)) return undefined;
  const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
  const status = tooLarge ? 431 : 400;
  const body = JSON.stringify(jsonRpcError(JsonRpcErrorCode.InvalidRequest, tooLarge ? 'request headers too large' : 'malformed HTTP request'));
  const reason = tooLarge ? 'Request Header Fields Too Large' : 'Bad Request';
  return `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`;
}
