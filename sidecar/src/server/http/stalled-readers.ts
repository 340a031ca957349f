/**
 * Connections whose client stopped reading its answer. Whatever the sidecar wrote and the client
 * has not taken stays in the sidecar's memory (Node's write buffer, and the answer's share of the
 * answer budget: upstream/answer-budget.ts), and a relayed answer or stream waits on the client's
 * pace for ever: neither the provider's idleMs nor totalMs ends it, so a call the agent keeps
 * unread is never counted, and unread answers keep the answer budget full for every other client
 * of the pod (red team 19). A connection with bytes waiting to be written that made no progress
 * for `stallMs` (`listen.stalledReaderMs`) is closed: its calls end as a client that left ends them (counted as given up).
 * A stream that waits for its provider writes nothing and has nothing waiting: it is not touched.
 */
import type { Socket } from 'node:net';

/** What a connection had written when last looked at, and since when it had not moved. */
export interface Progress {
  written: number;
  since: number;
}

/**
 * The open connections of one server (./app.ts HttpApp keeps them, for closing and for this
 * watch), each with its {@link Progress}.
 */
export type Connections = Map<Socket, Progress>;

/** A new connection's entry in {@link Connections}. */
export function progressOf(socket: Socket): Progress {
  return { written: socket.bytesWritten, since: performance.now() };
}

/**
 * Closes the connections whose client takes nothing of what is waiting for it for `stallMs`. One
 * timer for the listener, only while it has connections (the registry tells {@link opened} and
 * {@link closed}); it keeps no process alive.
 */
export class StalledReaders {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly connections: Connections,
    private readonly stallMs: number,
  ) {}

  /** A connection was added to the registry. */
  opened(): void {
    this.timer ??= setInterval(() => this.look(), Math.max(10, this.stallMs / 4)).unref();
  }

  /** A connection was taken out of the registry. */
  closed(): void {
    if (this.connections.size === 0) this.stop();
  }

  /** The listener closed. */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private look(): void {
    const now = performance.now();
    for (const [socket, progress] of this.connections) {
      if (socket.writableLength === 0 || socket.bytesWritten !== progress.written) {
        progress.written = socket.bytesWritten;
        progress.since = now;
      } else if (now - progress.since >= this.stallMs) {
        socket.destroy();
      }
    }
  }
}
