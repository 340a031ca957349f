/**
 * Runs `airlock-sidecar stdio-host` (what the airlock-tools container runs) as its own process,
 * optionally under another UID, and waits for its socket.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));

/** A stdio host process. */
export interface HostProcess {
  socketPath: string;
  child: ChildProcess;
  /** Everything it logged. */
  logs(): string;
  /** SIGTERM, and waits for it to exit. */
  stop(): Promise<void>;
}

/**
 * Starts the host listening on `socketPath`. With `uid`/`gid` (root only) it runs as that user,
 * with only `env` (plus PATH and HOME) in its environment, as the tools container does.
 */
export async function startHostProcess(socketPath: string, options: { uid?: number; gid?: number; env?: Record<string, string> } = {}): Promise<HostProcess> {
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/tmp', TSX_DISABLE_CACHE: '1', ...options.env };
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'sidecar/src/cli.ts'), 'stdio-host', '--socket', socketPath], {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(options.uid === undefined ? {} : { uid: options.uid, gid: options.gid ?? options.uid }),
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (output.includes('stdio host listening')) break;
    if (child.exitCode !== null) throw new Error(`the stdio host exited with ${child.exitCode}: ${output}`);
    if (Date.now() > deadline) throw new Error(`the stdio host did not listen on ${socketPath}: ${output}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await access(socketPath);
  return {
    socketPath,
    child,
    logs: () => output,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
