/**
 * A long-running child process (etcd, kube-apiserver) that logs to a file and cannot outlive
 * the test process that started it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { open, readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

const setpriv = '/usr/bin/setpriv';

/** Children still running, for the last-resort exit handler. */
const liveChildren = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of liveChildren) child.kill('SIGKILL');
});

/** A supervised process could not be started. */
export class ProcessStartError extends Error {
  override readonly name = 'ProcessStartError';
}

/**
 * One child process whose stdout and stderr go to a log file. It runs under
 * `setpriv --pdeathsig SIGKILL`, so the kernel kills it when the thread that spawned it dies
 * without cleaning up (a crashed or SIGKILLed test run), where `exit` handlers never run.
 * Because the signal follows the spawning thread, start these from a main thread (vitest's
 * default `forks` pool, or globalSetup), not from a worker thread that may end first.
 */
export class SupervisedProcess {
  /** How it exited, e.g. `code 1` or `signal SIGTERM`; undefined while running. */
  exitStatus: string | undefined;
  private readonly exited: Promise<void>;

  private constructor(
    readonly name: string,
    private readonly child: ChildProcess,
    readonly logPath: string,
  ) {
    liveChildren.add(child);
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitStatus = signal ? `signal ${signal}` : `code ${code}`;
        liveChildren.delete(child);
        resolve();
      });
    });
  }

  /**
   * Spawns `binary args...`, appending its output to `logPath`.
   * @throws {ProcessStartError} when it cannot be spawned (missing binary or setpriv).
   */
  static async start(name: string, binary: string, args: readonly string[], logPath: string): Promise<SupervisedProcess> {
    const log = await open(logPath, 'a');
    try {
      const child = spawn(setpriv, ['--pdeathsig', 'SIGKILL', '--', binary, ...args], { stdio: ['ignore', log.fd, log.fd] });
      const supervised = new SupervisedProcess(name, child, logPath);
      await new Promise<void>((resolve, reject) => child.once('spawn', resolve).once('error', reject)).catch((error: unknown) => {
        liveChildren.delete(child);
        throw new ProcessStartError(`cannot start ${name} through ${setpriv} (util-linux): ${String(error)}`, { cause: error });
      });
      return supervised;
    } finally {
      // The child holds its own descriptor for the log; ours is no longer needed.
      await log.close();
    }
  }

  /** The process id while it runs. */
  get pid(): number | undefined {
    return this.exitStatus === undefined ? this.child.pid : undefined;
  }

  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`; resolves once it has exited. */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.exitStatus !== undefined) return;
    this.child.kill('SIGTERM');
    const graceful = await Promise.race([this.exited.then(() => true), sleep(graceMs, false)]);
    if (!graceful) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }

  /** The last lines of the log, headed by the process name, for error messages. */
  async logTail(lines = 40): Promise<string> {
    const text = await readFile(this.logPath, 'utf8').catch((error: unknown) => `(cannot read ${this.logPath}: ${String(error)})`);
    return `--- last ${lines} lines of ${this.name} log (${this.logPath}) ---\n${text.trimEnd().split('\n').slice(-lines).join('\n')}`;
  }
}
