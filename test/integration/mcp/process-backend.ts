/**
 * The HTTP MCP server of fixtures/http-server.ts in a child process the test can kill (SIGKILL,
 * as a crash or an OOM kill would) and start again on the same port.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const script = fileURLToPath(new URL('./fixtures/http-server.ts', import.meta.url));

export type HttpTransport = 'streamable-http' | 'sse';

export interface ProcessBackend {
  url: string;
  /** The pid of the running process. */
  pid(): number;
  /** Kills the process (SIGKILL) and waits until it is gone. */
  kill(): Promise<void>;
  /** Starts it again on the same port; resolves once it accepts connections. */
  start(): Promise<void>;
  close(): Promise<void>;
}

/** Starts the fixture server speaking `transport` on a free port. */
export async function startProcessBackend(transport: HttpTransport): Promise<ProcessBackend> {
  let child: ChildProcess | undefined;
  let port = 0;
  const start = async () => {
    const next = spawn(process.execPath, [script, transport, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
    child = next;
    let out = '';
    next.stdout!.setEncoding('utf8');
    await new Promise<void>((resolve, reject) => {
      next.once('exit', (code) => reject(new Error(`fixture http-server exited with ${code} before listening: ${out}`)));
      next.stdout!.on('data', (chunk: string) => {
        out += chunk;
        const match = /listening (\d+)/.exec(out);
        if (match) {
          port = Number(match[1]);
          resolve();
        }
      });
    });
  };
  const kill = async () => {
    const current = child;
    if (!current || current.exitCode !== null || current.signalCode !== null) return;
    const exited = once(current, 'exit');
    current.kill('SIGKILL');
    await exited;
  };
  await start();
  return {
    url: `http://127.0.0.1:${port}${transport === 'sse' ? '/sse' : '/mcp'}`,
    pid: () => child?.pid ?? -1,
    kill,
    start,
    close: kill,
  };
}
