/**
 * A real network namespace joined to the root namespace by a veth pair, for the firewall tests.
 *
 *   root namespace  <host veth>  10.251.N.1, 10.251.N.3, fd61:6972:6c6b:N::1, ::3
 *         |
 *   test namespace  <ns veth>    10.251.N.2, fd61:6972:6c6b:N::2   (plus lo)
 *
 * Two addresses on the root side make two "hosts", so a test can show that an allow entry for
 * one leaves the other closed. N is picked so that no other run on this machine has it; names
 * carry the test process's PID, and namespaces left by a run that died are removed first.
 * Nothing leaves the machine: the subnets are private and routed only over the veth pair.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, fetch as undiciFetch } from 'undici';
import { until } from '../mcp/harness.js';

/** PATH for every command here: Debian keeps ip and iptables in the sbin directories. */
export const SYSTEM_PATH = [...(process.env.PATH ?? '').split(':').filter(Boolean), '/usr/local/sbin', '/usr/sbin', '/sbin', '/usr/bin', '/bin'].join(':');

const INSTALL_HINT = 'run `bash test/setup/install-debian-packages.sh` as root first';

/** Finds a binary on SYSTEM_PATH, or fails the test saying how to install it. */
export function requireBinary(name: string): string {
  for (const dir of SYSTEM_PATH.split(':')) {
    const path = join(dir, name);
    if (existsSync(path)) return path;
  }
  throw new Error(`the firewall tests need ${name}, which is not installed: ${INSTALL_HINT}`);
}

/** Fails the test unless it can create namespaces and has the tools for it. */
export function preflight(): { ip: string; setpriv: string } {
  if (process.getuid?.() !== 0) throw new Error('the firewall tests create network namespaces and need root (CI runs them as root)');
  for (const tool of ['iptables-nft-restore', 'iptables-legacy-restore', 'ip6tables-nft-restore', 'ip6tables-legacy-restore']) requireBinary(tool);
  return { ip: requireBinary('ip'), setpriv: requireBinary('setpriv') };
}

/** The outcome of a finished command. */
export interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion (killed after timeoutMs); never rejects on a non-zero exit. */
export function run(command: string, args: readonly string[], options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {}): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd ?? '/',
      env: options.env ?? { ...process.env, PATH: SYSTEM_PATH },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: options.timeoutMs ?? 30_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Runs a command that must succeed, throwing with its stderr otherwise. */
export async function must(command: string, args: readonly string[]): Promise<string> {
  const result = await run(command, args);
  if (result.code !== 0) throw new Error(`${command} ${args.join(' ')} failed (exit ${result.code}): ${result.stderr.trim()}`);
  return result.stdout;
}

/** A live test namespace and the addresses on both ends of its veth pair. */
export interface TestNamespace {
  name: string;
  /** Root-namespace addresses: `a` and `b` are two hosts the namespace can reach. */
  hosts: { a4: string; b4: string; a6: string; b6: string };
  /** The namespace's own addresses. */
  own: { v4: string; v6: string };
  /** Deletes the namespace (and with it the veth pair). Safe to call twice. */
  remove(): Promise<void>;
}

const NS_PREFIX = 'airlock-fw-';

/**
 * Creates a namespace with a veth pair to the root namespace; `tag` keeps the names of several
 * namespaces of one run apart. On any failure what was created is removed before rethrowing.
 */
export async function createNamespace(ip: string, tag: string): Promise<TestNamespace> {
  await removeStaleNamespaces(ip);
  const n = await freeSubnet(ip, tag);
  const name = `${NS_PREFIX}${process.pid}-${tag}`;
  // Interface names have at most 15 characters.
  const hostIf = `afw${process.pid % 100_000}${tag[0]}h`;
  const nsIf = `afw${process.pid % 100_000}${tag[0]}n`;
  const v6 = `fd61:6972:6c6b:${n.toString(16)}`;
  const ns: TestNamespace = {
    name,
    hosts: { a4: `10.251.${n}.1`, b4: `10.251.${n}.3`, a6: `${v6}::1`, b6: `${v6}::3` },
    own: { v4: `10.251.${n}.2`, v6: `${v6}::2` },
    async remove() {
      // The veth pair goes with the namespace; deleting the host end covers a half-made setup.
      const results = [await run(ip, ['netns', 'delete', name]), await run(ip, ['link', 'delete', hostIf])];
      const netnsLeft = (await run(ip, ['netns', 'list'])).stdout.split('\n').some((line) => line.split(' ')[0] === name);
      if (netnsLeft) throw new Error(`could not delete network namespace ${name}: ${results[0]!.stderr.trim()}`);
    },
  };
  try {
    await must(ip, ['netns', 'add', name]);
    await must(ip, ['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf]);
    await must(ip, ['link', 'set', nsIf, 'netns', name]);
    for (const address of [`${ns.hosts.a4}/24`, `${ns.hosts.b4}/24`]) await must(ip, ['addr', 'add', address, 'dev', hostIf]);
    // nodad: duplicate address detection would leave the addresses unusable for a second or two.
    for (const address of [`${ns.hosts.a6}/64`, `${ns.hosts.b6}/64`]) await must(ip, ['-6', 'addr', 'add', address, 'dev', hostIf, 'nodad']);
    await must(ip, ['link', 'set', hostIf, 'up']);
    await must(ip, ['-n', name, 'addr', 'add', `${ns.own.v4}/24`, 'dev', nsIf]);
    await must(ip, ['-n', name, '-6', 'addr', 'add', `${ns.own.v6}/64`, 'dev', nsIf, 'nodad']);
    await must(ip, ['-n', name, 'link', 'set', nsIf, 'up']);
    await must(ip, ['-n', name, 'link', 'set', 'lo', 'up']);
  } catch (err) {
    await ns.remove();
    throw err;
  }
  return ns;
}

/** Deletes namespaces of earlier runs whose process is gone (a run killed before its cleanup). */
async function removeStaleNamespaces(ip: string): Promise<void> {
  const listed = await must(ip, ['netns', 'list']);
  for (const line of listed.split('\n')) {
    const match = new RegExp(`^(${NS_PREFIX}(\\d+)-\\S+)`).exec(line);
    if (match && !processAlive(Number(match[2]))) await run(ip, ['netns', 'delete', match[1]!]);
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * A third octet no address on this machine uses yet. The search starts from the PID and the tag,
 * because test files may run at once in worker threads of one process and look at the same time.
 */
async function freeSubnet(ip: string, tag: string): Promise<number> {
  const addresses = await must(ip, ['-o', 'addr', 'show']);
  const start = process.pid + [...tag].reduce((sum, c) => sum * 31 + c.charCodeAt(0), 0);
  for (let i = 0; i < 250; i++) {
    const n = 1 + ((start + i * 7) % 250);
    if (!addresses.includes(`10.251.${n}.`) && !addresses.includes(`fd61:6972:6c6b:${n.toString(16)}:`)) return n;
  }
  throw new Error('no free 10.251.N.0/24 test subnet on this machine');
}

/** Waits until a sidecar started as `child` answers /readyz on its socket; fails with its output when it does not, or exits. */
export async function untilSidecarReady(socketPath: string, child: ChildProcess, output: () => string): Promise<void> {
  const agent = new Agent({ connect: { socketPath } });
  try {
    await until(
      `the sidecar to be ready: ${output()}`,
      async () => child.exitCode === null && (await undiciFetch('http://airlock.local/readyz', { dispatcher: agent }).then((r) => r.status === 200, () => false)),
      60_000,
    );
  } finally {
    await agent.close();
  }
}
