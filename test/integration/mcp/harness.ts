/**
 * Test harness for the MCP gateway: serves it on a Unix socket from a plain node:http server
 * (as the sidecar's app does, minus its router), connects MCP SDK clients through that socket, and
 * captures the gateway's log lines.
 */
import { createServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { Agent, fetch as undiciFetch } from 'undici';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ToolListChangedNotificationSchema, type ClientCapabilities } from '@modelcontextprotocol/sdk/types.js';
import { SidecarConfig, type SidecarConfigInput } from '../../../sidecar/src/config/index.js';
import { createMcpGateway, type GatewayTuning, type McpGateway, type McpGatewayOptions } from '../../../sidecar/src/mcp/index.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

/** A stdio command line that runs an npm-installed MCP server binary with the current Node. */
export function npmServer(bin: 'mcp-server-everything' | 'mcp-server-filesystem', ...args: string[]) {
  return { command: process.execPath, args: [join(root, 'node_modules/.bin', bin), ...args] };
}

/** The stdio command line of a fixture server in ./fixtures. */
export function fixtureServer(file: string) {
  return { command: process.execPath, args: [fileURLToPath(new URL(`./fixtures/${file}`, import.meta.url))] };
}

/**
 * Short timings so failures and restarts happen within a test. A health ping is timed out after
 * the interval: at 1 s a loaded machine failed backends that were only slow to answer (list-storm).
 */
export const TEST_TUNING: Partial<GatewayTuning> = { healthIntervalMs: 5_000, backoffBaseMs: 100, backoffMaxMs: 1_000 };

export type McpInput = NonNullable<SidecarConfigInput['mcp']>;

/** Builds a full sidecar config around an `mcp` section. */
export function sidecarConfig(mcp: McpInput): SidecarConfig {
  return SidecarConfig.parse({ version: 1, sandbox: { name: 'test' }, mcp });
}

/** A gateway served on a Unix socket. */
export interface ServedGateway {
  gateway: McpGateway;
  socketPath: string;
  dir: string;
  /** Everything the gateway logged so far. */
  logs(): string;
  /** A connected MCP client that counts tools/list_changed notifications; `setup` declares capabilities and installs handlers before it connects. */
  connect(options?: ConnectOptions): Promise<TestClient>;
  /** A raw fetch through the socket. */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  close(): Promise<void>;
}

/** How a test client presents itself. */
export interface ConnectOptions {
  capabilities?: ClientCapabilities;
  /** Installs handlers on the client before it connects. */
  setup?: (client: Client) => void;
}

export interface TestClient {
  client: Client;
  transport: StreamableHTTPClientTransport;
  /** How many notifications/tools/list_changed arrived. */
  toolListChanges(): number;
  /** The tool names the client re-listed after each list_changed, as a client would. */
  toolSnapshots(): string[][];
  close(): Promise<void>;
  /** Ends the session as a client does (DELETE), then closes. */
  end(): Promise<void>;
}

/**
 * Starts a gateway for `mcp` behind a node:http server on a Unix socket. With `parseBody` the
 * server parses JSON bodies and passes them on, as the sidecar's app does; without, the gateway
 * reads bodies itself.
 */
export async function serveGateway(
  mcp: McpInput,
  options: { parseBody?: boolean; tuning?: Partial<GatewayTuning>; metrics?: McpGatewayOptions['metrics']; builtins?: McpGatewayOptions['builtins']; stdioHost?: string } = {},
): Promise<ServedGateway> {
  const dir = await mkdtemp(join(tmpdir(), 'airlock-mcp-'));
  const socketPath = join(dir, 'airlock.sock');
  const lines: string[] = [];
  const logger = pino({ level: 'debug' }, new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) }));
  const gateway = createMcpGateway({ config: sidecarConfig(mcp), logger, tuning: { ...TEST_TUNING, ...options.tuning }, metrics: options.metrics, builtins: options.builtins, stdioHost: options.stdioHost });
  const server: HttpServer = createServer((req, res) => {
    if (!req.url?.startsWith('/mcp')) {
      res.writeHead(404).end();
      return;
    }
    void (async () => {
      const body = options.parseBody === false ? undefined : await parseJsonBody(req);
      await gateway.handle(req, res, body);
    })().catch((err: unknown) => res.destroy(err as Error));
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  const agent = new Agent({ connect: { socketPath } });
  const socketFetch = (url: string | URL, init?: RequestInit) =>
    undiciFetch(url, { ...(init as object), dispatcher: agent }) as unknown as Promise<Response>;
  const clients: TestClient[] = [];
  return {
    gateway,
    socketPath,
    dir,
    logs: () => lines.join(''),
    fetch: (path, init) => socketFetch(new URL(path, 'http://airlock.local'), init),
    connect: async (connectOptions = {}) => {
      const transport = new StreamableHTTPClientTransport(new URL('http://airlock.local/mcp'), { fetch: socketFetch });
      const client = new Client({ name: 'test-agent', version: '1.0.0' }, { capabilities: connectOptions.capabilities ?? {} });
      connectOptions.setup?.(client);
      let changes = 0;
      const snapshots: string[][] = [];
      client.setNotificationHandler(ToolListChangedNotificationSchema, async () => {
        changes++;
        const { tools } = await client.listTools();
        snapshots.push(tools.map((t) => t.name));
      });
      await client.connect(transport);
      const test: TestClient = { client, transport, toolListChanges: () => changes, toolSnapshots: () => snapshots, close: () => client.close(),
        end: async () => {
          await transport.terminateSession();
          await client.close();
        },
      };
      clients.push(test);
      return test;
    },
    close: async () => {
      await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
      await gateway.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await agent.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function parseJsonBody(req: IncomingMessage): Promise<unknown> {
  if (req.method !== 'POST') return undefined;
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text.length > 0 ? JSON.parse(text) : undefined;
}

/** Polls `probe` until it returns a truthy value; fails after `timeoutMs` with `what`. */
export async function until<T>(what: string, probe: () => T | undefined | null | false | Promise<T | undefined | null | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The text of the first text block of a tool result. */
export function text(result: unknown): string {
  const content = (result as { content?: { type: string; text?: string }[] }).content ?? [];
  return content.find((c) => c.type === 'text')?.text ?? '';
}
