/**
 * Session routing for a Streamable HTTP MCP server written with the SDK in a test: one transport
 * per mcp-session-id, a new session (and a fresh server from `build`) for a request without one,
 * 404 for an unknown id, the session forgotten on DELETE.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';

export interface McpSessions {
  sessions: Map<string, StreamableHTTPServerTransport>;
  /** Serves one HTTP request; errors destroy the response. */
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** Closes every open session. */
  close(): Promise<void>;
}

export function mcpSessions(build: () => McpServer | Server): McpSessions {
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  const serveOne = async (req: IncomingMessage, res: ServerResponse) => {
    const id = req.headers['mcp-session-id'];
    const existing = typeof id === 'string' ? sessions.get(id) : undefined;
    if (existing) {
      await existing.handleRequest(req, res);
      if (req.method === 'DELETE') sessions.delete(id as string);
      return;
    }
    if (typeof id === 'string') return void res.writeHead(404).end();
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (sid) => void sessions.set(sid, transport),
    });
    await build().connect(transport);
    await transport.handleRequest(req, res);
  };
  return {
    sessions,
    handle: (req, res) => void serveOne(req, res).catch((err: unknown) => res.destroy(err as Error)),
    close: async () => void (await Promise.all([...sessions.values()].map((t) => t.close()))),
  };
}

/** A Streamable HTTP MCP server on 127.0.0.1, one `build()` per session. */
export interface ServedMcp {
  /** The MCP endpoint, `http://127.0.0.1:<port>/mcp`. */
  url: string;
  /** Closes every session and the listener. */
  close(): Promise<void>;
}

/** Serves {@link mcpSessions} of `build` on a free port of 127.0.0.1. */
export async function serveMcp(build: () => McpServer | Server): Promise<ServedMcp> {
  const sessions = mcpSessions(build);
  const http = createServer((req, res) => sessions.handle(req, res));
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`,
    close: async () => {
      await sessions.close();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

/**
 * Serves a fixture server in its own process: over Streamable HTTP on a free port (`mode` `http`,
 * printing its URL on stdout), else one session on stdin/stdout.
 */
export async function serveFixture(mode: string | undefined, build: () => McpServer | Server): Promise<void> {
  if (mode === 'http') console.log((await serveMcp(build)).url);
  else await build().connect(new StdioServerTransport());
}
