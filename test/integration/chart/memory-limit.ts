/**
 * A process under a memory limit the way the kubelet sets one: a memory cgroup of its own below
 * this test's cgroup, with the limit written in (cgroup v2 `memory.max` or v1
 * `memory.limit_in_bytes`), so going over it gets the process OOM-killed as in a pod.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A directory for a new memory cgroup with `limitBytes`, or an error saying why there is none. */
function createCgroup(name: string, limitBytes: number): string {
  const lines = readFileSync('/proc/self/cgroup', 'utf8').trim().split('\n');
  const v1 = lines.find((l) => l.split(':')[1]?.split(',').includes('memory'))?.split(':')[2];
  const v2 = lines.find((l) => l.startsWith('0::'))?.slice(3);
  const candidates = [
    ...(v1 !== undefined ? [{ dir: join('/sys/fs/cgroup/memory', v1, name), limit: 'memory.limit_in_bytes' }] : []),
    ...(v2 !== undefined ? [{ dir: join('/sys/fs/cgroup', v2, name), limit: 'memory.max' }, { dir: join('/sys/fs/cgroup/unified', v2, name), limit: 'memory.max' }] : []),
  ];
  const errors: string[] = [];
  for (const { dir, limit } of candidates) {
    try {
      mkdirSync(dir);
      if (!existsSync(join(dir, limit))) {
        rmdirSync(dir);
        errors.push(`${dir}: no ${limit} (memory controller not enabled there)`);
        continue;
      }
      writeFileSync(join(dir, limit), String(limitBytes));
      return dir;
    } catch (err) {
      errors.push(`${dir}: ${(err as Error).message}`);
    }
  }
  throw new Error(`cannot create a memory cgroup to run the operator under its limit (run as root on Linux with the memory controller):\n${errors.join('\n')}`);
}

export interface LimitedProcess {
  child: ChildProcess;
  output: string[];
  /** Resident memory (VmRSS) now, in bytes. */
  rss(): number;
  /** Peak resident memory (VmHWM), in bytes. */
  peakRss(): number;
  /** Whether the kernel OOM-killed something in the cgroup. */
  oomKilled(): boolean;
  stop(): Promise<void>;
}

/** Runs `command` inside a new memory cgroup limited to `limitBytes`. */
export function runLimited(name: string, limitBytes: number, command: string, args: string[], env: NodeJS.ProcessEnv): LimitedProcess {
  const dir = createCgroup(`${name}-${process.pid}-${Math.random().toString(36).slice(2, 6)}`, limitBytes);
  // The shell joins the cgroup, then becomes the process: no moment outside the limit.
  const child = spawn('/bin/sh', ['-c', `echo $$ > ${join(dir, 'cgroup.procs')} && exec "$@"`, 'sh', command, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  child.stdout!.on('data', (d: Buffer) => output.push(d.toString()));
  child.stderr!.on('data', (d: Buffer) => output.push(d.toString()));
  const status = (field: string) => {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
    return Number(match?.[1] ?? 0) * 1024;
  };
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    output,
    rss: () => status('VmRSS'),
    peakRss: () => status('VmHWM'),
    oomKilled() {
      const events = ['memory.events', 'memory.oom_control'].map((f) => join(dir, f)).find(existsSync);
      if (!events) return false;
      return /^oom_kill [1-9]/m.test(readFileSync(events, 'utf8'));
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      for (let i = 0; i < 20; i++) {
        try {
          rmdirSync(dir);
          return;
        } catch {
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
    },
  };
}
