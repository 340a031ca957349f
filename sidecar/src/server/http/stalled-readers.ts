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
import type { Server } from 'node:http';
import type { Socket } from 'node:net';

/** What a connection had written when last looked at, and since when it had not moved. */
interface Progress {
  written: number;
  since: number;
}

/** Closes `server`'s connections whose client takes nothing of what is waiting for it for `stallMs`. */
export function dropStalledReaders(server: Server, stallMs: number): void {
  const connections = new Map<Socket, Progress>();
  let timer: NodeJS.Timeout | undefined;
  const look = () => {
    const now = performance.now();
    for (const [socket, progress] of connections) {
      if (socket.writableLength === 0 || socket.bytesWritten !== progress.written) {
        progress.written = socket.bytesWritten;
        progress.since = now;
      } else if (now - progress.since >= stallMs) {
        socket.destroy();
      }
    }
  };
  server.on('connection', (socket: Socket) => {
    connections.set(socket, { written: socket.bytesWritten, since: performance.now() });
    // One timer for the listener, only while it has connections; it keeps no process alive.
    timer ??= setInterval(look, Math.max(10, stallMs / 4)).unref();
    socket.once('close', () => {
      connections.delete(socket);
      if (connections.size === 0 && timer) {
        clearInterval(timer);
        timer = undefined;
      }
    });
  });
  server.once('close', () => clearInterval(timer));
}
