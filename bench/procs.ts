/** Child processes of the benchmark and what /proc says about them. */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';

const children: ChildProcess[] = [];
process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));

/** Starts a process that dies with the benchmark. */
export function start(command: string, args: string[], options: SpawnOptions = {}): ChildProcess {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'], ...options });
  children.push(child);
  return child;
}

/** Stops a child and waits for it. */
export async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  child.kill('SIGTERM');
  await once(child, 'close');
}

/** The first line a child prints. */
export async function firstLine(child: ChildProcess): Promise<string> {
  const lines = createInterface({ input: child.stdout! });
  const [line] = (await once(lines, 'line')) as [string];
  return line;
}

/**
 * Resident memory now, in MiB: `rss` and its high-water mark `hwm`, and what the RSS is made of
 * (/proc/<pid>/status): `anon` (heap, stacks, malloc: the process's own), `file` (mapped files,
 * mostly the node binary's pages, which every process started from the same file shares through
 * the page cache) and `shmem`. From /proc/<pid>/smaps_rollup: `pss`, each shared page divided by
 * the number of processes mapping it (what the process costs on a node where others share its
 * files), and `uss`, its private pages only (what stopping it would free).
 */
export interface Memory {
  rss: number;
  hwm: number;
  anon: number;
  file: number;
  shmem: number;
  pss: number;
  uss: number;
}

/** Reads `pid`'s resident memory (see Memory); smaps_rollup needs the same user as the process. */
export async function memory(pid: number): Promise<Memory> {
  const [status, rollup] = await Promise.all([readFile(`/proc/${pid}/status`, 'utf8'), readFile(`/proc/${pid}/smaps_rollup`, 'utf8')]);
  const mib = (text: string, field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0) / 1024;
  return {
    rss: mib(status, 'VmRSS'),
    hwm: mib(status, 'VmHWM'),
    anon: mib(status, 'RssAnon'),
    file: mib(status, 'RssFile'),
    shmem: mib(status, 'RssShmem'),
    pss: mib(rollup, 'Pss'),
    uss: mib(rollup, 'Private_Clean') + mib(rollup, 'Private_Dirty'),
  };
}

/** CPU time the process has used (user + system), in ms. */
export async function cpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command (which may contain spaces) start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return ticks * 10; // CLK_TCK is 100 on Linux
}
