/**
 * Requests whose params the MCP schema refuses, answered with -32602 (Invalid params) naming each
 * wrong field: the SDK server answers its own schema's refusal as -32603 (an internal error) with
 * zod's issues as JSON text. Checked per JSON-RPC message as the transport hands it to the server,
 * so each item of a batch gets its own answer and the others are served as without it.
 */
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import * as types from '@modelcontextprotocol/sdk/types.js';
import type * as z from '../zod.js';

/**
 * Methods whose params are checked, by their MCP SDK schema (built with classic zod, whose
 * schemas have every method of mini's type named here).
 */
const CHECKED_METHODS: Record<string, z.ZodMiniType | undefined> = {
  'tools/call': types.CallToolRequestSchema,
  'prompts/get': types.GetPromptRequestSchema,
  'resources/read': types.ReadResourceRequestSchema,
  'completion/complete': types.CompleteRequestSchema,
  'logging/setLevel': types.SetLevelRequestSchema,
  'resources/subscribe': types.SubscribeRequestSchema,
  'resources/unsubscribe': types.UnsubscribeRequestSchema,
  'tools/list': types.ListToolsRequestSchema,
  'prompts/list': types.ListPromptsRequestSchema,
  'resources/list': types.ListResourcesRequestSchema,
  'resources/templates/list': types.ListResourceTemplatesRequestSchema,
} as Record<string, z.ZodMiniType | undefined>;

/** The -32602 error response for a request whose params the MCP schema refuses; undefined for any other message. */
export function invalidParams(message: types.JSONRPCMessage): types.JSONRPCErrorResponse | undefined {
  if (!types.isJSONRPCRequest(message)) return undefined;
  const schema = Object.hasOwn(CHECKED_METHODS, message.method) ? CHECKED_METHODS[message.method] : undefined;
  const result = schema?.safeParse(message);
  if (!result || result.success) return undefined;
  const fields = result.error.issues.slice(0, 5).map((i) => `${i.path.map(String).join('.') || '<request>'}: ${i.message}`);
  return { jsonrpc: '2.0', id: message.id, error: { code: types.ErrorCode.InvalidParams, message: `Invalid params for ${message.method}: ${fields.join('; ')}` } };
}

/**
 * Has `transport` answer each request with params the schema refuses ({@link invalidParams})
 * itself, instead of handing it to the server it is connected to; `onError` hears of an answer
 * that could not be sent.
 */
export function answerInvalidParams(transport: Transport, onError: (err: unknown) => void): void {
  const deliver = transport.onmessage;
  transport.onmessage = (message, extra) => {
    const refusal = invalidParams(message);
    if (!refusal) return deliver?.(message, extra);
    transport.send(refusal, { relatedRequestId: refusal.id }).catch(onError);
  };
}
