/**
 * Errors the gateway answers MCP requests with. The SDK turns a thrown error's `code`,
 * `message` and `data` into the JSON-RPC error object, so the message here is what the agent
 * reads: it names the backend and says what to do.
 */
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';

/** JSON-RPC error codes the gateway uses. */
export const GatewayErrorCode = {
  /** Unknown, denied, unapproved or changed tool; bad arguments to a built-in tool. */
  InvalidParams: ErrorCode.InvalidParams,
  /** A backend that is not connected, or failed in an unexpected way. */
  BackendUnavailable: ErrorCode.InternalError,
  /** A backend that did not answer within its timeout. */
  Timeout: ErrorCode.RequestTimeout,
  /** A backend whose connection closed while a request was in flight. */
  ConnectionClosed: ErrorCode.ConnectionClosed,
  /** A resource URI or prompt that belongs to no backend. */
  ResourceNotFound: -32002,
} as const;

/** An error with a JSON-RPC code, sent to the MCP client as is. */
export class GatewayError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'GatewayError';
  }
}

/** The message of an SDK McpError without the "MCP error <code>: " the SDK puts in front. */
export function bareMessage(err: unknown): string {
  if (err instanceof McpError) return err.message.replace(/^MCP error -?\d+: /, '');
  return err instanceof Error ? err.message : String(err);
}

/** Where a backend request failed, for {@link backendError}. */
export interface BackendFailure {
  backend: string;
  /** The request, e.g. `tools/call "echo"`. */
  what: string;
  timeoutMs: number;
  /** Scrubs the backend's secret values from what came from it (BackendConnection's own methods). */
  secrets: { redact(text: string): string; withoutSecrets<T>(value: T): T };
}

/** A backend error's own `data` object, without the backend's secret values; none when it is no object or they cannot be removed. */
function backendData(value: unknown, secrets: BackendFailure['secrets']): Record<string, unknown> | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  try {
    return secrets.withoutSecrets(value as Record<string, unknown>);
  } catch {
    return undefined;
  }
}

/** Turns a failed backend request into an error that names the backend and says what happened. */
export function backendError(err: unknown, failure: BackendFailure): GatewayError {
  const name = JSON.stringify(failure.backend);
  const data = { backend: failure.backend };
  if (err instanceof McpError && err.code === ErrorCode.RequestTimeout) {
    return new GatewayError(GatewayErrorCode.Timeout, `backend ${name} did not answer ${failure.what} within ${failure.timeoutMs} ms`, { ...data, timeoutMs: failure.timeoutMs });
  }
  if (err instanceof McpError && err.code === ErrorCode.ConnectionClosed) {
    return new GatewayError(GatewayErrorCode.ConnectionClosed, `backend ${name} closed the connection during ${failure.what}`, data);
  }
  const redact = (text: string) => failure.secrets.redact(text);
  if (err instanceof McpError) {
    const own = backendData(err.data, failure.secrets);
    // A client knows a "URL elicitation required" error by `data.elicitations` (MCP 2025-11-25): kept where it looks.
    const extra = err.code === ErrorCode.UrlElicitationRequired && own && 'elicitations' in own ? { elicitations: own.elicitations } : own ? { backendData: own } : {};
    return new GatewayError(err.code, `backend ${name}: ${redact(bareMessage(err))}`, { ...data, ...extra });
  }
  return new GatewayError(GatewayErrorCode.BackendUnavailable, `backend ${name} failed ${failure.what}: ${redact(bareMessage(err))}`, data);
}
