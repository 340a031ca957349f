/**
 * One Python process per test file (test/python/driver.py in the cached venv) that runs named
 * cases on request, so a test file pays for interpreter and SDK start-up once. Each case runs the
 * official Python SDKs against the sidecar's socket (`AIRLOCK_SOCKET`) and answers with what the
 * Python user would see: a value, or the exception's class, message and status attributes.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { PYTHON_DIR, REQUIREMENTS, venvPython } from './venv.js';

/** What a Python exception looked like to the code that caught it. */
export interface PythonError {
  /** The exception class, e.g. `NotFoundError`. */
  class: string;
  module: string;
  /** The class and its bases, most specific first. */
  bases: string[];
  /** `str(error)`. */
  str: string;
  traceback: string;
  status_code?: number;
  code?: number | string;
  status?: string;
  message?: string;
  type?: string;
  param?: string;
  body?: unknown;
  details?: unknown;
  /** The Retry-After header of the HTTP response the error was raised for, when it had one. */
  retry_after?: string | null;
  /** An MCP error's JSON-RPC error object. */
  error?: { code: number; message: string; data?: unknown };
  /** The members of an exception group. */
  exceptions?: PythonError[];
}

/** The outcome of one case. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; error: PythonError };

/** Per-case options. */
export interface RunOptions {
  /** Another sidecar's socket: `AIRLOCK_SOCKET` for this case and the ones after it. */
  socket?: string;
}

export interface PythonDriver {
  /** Runs a case and resolves with its outcome (a Python exception is an outcome, not a rejection). */
  run<T = unknown>(name: string, args?: Record<string, unknown>, options?: RunOptions): Promise<Outcome<T>>;
  /** Runs a case that must succeed and resolves with its value; a Python exception rejects, with its traceback. */
  value<T = unknown>(name: string, args?: Record<string, unknown>, options?: RunOptions): Promise<T>;
  /** Runs a case that must raise and resolves with the exception. */
  error(name: string, args?: Record<string, unknown>, options?: RunOptions): Promise<PythonError>;
  /** What the process wrote to stderr so far. */
  stderr(): string;
  close(): Promise<void>;
}

/** How long the first (cold) venv build may take: pip downloads the SDKs. */
export const VENV_BUILD_TIMEOUT_MS = 15 * 60_000;

/** Starts driver.py with the given case modules, talking to the sidecar at `socketPath`, in the venv of `requirements`. */
export async function startPython(socketPath: string, modules: string[], env: Record<string, string> = {}, requirements = REQUIREMENTS): Promise<PythonDriver> {
  const python = await venvPython(requirements);
  const child: ChildProcessWithoutNullStreams = spawn(python, ['driver.py', ...modules], {
    cwd: PYTHON_DIR,
    env: { ...process.env, ...env, AIRLOCK_SOCKET: socketPath, PYTHONUNBUFFERED: '1', PYTHONDONTWRITEBYTECODE: '1' },
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const pending = new Map<number, (outcome: Outcome<unknown>) => void>();
  const lines = createInterface({ input: child.stdout });
  const exited = once(child, 'exit');
  const ready = new Promise<void>((resolve, reject) => {
    void exited.then(([code]) => {
      const failure = new Error(`driver.py exited with ${String(code)}: ${stderr.slice(-4000)}`);
      reject(failure);
      for (const settle of pending.values()) settle({ ok: false, error: { class: 'DriverExited', module: '', bases: [], str: failure.message, traceback: '' } });
      pending.clear();
    });
    lines.on('line', (line) => {
      const message = JSON.parse(line) as { ready?: string[]; id?: number } & Outcome<unknown>;
      if (message.ready) resolve();
      else if (message.id !== undefined) {
        pending.get(message.id)?.(message);
        pending.delete(message.id);
      }
    });
  });
  await ready;
  let next = 0;
  const run = <T>(name: string, args: Record<string, unknown> = {}, options: RunOptions = {}) =>
    new Promise<Outcome<T>>((resolve) => {
      const id = next++;
      pending.set(id, resolve as (outcome: Outcome<unknown>) => void);
      child.stdin.write(`${JSON.stringify({ id, case: name, args, ...options })}\n`);
    });
  return {
    run,
    async value<T>(name: string, args?: Record<string, unknown>, options?: RunOptions) {
      const outcome = await run<T>(name, args, options);
      if (!outcome.ok) throw new Error(`${name} raised ${outcome.error.class}: ${outcome.error.str}\n${outcome.error.traceback}`);
      return outcome.value;
    },
    async error(name: string, args?: Record<string, unknown>, options?: RunOptions) {
      const outcome = await run(name, args, options);
      if (outcome.ok) throw new Error(`${name} did not raise; it returned ${JSON.stringify(outcome.value)}`);
      return outcome.error;
    },
    stderr: () => stderr,
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.stdin.end();
      // A case still hanging (a test that timed out) must not hang the file's teardown too.
      const stuck = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(stuck);
    },
  };
}
