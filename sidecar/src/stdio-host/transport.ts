/**
 * The sidecar's side of the stdio host: an MCP client transport with the semantics of the SDK's
 * StdioClientTransport (newline-delimited JSON-RPC, read with the bounds of mcp/stdio-read-buffer.ts, stderr as a
 * stream, `onclose` when the process is gone, close = stdin, SIGTERM, SIGKILL), except that the
 * process runs in the `airlock-tools` container and its pipes cross a Unix socket.
 */
import { connect, type Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import { serializeMessage } from '@modelcontextprotocol/sdk/shared/stdio.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { MAX_MESSAGE_BYTES } from '../mcp/client.js';
import { StdioReadBuffer } from '../mcp/stdio-read-buffer.js';
import type { AnswerBudget } from '../upstream/answer-budget.js';
import { CLOSE_GRACE_MS, decodeJson, encodeFrame, encodeJson, Exited, FrameDecoder, FrameType, Spawned, type Frame, type SpawnRequest } from './frames.js';

/** The host could not be reached: the pod has no `airlock-tools` container, or it is not up yet. */
export class StdioHostUnreachableError extends Error {
  constructor(socketPath: string, cause: unknown) {
    const code = (cause as NodeJS.ErrnoException | undefined)?.code ?? String(cause);
    super(`the stdio host at ${socketPath} is not reachable (${code}); stdio MCP servers run in the pod's airlock-tools container`);
    this.name = 'StdioHostUnreachableError';
  }
}

/** Client transport for one stdio MCP server started by the stdio host. */
export class HostedStdioTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;

  private readonly readBuffer: StdioReadBuffer;
  private readonly decoder = new FrameDecoder();
  private readonly stderrStream = new PassThrough();
  private socket: Socket | undefined;
  private childPid: number | undefined;
  private exit: Exited | undefined;
  private closedOnce = false;
  private socketClosed: Promise<void> = Promise.resolve();

  constructor(
    private readonly socketPath: string,
    private readonly server: SpawnRequest,
    answers?: AnswerBudget,
  ) {
    this.readBuffer = new StdioReadBuffer(answers, (message) => void this.send(message).catch(() => undefined), MAX_MESSAGE_BYTES, () => this.readMessages());
  }

  /** The child's stderr; available before `start` so no early line is lost. */
  get stderr(): PassThrough {
    return this.stderrStream;
  }

  /** The child's pid in the tools container, once started. */
  get pid(): number | null {
    return this.childPid ?? null;
  }

  /** How the child ended, once it has. */
  get exited(): Exited | undefined {
    return this.exit;
  }

  /** Connects to the host and starts the process; rejects when either fails, like a failed spawn. */
  async start(): Promise<void> {
    if (this.socket) throw new Error('HostedStdioTransport already started');
    const socket = connect(this.socketPath);
    this.socket = socket;
    this.socketClosed = new Promise((resolve) => socket.once('close', () => resolve()));
    await new Promise<void>((resolve, reject) => {
      let started = false;
      socket.once('error', (err) => {
        if (!started) reject(new StdioHostUnreachableError(this.socketPath, err));
      });
      socket.once('connect', () => {
        socket.write(encodeJson(FrameType.spawn, this.server));
      });
      socket.on('data', (chunk: Buffer) => {
        let frames: Frame[];
        try {
          frames = this.decoder.push(chunk);
        } catch (err) {
          this.onerror?.(err as Error);
          socket.destroy();
          return;
        }
        for (const frame of frames) {
          if (frame.type === FrameType.spawned && !started) {
            started = true;
            this.childPid = decodeJson(Spawned, frame).pid;
            resolve();
          } else if (frame.type === FrameType.exit) {
            this.exit = decodeJson(Exited, frame);
            // A spawn that failed rejects as the SDK's does, with the system's message.
            if (!started) reject(new Error(this.exit.error ?? `stdio server exited with code ${this.exit.code} before it started`));
          } else {
            this.receive(frame);
          }
        }
      });
      socket.on('error', (err) => {
        if (started) this.onerror?.(err);
      });
      socket.once('close', () => {
        this.stderrStream.end();
        this.readBuffer.clear();
        if (!started) reject(new Error(`the stdio host closed the connection before ${this.server.command} started`));
        if (!this.closedOnce) {
          this.closedOnce = true;
          this.onclose?.();
        }
      });
    });
  }

  private receive(frame: Frame): void {
    if (frame.type === FrameType.stderr) {
      this.stderrStream.write(frame.payload);
      return;
    }
    if (frame.type !== FrameType.stdout) return;
    this.readBuffer.append(frame.payload);
    this.readMessages();
  }

  /** Hands every message read and free to go to the client (a large one waits for its turn: StdioReadBuffer). */
  private readMessages(): void {
    try {
      for (;;) {
        let message: JSONRPCMessage | null;
        try {
          message = this.readBuffer.readMessage();
        } catch (err) {
          this.onerror?.(err as Error);
          continue;
        }
        if (message === null) break;
        this.onmessage?.(message);
      }
    } catch (err) {
      this.onerror?.(err as Error);
      void this.close();
    }
  }

  /** Writes one JSON-RPC message to the child's stdin, resolving once the socket took it. */
  send(message: JSONRPCMessage): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = this.socket;
      if (!socket || socket.destroyed || this.exit) {
        reject(new Error('Not connected'));
        return;
      }
      if (socket.write(encodeFrame(FrameType.stdin, serializeMessage(message)))) resolve();
      else socket.once('drain', resolve);
    });
  }

  /**
   * Ends the process: the host closes its stdin, then sends SIGTERM and SIGKILL after the SDK's
   * grace periods. Resolves once the host reported the exit, or after those periods in any case.
   */
  async close(): Promise<void> {
    const socket = this.socket;
    if (!socket || socket.destroyed) return;
    if (!this.exit) socket.write(encodeFrame(FrameType.close));
    const timer = new Promise<void>((resolve) => setTimeout(resolve, 3 * CLOSE_GRACE_MS).unref());
    await Promise.race([this.socketClosed, timer]);
    // The host ends a child whose connection drops, so destroying is safe even mid-grace.
    socket.destroy();
  }
}
