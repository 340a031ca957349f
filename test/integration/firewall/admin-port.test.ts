/**
 * The sidecar's admin port against the agent, on a real kernel. The operator's usage round (ADR
 * 0014) and the kubelet's probes dial `status.podIP`, the pod's first address: on an IPv6-first
 * dual-stack cluster the IPv6 one. The agent is another UID in the same network namespace; if it
 * can listen on the admin port at that address, it answers the usage round with zero spend (the
 * sandbox's budget stops counting this pod) and answers the probes.
 *
 * A network namespace stands in for the pod, with the firewall the operator injects (its
 * arguments rendered by the operator's own code); the real sidecar runs in it as the sidecar
 * UID, a squatter as the agent's UID, and the test reads /usage from outside the way the operator
 * does (its own readSidecarReport). Once on a dual-stack pod (podIPs IPv6 first, then IPv4) and
 * once on an IPv6-only pod. Needs root and the packages of test/setup/install-debian-packages.sh.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmod, chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { readSidecarReport } from '../../../operator/src/usage/collector.js';
import { renderFirewall } from '../../../operator/src/webhook/render.js';
import { ADMIN_PORT } from '../../../operator/src/webhook/settings.js';
import { testSandbox, testSettings } from '../../../operator/src/webhook/test-fixtures.js';
import { until } from '../mcp/harness.js';
import { SQUATTER_INSTANCE } from './fixtures/admin-squatter.js';
import { createNamespace, must, preflight, run, SYSTEM_PATH, untilSidecarReady, type TestNamespace } from './netns.js';

const root = join(import.meta.dirname, '../../..');
const SIDECAR_UID = 64_551;
const AGENT_UID = 64_552;
const TOOLS_UID = 64_553;

const tools = preflight();

/** Runs `argv` in the namespace as `uid`, with the environment a container of the pod would have. */
function spawnAs(ns: TestNamespace, uid: number, argv: readonly string[]): ChildProcess & { output: () => string } {
  const child = spawn(tools.ip, ['netns', 'exec', ns.name, tools.setpriv, `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', '--', ...argv], {
    cwd: root,
    // No tsx cache for another UID: it would leave a directory owned by that UID in /tmp.
    env: { PATH: SYSTEM_PATH, HOME: '/tmp', TSX_DISABLE_CACHE: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (output += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (output += d));
  return Object.assign(child, { output: () => output });
}

/** What the operator would read from a pod address this round: the reporting instance, or why nothing. */
async function usageRound(ip: string): Promise<string> {
  try {
    return (await readSidecarReport(ip, ADMIN_PORT))?.instance ?? 'not 200';
  } catch {
    return 'no answer';
  }
}

/** A kubelet httpGet probe of /readyz at a pod address: the status, or no answer. */
async function probe(ip: string): Promise<number | 'no answer'> {
  const host = ip.includes(':') ? `[${ip}]` : ip;
  return fetch(`http://${host}:${ADMIN_PORT}/readyz`, { signal: AbortSignal.timeout(2_000) }).then(
    (r) => r.status,
    () => 'no answer' as const,
  );
}

describe.each([
  ['dual-stack (IPv6 first)', 'squat-dual', true],
  ['IPv6-only', 'v6-squat', false],
] as const)('the admin port of a %s pod', (_label, tag, ipv4) => {
  let ns: TestNamespace;
  let scratch: string;
  let podIPs: string[];
  const children: ChildProcess[] = [];

  /** Starts `airlock-sidecar run` as the sidecar UID; resolves once it answers on its socket. */
  async function startSidecar(): Promise<ChildProcess & { output: () => string }> {
    const child = spawnAs(ns, SIDECAR_UID, [process.execPath, '--import', 'tsx', join(root, 'sidecar/src/cli.ts'), 'run', '--config', join(scratch, 'config.yaml')]);
    children.push(child);
    await untilSidecarReady(join(scratch, 'airlock.sock'), child, child.output);
    return child;
  }

  /** Starts the squatter as the agent's UID on the admin port at each spec; resolves to what it got. */
  async function squat(specs: readonly string[]): Promise<{ child: ChildProcess; bound: string[]; refused: Record<string, string> }> {
    const child = spawnAs(ns, AGENT_UID, [process.execPath, join(import.meta.dirname, 'fixtures/admin-squatter.ts'), String(ADMIN_PORT), ...specs]);
    children.push(child);
    const line = await until(`the squatter to report: ${child.output()}`, () => child.output().split('\n').find((l) => l.startsWith('{')), 30_000);
    return { child, ...(JSON.parse(line) as { bound: string[]; refused: Record<string, string> }) };
  }

  async function stop(child: ChildProcess): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGKILL');
    await once(child, 'exit');
  }

  beforeAll(async () => {
    ns = await createNamespace(tools.ip, tag);
    if (!ipv4) await must(tools.ip, ['-n', ns.name, '-4', 'addr', 'flush', 'scope', 'global']);
    // status.podIPs as the kubelet lists them on an IPv6-first cluster; status.podIP is the first.
    podIPs = ipv4 ? [ns.own.v6, ns.own.v4] : [ns.own.v6];
    // The firewall exactly as the operator injects it.
    const [, , ...firewallArgs] = renderFirewall(testSandbox('squat'), testSettings({ sidecarUID: SIDECAR_UID, toolsUID: TOOLS_UID })).command!;
    const applied = await run(tools.ip, ['netns', 'exec', ns.name, process.execPath, '--import', 'tsx', join(root, 'sidecar/src/firewall/cli-entry.ts'), ...firewallArgs], { cwd: root, env: { ...process.env, PATH: SYSTEM_PATH } });
    expect(applied.code, applied.stderr).toBe(0);
    scratch = await mkdtemp(join(tmpdir(), `airlock-${tag}-`));
    await chmod(scratch, 0o755);
    await chown(scratch, SIDECAR_UID, SIDECAR_UID);
    // The admin listener as the operator renders it (listen.admin.host `pod`, the pod's port).
    await writeFile(
      join(scratch, 'config.yaml'),
      stringify({ version: 1, sandbox: { name: 'squat' }, listen: { socket: { path: join(scratch, 'airlock.sock') }, admin: { host: 'pod', port: ADMIN_PORT } }, providers: [], mcp: { backends: [] } }),
    );
  }, 120_000);

  afterEach(async () => {
    for (const child of children.splice(0)) await stop(child);
  });

  afterAll(async () => {
    await ns?.remove();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('with the sidecar running, the agent cannot listen on the admin port at any address of either family, with or without SO_REUSEPORT; every pod address reports the sidecar', async () => {
    const sidecar = await startSidecar();
    const addresses = [...podIPs, '::', '0.0.0.0', '127.0.0.1', '::1'];
    const specs = addresses.flatMap((a) => [a, `${a}+reuseport`, ...(a.includes(':') ? [`${a}+v6only`, `${a}+v6only+reuseport`] : [])]);
    const squatter = await squat(specs);
    for (const ip of podIPs) {
      const instance = await usageRound(ip);
      expect(instance, `the usage round at ${ip}`).toMatch(/^[a-z0-9-]{8,64}$/);
      expect(instance, `the usage round at ${ip}`).not.toBe(SQUATTER_INSTANCE);
      expect(await probe(ip), `the readiness probe at ${ip}`).toBe(200);
    }
    expect(squatter.refused).toEqual(Object.fromEntries(specs.map((spec) => [spec, 'EADDRINUSE'])));
    expect(sidecar.exitCode).toBeNull();
  }, 120_000);

  it('while the sidecar container restarts, the agent may take the port but answers neither the usage round nor the probes; the sidecar cannot start until it lets go', async () => {
    // The gap: the sidecar is gone (crashed, OOM-killed, restarting); the agent keeps running.
    const squatter = await squat(['::']);
    expect(squatter.bound).toEqual(['::']);
    for (const ip of podIPs) {
      expect(await usageRound(ip), `the usage round at ${ip}`).toBe('no answer');
      expect(await probe(ip), `the readiness probe at ${ip}`).toBe('no answer');
    }
    // The restarted sidecar finds its port taken and exits (the kubelet restarts it, the pod is not Ready).
    const blocked = spawnAs(ns, SIDECAR_UID, [process.execPath, '--import', 'tsx', join(root, 'sidecar/src/cli.ts'), 'run', '--config', join(scratch, 'config.yaml')]);
    children.push(blocked);
    const [code] = (await once(blocked, 'exit')) as [number | null];
    expect(code).not.toBe(0);
    expect(blocked.output()).toContain('EADDRINUSE');
    // Once the agent lets go, the sidecar starts and the firewall lets its answers out again.
    await stop(squatter.child);
    const sidecar = await startSidecar();
    for (const ip of podIPs) expect(await usageRound(ip), `the usage round at ${ip}`).toMatch(/^(?!squatter)[a-z0-9-]{8,64}$/);
    expect(sidecar.exitCode).toBeNull();
  }, 180_000);
});
