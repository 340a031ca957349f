/**
 * MCP Streamable HTTP sessions: one SDK transport and server per `mcp-session-id`. A session
 * starts with a POSTed initialize request without a session id, lives while its client uses it
 * (POST for requests, GET for the notification stream) and ends with DELETE, gateway close, or
 * eviction once idle for long or when too many sessions are open.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { ErrorCode, isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { answerInvalidParams } from './params.js';

/** Limits on sessions. */
export interface SessionLimits {
  /** Sessions kept at most; the longest idle one is closed to make room. */
  maxSessions: number;
  /** A session without requests for this long (and no open stream) is closed. */
  idleMs: number;
  /** Largest request body read when the app did not parse it already. */
  maxBodyBytes: number;
}

interface Session {
  id: string;
  server: Server;
  transport: StreamableHTTPServerTransport;
  lastSeen: number;
  /** Requests being handled, including open GET streams. */
  active: number;
  /** Whether a GET stream is open and writable: only then do notifications reach the client. */
  streamOpen: boolean;
  /** Lists that changed while no GET stream was open; announced again when one opens. */
  missed: Set<ListChange>;
}

/** The list a client should re-read. */
export type ListChange = 'tools' | 'resources' | 'prompts';

/** The open MCP sessions of the gateway. */
export class SessionRegistry {
  private readonly sessions = new Map<string, Session>();
  private readonly reaper: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly createServer: () => Server,
    private readonly logger: Logger,
    private readonly limits: SessionLimits,
  ) {
    this.reaper = setInterval(() => this.reapIdle(), Math.min(60_000, limits.idleMs));
    this.reaper.unref();
  }

  /** Number of open sessions. */
  get size(): number {
    return this.sessions.size;
  }

  /** Handles one HTTP request to the MCP endpoint (POST, GET or DELETE). */
  async handle(req: IncomingMessage, res: ServerResponse, parsedBody?: unknown): Promise<void> {
    if (this.closed) return reject(res, 503, ErrorCode.ConnectionClosed, 'the MCP gateway is shutting down');
    const header = req.headers['mcp-session-id'];
    const sessionId = Array.isArray(header) ? header[0] : header;
    if (sessionId !== undefined) {
      const session = this.sessions.get(sessionId);
      if (!session) return reject(res, 404, SESSION_NOT_FOUND, 'Session not found');
      session.active++;
      session.lastSeen = Date.now();
      const stream = req.method === 'GET';
      if (stream) void this.announceMissedWhenOpen(session, res);
      try {
        await session.transport.handleRequest(req, res, parsedBody);
      } finally {
        if (stream) session.streamOpen = false;
        session.active--;
        session.lastSeen = Date.now();
      }
      return;
    }
    if (req.method !== 'POST') return reject(res, 400, ErrorCode.InvalidRequest, 'Bad Request: Mcp-Session-Id header is required');
    let body = parsedBody;
    if (body === undefined) {
      const read = await readJson(req, this.limits.maxBodyBytes);
      if (!read.ok) return reject(res, read.status, read.status === 413 ? ErrorCode.InvalidRequest : ErrorCode.ParseError, read.message);
      body = read.value;
    }
    const messages = Array.isArray(body) ? (body as unknown[]) : [body];
    if (!messages.some((m) => isInitializeRequest(m))) {
      return reject(res, 400, ErrorCode.InvalidRequest, 'Bad Request: no valid session ID provided; start a session with an initialize request');
    }
    await this.start(req, res, body);
  }

  /** Tells every initialised session that a list changed. */
  notify(change: ListChange): void {
    for (const session of this.sessions.values()) {
      // The transport drops notifications while no GET stream is open (the spec allows it);
      // remember them so a client that opens its stream late still learns of the change.
      if (!session.streamOpen) session.missed.add(change);
      this.send(session, change);
    }
  }

  private send(session: Session, change: ListChange): void {
    const server = session.server;
    const sent = change === 'tools' ? server.sendToolListChanged() : change === 'resources' ? server.sendResourceListChanged() : server.sendPromptListChanged();
    sent.catch((err: unknown) => this.logger.debug({ session: session.id, err: String(err) }, 'MCP list_changed not delivered'));
  }

  /**
   * Marks the session's GET stream open once the transport has sent its headers (by then it has
   * registered the stream) and repeats the list changes the session missed. A change announced
   * in between may arrive twice, which is harmless: it only makes the client list again.
   */
  private async announceMissedWhenOpen(session: Session, res: ServerResponse): Promise<void> {
    for (let i = 0; i < 200 && !res.headersSent && !res.writableEnded; i++) await new Promise((resolve) => setTimeout(resolve, 5));
    if (!res.headersSent || res.writableEnded || res.statusCode !== 200) return;
    session.streamOpen = true;
    const missed = [...session.missed];
    session.missed.clear();
    for (const change of missed) this.send(session, change);
  }

  /** Closes every session. */
  async closeAll(): Promise<void> {
    this.closed = true;
    clearInterval(this.reaper);
    await Promise.all([...this.sessions.values()].map((s) => this.end(s, 'gateway closing')));
  }

  private async start(req: IncomingMessage, res: ServerResponse, body: unknown): Promise<void> {
    this.makeRoom();
    const server = this.createServer();
    let session: Session | undefined;
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      maxRequestBodySize: this.limits.maxBodyBytes,
      onsessioninitialized: (id) => {
        session = { id, server, transport, lastSeen: Date.now(), active: 1, streamOpen: false, missed: new Set() };
        this.sessions.set(id, session);
        this.logger.info({ session: id, sessions: this.sessions.size }, 'MCP session started');
      },
      onsessionclosed: (id) => this.logger.info({ session: id }, 'MCP session ended by client'),
    });
    transport.onclose = () => {
      const id = transport.sessionId;
      if (id !== undefined && this.sessions.get(id)?.transport === transport) this.sessions.delete(id);
    };
    await server.connect(transport);
    answerInvalidParams(transport, (err) => this.logger.warn({ reason: (err as Error).message }, 'MCP: could not send an Invalid params answer'));
    try {
      await transport.handleRequest(req, res, body);
    } finally {
      if (session) {
        session.active--;
        session.lastSeen = Date.now();
      } else {
        // The initialize request was refused: no session was created.
        await server.close().catch(() => undefined);
      }
    }
  }

  private makeRoom(): void {
    if (this.sessions.size < this.limits.maxSessions) return;
    const idle = [...this.sessions.values()].filter((s) => s.active === 0).sort((a, b) => a.lastSeen - b.lastSeen);
    const victim = idle[0] ?? [...this.sessions.values()].sort((a, b) => a.lastSeen - b.lastSeen)[0];
    if (victim) void this.end(victim, 'too many sessions');
  }

  private reapIdle(): void {
    const cutoff = Date.now() - this.limits.idleMs;
    for (const session of this.sessions.values()) {
      if (session.active === 0 && session.lastSeen < cutoff) void this.end(session, 'idle');
    }
  }

  private async end(session: Session, reason: string): Promise<void> {
    this.sessions.delete(session.id);
    this.logger.info({ session: session.id, reason }, 'MCP session closed');
    await session.server.close().catch(() => undefined);
  }
}

/** What the SDK's own transport answers for an unknown session id. */
const SESSION_NOT_FOUND = -32001;

function reject(res: ServerResponse, status: number, code: number, message: string): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const body = JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
}

type ReadResult = { ok: true; value: unknown } | { ok: false; status: number; message: string };

async function readJson(req: IncomingMessage, maxBytes: number): Promise<ReadResult> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > maxBytes) return { ok: false, status: 413, message: `request body larger than ${maxBytes} bytes` };
    chunks.push(buffer);
  }
  try {
    return { ok: true, value: JSON.parse(Buffer.concat(chunks).toString('utf8')) };
  } catch {
    return { ok: false, status: 400, message: 'Parse error: the request body is not JSON' };
  }
}
