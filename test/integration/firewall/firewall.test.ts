/**
 * `airlock-sidecar firewall` against the real kernel: a network namespace stands in for the
 * agent pod, a veth pair for its network, echo servers in the root namespace for the outside.
 * Processes run inside the namespace as the agent's and the sidecar's UIDs and try to get out.
 * Needs root and the packages of test/setup/install-debian-packages.sh; never touches the root
 * namespace's rules and never sends a packet off this machine.
 *
 * The scenario runs once per iptables flavour, each in its own namespace: auto picks nft here,
 * and legacy is what older nodes and some other init containers use. The tests of one flavour
 * share the namespace and run in order: before the firewall, applying it, what it lets through,
 * re-applying, failing to apply. Every probe of one firewall state runs at once, so a scenario
 * waits out the probe timeout only twice.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EchoServers, type Probed, probeAs, startEchoServers, type Target, targets } from './echo.js';
import { createNamespace, preflight, type Ran, requireBinary, run, SYSTEM_PATH, type TestNamespace } from './netns.js';

const root = join(import.meta.dirname, '../../..');
const entry = join(root, 'sidecar/src/firewall/cli-entry.ts');

const SIDECAR_UID = 64_531;
const AGENT_UID = 64_532;
/** The airlock-tools container's UID, whose stdio MCP servers keep the sidecar's egress. */
const TOOLS_UID = 64_533;
const LOOPBACK = targets(['127.0.0.1', '::1'], 0);

const tools = preflight();

/**
 * Outcomes by "proto host:port", so a failure shows every probe at once. EPERM and silence both
 * mean the packet never left: a dropped UDP send fails at once, while the kernel retransmits a
 * dropped TCP SYN until the probe gives up.
 */
function outcomes(probed: readonly Probed[]): Record<string, string> {
  return Object.fromEntries(probed.map((p) => [key(p), p.outcome === 'blocked' || p.outcome === 'timeout' ? 'dropped' : p.outcome]));
}

function every(probed: readonly Probed[], outcome: 'echoed' | 'dropped'): Record<string, string> {
  return Object.fromEntries(probed.map((p) => [key(p), outcome]));
}

function key(p: Target): string {
  return `${p.proto} ${p.host}:${p.port || 'loopback'}`;
}

describe.each(['nft', 'legacy'] as const)('airlock-sidecar firewall with the %s iptables tools', (backend) => {
  let ns: TestNamespace;
  let servers: { p: EchoServers; q: EchoServers };
  let scratch: string;

  /** Runs the firewall command inside the namespace, as root unless a UID is given. */
  function firewall(args: readonly string[], options: { uid?: number; path?: string } = {}): Promise<Ran> {
    const asUid = options.uid === undefined ? [] : [tools.setpriv, `--reuid=${options.uid}`, `--regid=${options.uid}`, '--clear-groups', '--'];
    return run(tools.ip, ['netns', 'exec', ns.name, ...asUid, process.execPath, '--import', 'tsx', entry, '--backend', backend, ...args], {
      cwd: root,
      // No tsx cache for another UID: it would leave a directory owned by that UID in /tmp.
      env: { ...process.env, PATH: options.path ?? SYSTEM_PATH, ...(options.uid === undefined ? {} : { TSX_DISABLE_CACHE: '1' }) },
    });
  }

  /** The filter table of one family inside the namespace, without dated comments and packet counters. */
  async function saved(family: 4 | 6): Promise<string> {
    const command = `${family === 4 ? 'iptables' : 'ip6tables'}-${backend}-save`;
    const result = await run(tools.ip, ['netns', 'exec', ns.name, command, '-t', 'filter']);
    expect(result.code, result.stderr).toBe(0);
    return result.stdout.replace(/^#.*\n/gm, '').replace(/\[\d+:\d+\]/g, '[0:0]');
  }

  const allowP = () => ['--sidecar-uid', String(SIDECAR_UID), '--tools-uid', String(TOOLS_UID), '--allow', `${ns.hosts.a4}/32:${servers.p.port}`, '--allow', `${ns.hosts.a6}/128:${servers.p.port}`];
  /** Port p on both hosts and port q on host a, both families, TCP and UDP. */
  const everyServer = () => [...targets([ns.hosts.a4, ns.hosts.b4, ns.hosts.a6, ns.hosts.b6], servers.p.port), ...targets([ns.hosts.a4, ns.hosts.a6], servers.q.port)];
  const neverReceived = (probed: readonly Probed[]) => probed.filter((p) => servers.p.received.has(p.token)).map(key);

  /** One UDP datagram as `uid` from a fixed source port; `echoed` once the server sent it back. */
  async function sendFrom(uid: number, host: string, port: number, sourcePort: number): Promise<{ outcome: string; token: string }> {
    const token = `airlock-reuse-${uid}-${randomUUID()}`;
    const script = `const s = require('node:dgram').createSocket(process.argv[1].includes(':') ? 'udp6' : 'udp4');
const done = (o) => { process.stdout.write(o); s.close(); };
const timer = setTimeout(() => done('timeout'), 1000);
s.on('message', (m) => { if (m.toString() === process.argv[4]) { clearTimeout(timer); done('echoed'); } });
s.bind(Number(process.argv[3]), () => s.send(process.argv[4], Number(process.argv[2]), process.argv[1], (e) => { if (e) { clearTimeout(timer); done(e.code === 'EPERM' ? 'blocked' : 'error:' + e.code); } }));`;
    const result = await run(tools.ip, ['netns', 'exec', ns.name, tools.setpriv, `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', '--', process.execPath, '-e', script, host, String(port), String(sourcePort), token]);
    expect(result.code, result.stderr).toBe(0);
    return { outcome: result.stdout, token };
  }

  /** A TCP server inside the namespace as `uid`, connected to from outside: `answered` when its reply arrives. */
  async function answerInbound(uid: number, address: string): Promise<string> {
    const script = `const server = require('node:net').createServer((s) => { s.end('hello from inside'); server.close(); });
server.listen(0, process.argv[1], () => process.stdout.write(server.address().port + '\\n'));
setTimeout(() => process.exit(0), 3000);`;
    const child = spawn(tools.ip, ['netns', 'exec', ns.name, tools.setpriv, `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', '--', process.execPath, '-e', script, address], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const [line] = (await once(child.stdout, 'data')) as [Buffer];
      const socket = connect({ host: address, port: Number(String(line).trim()) });
      socket.setTimeout(2000, () => socket.destroy(new Error('timeout')));
      let got = '';
      for await (const chunk of socket) got += String(chunk);
      return got === 'hello from inside' ? 'answered' : `got ${JSON.stringify(got)}`;
    } catch (err) {
      return `error: ${(err as Error).message}`;
    } finally {
      child.kill();
    }
  }

  /**
   * A TCP listener of `listenerUid` on `address` inside the namespace, and one connection to it
   * from `clientUid`: how the connect ended, and how many connections the listener accepted.
   */
  async function connectToListener(listenerUid: number, clientUid: number, address: string): Promise<{ outcome: string; accepted: number }> {
    const listener = `let accepted = 0; const server = require('node:net').createServer((s) => { accepted += 1; s.destroy(); });
server.listen(0, process.argv[1], () => process.stdout.write(server.address().port + '\\n'));
process.stdin.on('data', () => setImmediate(() => { process.stdout.write('accepted ' + accepted + '\\n'); process.exit(0); }));`;
    const server = spawn(tools.ip, ['netns', 'exec', ns.name, tools.setpriv, `--reuid=${listenerUid}`, `--regid=${listenerUid}`, '--clear-groups', '--', process.execPath, '-e', listener, address], { stdio: ['pipe', 'pipe', 'inherit'] });
    try {
      const [line] = (await once(server.stdout, 'data')) as [Buffer];
      const client = `const s = require('node:net').connect({ host: process.argv[1], port: Number(process.argv[2]) });
const done = (o) => { process.stdout.write(o); process.exit(0); };
s.on('connect', () => done('connected')); s.on('error', (e) => done(e.code === 'ECONNREFUSED' ? 'refused' : 'error:' + e.code)); setTimeout(() => done('timeout'), 2000);`;
      const result = await run(tools.ip, ['netns', 'exec', ns.name, tools.setpriv, `--reuid=${clientUid}`, `--regid=${clientUid}`, '--clear-groups', '--', process.execPath, '-e', client, address, String(line).trim()]);
      // The connection is in the listener's accept queue before it is asked: it answers after the
      // turn of its event loop that read the question, whose poll also accepted what was queued
      // (a fixed 100 ms wait raced two dozen processes starting at once on a loaded machine).
      server.stdin.write('count\n');
      const [answer] = (await once(server.stdout, 'data')) as [Buffer];
      return { outcome: result.stdout, accepted: Number(/accepted (\d+)/.exec(String(answer))?.[1]) };
    } finally {
      server.kill();
    }
  }

  /** Sets `net.ipv4.tcp_syncookies` (both families) inside the namespace. */
  async function syncookies(value: 0 | 1 | 2): Promise<void> {
    const result = await run(tools.ip, ['netns', 'exec', ns.name, 'sysctl', '-q', '-w', `net.ipv4.tcp_syncookies=${value}`]);
    expect(result.code, result.stderr).toBe(0);
  }

  beforeAll(async () => {
    ns = await createNamespace(tools.ip, backend);
    const received = new Set<string>();
    const everywhere = [ns.hosts.a4, ns.hosts.b4, ns.hosts.a6, ns.hosts.b6];
    servers = { p: await startEchoServers(everywhere, received), q: await startEchoServers(everywhere, received) };
    scratch = await mkdtemp(join(tmpdir(), 'airlock-fw-'));
  });

  afterAll(async () => {
    await servers?.p.close();
    await servers?.q.close();
    if (scratch) await rm(scratch, { recursive: true, force: true });
    await ns?.remove();
  });

  it('reaches every server from the namespace before the firewall, as any UID', async () => {
    const probed = await probeAs(tools, ns.name, AGENT_UID, everyServer());
    expect(outcomes(probed)).toEqual(every(probed, 'echoed'));
  });

  it('prints the rules with --dry-run and applies nothing', async () => {
    const result = await firewall([...allowP(), '--dry-run']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('nothing applied');
    expect(result.stdout).toContain(`-A AIRLOCK_OUTPUT -m owner --uid-owner ${SIDECAR_UID} -j ACCEPT`);
    expect(await saved(4)).not.toContain('AIRLOCK');
    expect(await saved(6)).not.toContain('AIRLOCK');
  });

  it('applies the rules for IPv4 and IPv6 and prints them', async () => {
    const result = await firewall(allowP());
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`applied with the ${backend} iptables tools`);
    expect(result.stdout).toContain(`# IPv4: iptables-${backend}-restore --noflush`);
    expect(result.stdout).toContain(`# IPv6: ip6tables-${backend}-restore --noflush`);
    expect(result.stdout).toContain(`-A AIRLOCK_OUTPUT -d ${ns.hosts.a4}/32 -p udp --dport ${servers.p.port} -j ACCEPT`);
    expect(result.stdout).toContain(`-A AIRLOCK_OUTPUT -d ${ns.hosts.a6}/128 -p tcp --dport ${servers.p.port} -j ACCEPT`);
    for (const family of [4, 6] as const) {
      const rules = (await saved(family)).split('\n');
      expect(rules.filter((l) => l.startsWith('-A OUTPUT'))).toEqual(['-A OUTPUT -j AIRLOCK_OUTPUT']);
      expect(rules.filter((l) => l.startsWith('-A AIRLOCK_OUTPUT')).at(-1)).toBe('-A AIRLOCK_OUTPUT -j DROP');
    }
  });

  describe('once applied', () => {
    let agent: Probed[];
    let rootAgent: Probed[];
    let sidecar: Probed[];
    let stdioServers: Probed[];

    beforeAll(async () => {
      const all = [...everyServer(), ...LOOPBACK];
      // A root agent without capabilities: Airlock drops NET_ADMIN from app containers, so root
      // can neither change the rules nor pass the owner match.
      const noCaps = ['--inh-caps=-all', '--bounding-set=-all'];
      [agent, rootAgent, sidecar, stdioServers] = await Promise.all([
        probeAs(tools, ns.name, AGENT_UID, all),
        probeAs(tools, ns.name, 0, all, noCaps),
        probeAs(tools, ns.name, SIDECAR_UID, all),
        probeAs(tools, ns.name, TOOLS_UID, all),
      ]);
    });

    const pick = (probed: Probed[], hosts: string[], port: () => number) => probed.filter((p) => hosts.includes(p.host) && p.port === port());

    it('lets no packet of an agent UID out to another host: TCP and UDP, IPv4 and IPv6', () => {
      for (const probed of [agent, rootAgent]) {
        const otherHost = pick(probed, [ns.hosts.b4, ns.hosts.b6], () => servers.p.port);
        expect(otherHost).toHaveLength(4);
        expect(outcomes(otherHost)).toEqual(every(otherHost, 'dropped'));
        expect(neverReceived(otherHost)).toEqual([]);
      }
    });

    it('opens exactly the allowed CIDR and port for the agent, and neither another port nor another host', () => {
      for (const probed of [agent, rootAgent]) {
        const allowed = pick(probed, [ns.hosts.a4, ns.hosts.a6], () => servers.p.port);
        expect(outcomes(allowed)).toEqual(every(allowed, 'echoed'));
        const closed = [...pick(probed, [ns.hosts.a4, ns.hosts.a6], () => servers.q.port), ...pick(probed, [ns.hosts.b4, ns.hosts.b6], () => servers.p.port)];
        expect(closed).toHaveLength(8);
        expect(outcomes(closed)).toEqual(every(closed, 'dropped'));
        expect(neverReceived(closed)).toEqual([]);
      }
    });

    it('lets the sidecar UID and the tools UID (stdio MCP servers) reach every host and port: TCP and UDP, IPv4 and IPv6', () => {
      for (const probed of [sidecar, stdioServers]) {
        const outside = probed.filter((p) => p.port !== 0);
        expect(outcomes(outside)).toEqual(every(outside, 'echoed'));
      }
    });

    it("lets no agent datagram out on the addresses and ports of a UDP flow the sidecar or airlock-tools opened (the sidecar's DNS queries, say)", async () => {
      // The pod's processes share one network namespace and see each other's sockets in
      // /proc/net/udp; once the sidecar's socket is closed its port is free to bind, and conntrack
      // still holds the flow as ESTABLISHED for 30 s.
      for (const owner of [SIDECAR_UID, TOOLS_UID]) {
        for (const host of [ns.hosts.b4, ns.hosts.b6]) {
          const sourcePort = 20_000 + Math.floor(Math.random() * 10_000);
          const first = await sendFrom(owner, host, servers.p.port, sourcePort);
          expect(first.outcome, `UID ${owner} to ${host}`).toBe('echoed');
          const reused = await sendFrom(AGENT_UID, host, servers.p.port, sourcePort);
          expect(reused.outcome, `agent reusing UID ${owner}'s flow to ${host}`).toBe('blocked');
          expect(servers.p.received.has(reused.token)).toBe(false);
        }
      }
    });

    it('still answers a connection that came in to the agent (replies of inbound flows pass)', async () => {
      const inbound = await answerInbound(AGENT_UID, ns.own.v4);
      expect(inbound).toBe('answered');
      expect(await answerInbound(AGENT_UID, ns.own.v6)).toBe('answered');
    });

    it("refuses the tools UID the pod's own address, where the agent may listen under a name the pod's creator chose (its hostname), and keeps loopback open to it", async () => {
      for (const address of [ns.own.v4, ns.own.v6]) {
        const own = await connectToListener(AGENT_UID, TOOLS_UID, address);
        expect(own, `tools UID to ${address}`).toEqual({ outcome: 'refused', accepted: 0 });
        // The sidecar's own connections by name are guarded in the sidecar (upstream/pod-addresses.ts).
        expect(await connectToListener(AGENT_UID, SIDECAR_UID, address), `sidecar UID to ${address}`).toEqual({ outcome: 'connected', accepted: 1 });
      }
      for (const address of ['127.0.0.1', '::1']) expect(await connectToListener(AGENT_UID, TOOLS_UID, address), `tools UID to ${address}`).toEqual({ outcome: 'connected', accepted: 1 });
    });

    it("answers no connection to a stdio server's listener (a browser's DevTools port) that the tools UID did not open itself, not even with a SYN cookie", async () => {
      // The agent would drive the listener, and through it the tools UID's open egress.
      for (const cookies of [1, 2] as const) {
        await syncookies(cookies);
        try {
          // Every connection of one setting at once, so the setting waits out the timeout once.
          const attempts: Array<[string, number, number, string, { outcome: string; accepted: number }]> = [];
          for (const address of ['127.0.0.1', '::1', ns.own.v4, ns.own.v6]) {
            attempts.push([`agent to a tools listener on ${address}`, TOOLS_UID, AGENT_UID, address, { outcome: 'timeout', accepted: 0 }]);
            attempts.push([`sidecar to a tools listener on ${address}`, TOOLS_UID, SIDECAR_UID, address, { outcome: 'timeout', accepted: 0 }]);
          }
          for (const address of ['127.0.0.1', '::1']) {
            // A browser server and its browser: both the tools UID.
            attempts.push([`tools UID to its own listener on ${address}`, TOOLS_UID, TOOLS_UID, address, { outcome: 'connected', accepted: 1 }]);
            // Under cookies for every SYN the other UIDs' loopback connections get no SYN-ACK
            // either (rules.ts, rule 2); with the default only an overflowing listener is slowed.
            if (cookies === 1) attempts.push([`sidecar to the agent on ${address}`, AGENT_UID, SIDECAR_UID, address, { outcome: 'connected', accepted: 1 }]);
          }
          const seen = await Promise.all(attempts.map(([, listener, client, address]) => connectToListener(listener, client, address)));
          const label = (what: string) => `${what}, tcp_syncookies=${cookies}`;
          expect(Object.fromEntries(attempts.map(([what], i) => [label(what), seen[i]]))).toEqual(Object.fromEntries(attempts.map(([what, , , , expected]) => [label(what), expected])));
        } finally {
          await syncookies(1);
        }
      }
    });

    it("gets the agent no answer from a tools-UID UDP service on loopback, also from the port of a tools-UID client that just closed (conntrack still holds its flow)", async () => {
      const service = `const s = require('node:dgram').createSocket('udp4'); s.on('message', (m, r) => s.send(m, r.port, r.address));
s.bind(0, '127.0.0.1', () => process.stdout.write(s.address().port + '\\n')); setTimeout(() => process.exit(0), 10000);`;
      const child = spawn(tools.ip, ['netns', 'exec', ns.name, tools.setpriv, `--reuid=${TOOLS_UID}`, `--regid=${TOOLS_UID}`, '--clear-groups', '--', process.execPath, '-e', service], { stdio: ['ignore', 'pipe', 'inherit'] });
      try {
        const [line] = (await once(child.stdout, 'data')) as [Buffer];
        const port = Number(String(line).trim());
        const sourcePort = 20_000 + Math.floor(Math.random() * 10_000);
        expect((await sendFrom(TOOLS_UID, '127.0.0.1', port, sourcePort)).outcome, "the tools UID's own client").toBe('echoed');
        expect((await sendFrom(AGENT_UID, '127.0.0.1', port, sourcePort)).outcome, "the agent on the tools client's port").not.toBe('echoed');
        expect((await sendFrom(AGENT_UID, '127.0.0.1', port, sourcePort + 1)).outcome, 'the agent on a port of its own').not.toBe('echoed');
      } finally {
        child.kill();
      }
    });

    it('keeps loopback open for the agent and the sidecar: TCP and UDP, IPv4 and IPv6', () => {
      for (const probed of [agent, rootAgent, sidecar]) {
        const loopback = probed.filter((p) => p.port === 0);
        expect(loopback).toHaveLength(4);
        expect(outcomes(loopback)).toEqual(every(loopback, 'echoed'));
      }
    });
  });

  it('leaves the same rules when run again', async () => {
    const before = { v4: await saved(4), v6: await saved(6) };
    const result = await firewall(allowP());
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('-D OUTPUT -j AIRLOCK_OUTPUT');
    expect({ v4: await saved(4), v6: await saved(6) }).toEqual(before);
  });

  it('replaces the allow entries when run with other arguments', async () => {
    const result = await firewall(['--sidecar-uid', String(SIDECAR_UID), '--allow', `${ns.hosts.a4}/32:${servers.q.port}`]);
    expect(result.code, result.stderr).toBe(0);
    const probed = await probeAs(tools, ns.name, AGENT_UID, [...targets([ns.hosts.a4], servers.p.port), ...targets([ns.hosts.a4], servers.q.port)]);
    expect(outcomes(probed)).toEqual({
      [`tcp ${ns.hosts.a4}:${servers.p.port}`]: 'dropped',
      [`udp ${ns.hosts.a4}:${servers.p.port}`]: 'dropped',
      [`tcp ${ns.hosts.a4}:${servers.q.port}`]: 'echoed',
      [`udp ${ns.hosts.a4}:${servers.q.port}`]: 'echoed',
    });
    expect((await firewall(allowP())).code).toBe(0);
  });

  it('exits 1 without iptables on PATH, saying to install it', async () => {
    const result = await firewall(allowP(), { path: join(scratch, 'empty') });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('the rules were NOT applied, so this pod must not start');
    expect(result.stderr).toContain(`iptables-${backend}-save failed: not found on PATH`);
    expect(result.stderr).toContain('Install iptables');
  });

  it('exits 1 without the privilege to change the rules', async () => {
    const result = await firewall(allowP(), { uid: AGENT_UID });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('the rules were NOT applied');
    expect(result.stderr).toMatch(/Permission denied|Operation not permitted/);
    expect(result.stderr).toContain('NET_ADMIN');
  });

  it('exits 1 when ip6tables fails while the kernel has IPv6', async () => {
    const bin = join(scratch, 'broken-ip6tables');
    await mkdir(bin);
    for (const tool of [`iptables-${backend}-save`, `iptables-${backend}-restore`, `ip6tables-${backend}-save`]) await symlink(requireBinary(tool), join(bin, tool));
    const broken = join(bin, `ip6tables-${backend}-restore`);
    await writeFile(broken, '#!/bin/sh\necho "ip6tables-restore: simulated failure" >&2\nexit 4\n');
    await chmod(broken, 0o755);

    const result = await firewall(allowP(), { path: bin });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`applying the IPv6 rules with ip6tables-${backend}-restore failed: exit 4: ip6tables-restore: simulated failure`);
  });
});
