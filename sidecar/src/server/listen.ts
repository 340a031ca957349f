/**
 * Listening on the Unix socket: the parent directory is created, a stale socket left by a
 * crashed sidecar is removed (but never a live one, nor a file that is not a socket), and the
 * socket gets the configured mode and group so the agent's UID can connect.
 */
import { connect } from 'node:net';
import { dirname } from 'node:path';
import { chmodAsync, chownAsync, lstatAsync, mkdirAsync, unlinkAsync } from '../fs-async.js';
import type { HttpApp } from './http/app.js';

export class SocketInUseError extends Error {
  constructor(readonly path: string) {
    super(`another process is serving ${path}; refusing to take it over`);
    this.name = 'SocketInUseError';
  }
}

/** Prepares the path and makes `app` listen on it with the given mode and group. */
export async function listenOnSocket(app: HttpApp, path: string, mode: string, group: number | undefined): Promise<void> {
  await mkdirAsync(dirname(path), { recursive: true });
  await removeStaleSocket(path);
  // Agents open connections in bursts (parallel tool loops): a deep accept queue keeps them from EAGAIN.
  await app.listen({ path, backlog: 4096 });
  await chmodAsync(path, parseInt(mode, 8));
  if (group !== undefined) await chownAsync(path, process.getuid?.() ?? 0, group);
}

/** Removes `path` if it is a socket nobody answers on. */
export async function removeStaleSocket(path: string): Promise<void> {
  const stats = await lstatAsync(path).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? undefined : Promise.reject(err)));
  if (!stats) return;
  if (!stats.isSocket()) throw new Error(`${path} exists and is not a socket; refusing to replace it`);
  const alive = await new Promise<boolean>((resolve) => {
    const socket = connect({ path });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
  if (alive) throw new SocketInUseError(path);
  await unlinkAsync(path);
}
