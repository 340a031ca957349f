/**
 * Opens one MCP client session to a backend over its configured transport. Streamable HTTP
 * falls back to the older HTTP+SSE transport when the server answers the first POST with a
 * 4xx, as the MCP specification's backwards-compatibility section describes.
 */
import type { Readable } from 'node:stream';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SseError } from '@modelcontextprotocol/sdk/client/sse.js';
import { StdioClientTransport, type StdioServerParameters } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { McpBackendConfig } from '../config/index.js';
import { CLIENT_CAPABILITIES, connectWithin, fallsBackToSse, httpTransport, MAX_MESSAGE_BYTES } from './client.js';
import { resolveValues } from './secrets.js';
import { HostedStdioTransport } from '../stdio-host/transport.js';
import type { AnswerBudget } from '../upstream/answer-budget.js';
import { StdioReadBuffer } from './stdio-read-buffer.js';
import { isSpawnFailure, spawnError } from '../stdio-host/spawn-error.js';

/** The transport actually in use; `sse` also when streamable-http fell back. */
export type ActiveTransport = 'streamable-http' | 'sse' | 'stdio';

/** A connected, initialised client. */
export interface OpenedClient {
  client: Client;
  transport: Transport;
  active: ActiveTransport;
  /** Child process id of a stdio backend. */
  pid?: number | undefined;
}

/** Resolved secrets of one connection attempt. */
export interface ConnectionSecrets {
  headers: Record<string, string>;
  env: Record<string, string>;
  /** Values read from files, to redact from logs. */
  secrets: string[];
}

/** What the gateway tells backends about itself. */
export const CLIENT_INFO = { name: 'airlock-sidecar', version: '0.1.0' } as const;

/** Reads the backend's header and env files now (they may have rotated since the last connect). */
export async function resolveSecrets(config: McpBackendConfig): Promise<ConnectionSecrets> {
  const headers = await resolveValues(config.name, 'header', config.headers, config.url === undefined ? undefined : new URL(config.url).origin);
  const env = await resolveValues(config.name, 'env', config.stdio?.env ?? []);
  return { headers: headers.values, env: env.values, secrets: [...headers.secrets, ...env.secrets] };
}

/** Hooks for a connection attempt. */
export interface OpenOptions {
  /** Called for each stderr line of a stdio backend, before the process may print more. */
  onStderr?: (line: string) => void;
  /** Called with each client as soon as it exists, before `connect`, to install handlers. */
  prepare: (client: Client, active: ActiveTransport) => void;
  /** Connect and initialise within this many milliseconds. */
  timeoutMs: number;
  /** The stdio host's socket; unset, a stdio server is a child of this process. */
  stdioHost?: string | undefined;
  /** Called each time a Streamable HTTP backend's event stream opens (see `httpTransport`). */
  onStreamOpen?: () => void;
  /** The sidecar's bound on answers held at once: a message being read from the server counts against it. */
  answers?: AnswerBudget | undefined;
}

/** Connects to the backend and runs the MCP initialise handshake. */
export async function openClient(config: McpBackendConfig, secrets: ConnectionSecrets, options: OpenOptions): Promise<OpenedClient> {
  switch (config.transport) {
    case 'stdio':
      return openStdio(config, secrets, options);
    case 'sse':
      return connect(httpTransport('sse', backendUrl(config), secrets.headers, undefined, options.answers, config.timeouts.callMs), 'sse', options);
    case 'streamable-http': {
      const url = backendUrl(config);
      try {
        return await connect(httpTransport('streamable-http', url, secrets.headers, options.onStreamOpen, options.answers, config.timeouts.callMs), 'streamable-http', options);
      } catch (err) {
        if (!fallsBackToSse(err)) throw err;
        return connect(httpTransport('sse', url, secrets.headers, undefined, options.answers, config.timeouts.callMs), 'sse', options);
      }
    }
  }
}

/**
 * Whether an error means the backend no longer knows our session, so requests on it can never
 * succeed and the client must initialise a new one: a Streamable HTTP server answers `404
 * Session not found` once it restarted; an HTTP+SSE session lives exactly as long as its event
 * stream, so any stream error ends it (the transport would otherwise reconnect by itself onto
 * a fresh, never-initialised session, where every call fails with -32602), and a POST to a
 * session endpoint the server no longer has gets a 404 too.
 */
export function sessionLost(err: unknown, active: ActiveTransport): boolean {
  if (err instanceof StreamableHTTPError) return err.code === 404;
  if (active !== 'sse') return false;
  if (err instanceof SseError) return true;
  return err instanceof Error && /^Error POSTing to endpoint \(HTTP 404\)/.test(err.message);
}

function backendUrl(config: McpBackendConfig): URL {
  if (!config.url) throw new Error(`backend ${JSON.stringify(config.name)}: transport ${config.transport} needs a url`);
  return new URL(config.url);
}

async function openStdio(config: McpBackendConfig, secrets: ConnectionSecrets, options: OpenOptions): Promise<OpenedClient> {
  if (!config.stdio) throw new Error(`backend ${JSON.stringify(config.name)}: transport stdio needs stdio.command`);
  const { command, args } = config.stdio;
  const server = { command, args, env: secrets.env };
  // In a pod the server starts in the airlock-tools container, under its own UID, where neither
  // the provider keys nor the sidecar's environment exist (docs/adr/0015). Either way it gets only
  // a minimal inherited environment (PATH, HOME, ...) plus the configured env.
  const secretEnv = config.stdio.env.filter((entry) => entry.file !== undefined).map((entry) => entry.name);
  const transport = options.stdioHost
    ? new HostedStdioTransport(options.stdioHost, { ...server, secretEnv }, options.answers)
    : new BoundedStdioClientTransport({ ...server, stderr: 'pipe' }, options.answers);
  if (options.onStderr) forwardLines(transport.stderr as Readable | null, options.onStderr);
  try {
    const opened = await connect(transport, 'stdio', options);
    return { ...opened, pid: transport.pid ?? undefined };
  } catch (err) {
    // Node's refusal quotes the argument or env value it refused, a secret from a file maybe.
    if (isSpawnFailure(err)) throw spawnError(command, err, config.name);
    throw err;
  }
}

/** The SDK's stdio client transport, reading the server's messages with the bounds of {@link StdioReadBuffer}. */
class BoundedStdioClientTransport extends StdioClientTransport {
  constructor(server: StdioServerParameters, answers: AnswerBudget | undefined) {
    super(server);
    // The SDK's buffer is a private field read only through append, readMessage and clear: replaced by
    // one with the same three, which resumes the SDK's reading (its private processReadBuffer) when a
    // large message's turn comes.
    const sdk = this as unknown as { _readBuffer: StdioReadBuffer; processReadBuffer(): void };
    sdk._readBuffer = new StdioReadBuffer(answers, (message) => void this.send(message).catch(() => undefined), MAX_MESSAGE_BYTES, () => sdk.processReadBuffer());
  }
}

async function connect(transport: Transport, active: ActiveTransport, options: OpenOptions): Promise<OpenedClient> {
  const client = new Client(CLIENT_INFO, { capabilities: CLIENT_CAPABILITIES });
  options.prepare(client, active);
  await connectWithin(client, transport, options.timeoutMs);
  return { client, transport, active };
}

function forwardLines(stream: Readable | null, onLine: (line: string) => void): void {
  if (!stream) return;
  let buffered = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split(/\r?\n/);
    buffered = lines.pop() ?? '';
    // A process that never ends a line must not grow the buffer without bound.
    if (buffered.length > 16_384) {
      lines.push(buffered);
      buffered = '';
    }
    for (const line of lines) if (line.trim().length > 0) onLine(line);
  });
  stream.on('end', () => {
    if (buffered.trim().length > 0) onLine(buffered);
  });
}
