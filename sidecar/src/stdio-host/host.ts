/**
 * The stdio host: what the `airlock-tools` container runs (`airlock-sidecar stdio-host`). It
 * starts stdio MCP servers on the sidecar's behalf, under its own UID, in a container that holds
 * no provider key, no sidecar config and no service-account token, and bridges each child's
 * stdin, stdout and stderr over one Unix-socket connection (frames.ts).
 *
 * Whoever can connect may start any command as the tools UID; the socket lives in an emptyDir
 * only the sidecar and this container mount (admission refuses it to every other container), so
 * that is the sidecar alone, plus the host's own children, which already are that UID.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { chmodAsync, rmAsync } from '../fs-async.js';
import type { Logger } from '../log/logger.js';
import { CLOSE_GRACE_MS, decodeJson, encodeFrame, encodeJson, FrameDecoder, FrameType, SpawnRequest, type Exited, type Frame } from './frames.js';
import { spawnError } from './spawn-error.js';

/**
 * The environment a stdio server inherits from the host: the MCP SDK's `getDefaultEnvironment`
 * (sudo's list: HOME, LOGNAME, PATH, SHELL, TERM, USER; values that look like shell functions
 * skipped). Written out because importing it loads the SDK and zod, ~27 MiB of the host's memory
 * in every pod; host.test.ts holds it equal to the SDK's.
 */
export function inheritedEnvironment(source: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of ['HOME', 'LOGNAME', 'PATH', 'SHELL', 'TERM', 'USER']) {
    const value = source[key];
    if (value !== undefined && !value.startsWith('()')) env[key] = value;
  }
  return env;
}

/** A running host. */
export interface StdioHost {
  /** The socket path it listens on. */
  socketPath: string;
  /** Children running now. */
  children(): number;
  /** Stops listening and ends every child. */
  close(): Promise<void>;
}

/** Where the host registers the secret values of the processes it runs (the logger's SecretRegistry). */
export interface HostSecrets {
  set(owner: string, values: Iterable<string>): void;
}

/** Options of {@link startStdioHost}. */
export interface StdioHostOptions {
  socketPath: string;
  /** Scrubbed of `secrets`' values when it is built on them (cli.ts does): see {@link HostSecrets}. */
  logger: Logger;
  /** Each running process's secret env values (SpawnRequest.secretEnv) are registered here until it ends. */
  secrets?: HostSecrets | undefined;
}

/**
 * Listens on `socketPath` (replacing a stale socket left by a previous run of the container).
 * The socket is world-connectable: the mount, not the mode, keeps everyone else out, and the
 * sidecar runs under another UID and group.
 */
export async function startStdioHost(options: StdioHostOptions): Promise<StdioHost> {
  const { socketPath, logger, secrets } = options;
  const live = new Set<Bridge>();
  let connections = 0;
  await rmAsync(socketPath, { force: true });
  const server: Server = createServer((socket) => {
    const owner = `stdio-connection:${++connections}`;
    const bridge = new Bridge(socket, logger, (values) => secrets?.set(owner, values), () => {
      live.delete(bridge);
      secrets?.set(owner, []);
    });
    live.add(bridge);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  await chmodAsync(socketPath, 0o666);
  logger.info({ socket: socketPath }, 'stdio host listening');
  return {
    socketPath,
    children: () => [...live].filter((b) => b.running).length,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.all([...live].map((b) => b.end()));
      await closed;
    },
  };
}

/** One connection: at most one child, from its spawn frame to its exit. */
class Bridge {
  private readonly decoder = new FrameDecoder();
  private child: ChildProcess | undefined;
  private exited: Promise<void> | undefined;
  private ending: Promise<void> | undefined;
  private closed = false;
  private exitSent = false;
  /** The current second of stderr (Bridge.stderrShare): when it began, the bytes passed on and dropped in it. */
  private stderrWindow = -Infinity;
  private stderrSent = 0;
  private stderrDropped = 0;
  private log: Logger;

  constructor(
    private readonly socket: Socket,
    logger: Logger,
    private readonly registerSecrets: (values: string[]) => void,
    private readonly onDone: () => void,
  ) {
    this.log = logger;
    socket.on('data', (chunk: Buffer) => {
      let frames: Frame[];
      try {
        frames = this.decoder.push(chunk);
      } catch (err) {
        this.fail(err);
        return;
      }
      for (const frame of frames) this.handle(frame);
    });
    // The sidecar went away (it closed the backend, restarted, or crashed): its child goes too.
    socket.on('close', () => {
      void this.end().finally(onDone);
    });
    socket.on('error', (err) => this.log.debug({ err: err.message }, 'stdio host connection error'));
  }

  get running(): boolean {
    return this.child !== undefined && !this.closed;
  }

  private handle(frame: Frame): void {
    switch (frame.type) {
      case FrameType.spawn:
        if (this.child) return this.fail(new Error('a connection starts one process'));
        try {
          this.start(decodeJson(SpawnRequest, frame));
        } catch (err) {
          this.fail(err);
        }
        return;
      case FrameType.stdin:
        if (!this.child?.stdin) return this.fail(new Error('stdin before spawn'));
        if (!this.child.stdin.write(frame.payload)) {
          // Backpressure: stop reading the sidecar until the child has taken its input.
          this.socket.pause();
          this.child.stdin.once('drain', () => this.socket.resume());
        }
        return;
      case FrameType.stdinEnd:
        this.child?.stdin?.end();
        return;
      case FrameType.close:
        void this.end();
        return;
      default:
        this.fail(new Error(`frame type ${frame.type} is not for the host`));
    }
  }

  private start(request: SpawnRequest): void {
    this.log = this.log.child({ command: request.command });
    this.registerSecrets((request.secretEnv ?? []).flatMap((name) => request.env[name] ?? []));
    // The host's minimal environment (PATH, HOME, ...) plus what the backend was given, as the
    // SDK's StdioClientTransport builds it; the host's environment holds nothing secret either.
    let child: ChildProcess;
    try {
      child = spawn(request.command, request.args, {
        env: { ...inheritedEnvironment(), ...request.env },
        cwd: request.cwd,
        stdio: ['pipe', 'pipe', 'pipe'],
        shell: false,
      });
    } catch (err) {
      // Node's refusal quotes the value it refused (an env secret with a NUL byte, say).
      throw spawnError(request.command, err);
    }
    this.child = child;
    let started = false;
    let settle = () => {};
    this.exited = new Promise((resolve) => (settle = resolve));
    const finish = (exit: Exited) => {
      this.closed = true;
      this.sendExit(exit);
      settle();
    };
    child.once('close', (code, signal) => finish({ code, signal }));
    child.once('spawn', () => {
      started = true;
      this.log.info({ pid: child.pid }, 'stdio server started');
      this.socket.write(encodeJson(FrameType.spawned, { pid: child.pid ?? -1 }));
    });
    child.on('error', (err) => {
      // Before 'spawn' this is the reason it never ran (ENOENT, EACCES); 'close' follows.
      if (!started) finish({ code: null, signal: null, error: spawnError(request.command, err).message });
      else this.log.warn({ err: err.message }, 'stdio server error');
    });
    child.stdin?.on('error', () => {
      // EPIPE after the child exited; its 'close' reports the exit.
    });
    this.forward(child.stdout, FrameType.stdout);
    this.forward(child.stderr, FrameType.stderr);
  }

  private forward(stream: Readable | null, type: FrameType): void {
    stream?.on('data', (chunk: Buffer) => {
      if (this.socket.destroyed) return;
      if (type === FrameType.stderr) chunk = this.stderrShare(chunk);
      if (chunk.length === 0) return;
      if (!this.socket.write(encodeFrame(type, chunk))) {
        stream.pause();
        this.socket.once('drain', () => stream.resume());
      }
    });
  }

  /**
   * What of a chunk of the child's stderr is passed on: at most {@link STDERR_BYTES_PER_SECOND} a
   * second, the rest read and dropped here, in the tools container. A server writing stderr as fast
   * as it can kept the sidecar's one thread splitting and throttling lines (5 s of CPU in 8 s) even
   * once its log was bounded (red team 21); stderr is diagnostics, and a server's stdout, its MCP
   * messages, is never held back for it. The sidecar's log says how many lines it held back of
   * what arrives; what the host dropped it counts in its own log, once a second at most.
   */
  private stderrShare(chunk: Buffer): Buffer {
    const now = Date.now();
    if (now - this.stderrWindow >= 1000) {
      if (this.stderrDropped > 0) this.log.warn({ droppedBytes: this.stderrDropped }, 'stdio server stderr past its rate dropped');
      this.stderrWindow = now;
      this.stderrSent = 0;
      this.stderrDropped = 0;
    }
    const room = Math.max(0, STDERR_BYTES_PER_SECOND - this.stderrSent);
    const kept = chunk.length <= room ? chunk : chunk.subarray(0, room);
    this.stderrSent += kept.length;
    this.stderrDropped += chunk.length - kept.length;
    return kept;
  }

  private sendExit(exit: Exited): void {
    if (this.exitSent) return;
    this.exitSent = true;
    this.log.info({ code: exit.code, signal: exit.signal, error: exit.error }, 'stdio server exited');
    if (!this.socket.destroyed) this.socket.end(encodeJson(FrameType.exit, exit));
  }

  private fail(err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    this.log.warn({ err: message }, 'stdio host refused a connection');
    this.sendExit({ code: null, signal: null, error: message });
    void this.end();
  }

  /** Ends the child as the SDK's StdioClientTransport.close does: stdin, then SIGTERM, then SIGKILL. */
  end(): Promise<void> {
    this.ending ??= (async () => {
      const child = this.child;
      if (child && this.exited && this.running) {
        const gone = () => this.closed;
        child.stdin?.end();
        await Promise.race([this.exited, delay(CLOSE_GRACE_MS)]);
        if (!gone()) child.kill('SIGTERM');
        await Promise.race([this.exited, delay(CLOSE_GRACE_MS)]);
        if (!gone()) child.kill('SIGKILL');
        await this.exited;
      }
      if (!this.socket.destroyed) this.socket.end();
    })();
    return this.ending;
  }
}

/** A server's stderr passed on to the sidecar at most, a second: the sidecar logs 64 Ki characters of it a second (log/throttle.ts). */
export const STDERR_BYTES_PER_SECOND = 64 * 1024;

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());
