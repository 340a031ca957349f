import { ErrorCode } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { JsonRpcErrorCode } from './mcp-route.js';

describe('the /mcp route', () => {
  it("answers with the MCP SDK's JSON-RPC error codes without loading the SDK at start", () => {
    for (const [name, code] of Object.entries(JsonRpcErrorCode)) expect(code, name).toBe(ErrorCode[name as keyof typeof ErrorCode]);
  });
});
