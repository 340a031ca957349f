/**
 * What root in a `kubectl debug` container can do to the airlock, against the real kernel. The
 * security context is the one the webhook stores for the ephemeral container (its own code,
 * decideUpdate), turned into what a container runtime gives root: the runtime's default
 * capabilities minus the drops, plus no_new_privs when allowPrivilegeEscalation is false. A
 * network namespace with `airlock-sidecar firewall` applied stands in for the pod.
 *
 * With the runtime's defaults (what the webhook stored before it hardened ephemeral containers)
 * root becomes the sidecar's UID and leaves through the firewall, opens packet sockets that
 * iptables never sees, and reads the sidecar's files through /proc/<pid>/root. With the stored
 * context none of that works. Needs root, like the rest of this tier.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { V1Pod, V1SecurityContext } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decideUpdate, injectPod } from '../../../operator/src/webhook/index.js';
import { testPod, testSandbox, testSettings } from '../../../operator/src/webhook/test-fixtures.js';
import { startEchoServers, type EchoServers } from './echo.js';
import { createNamespace, preflight, requireBinary, run, SYSTEM_PATH, type TestNamespace } from './netns.js';

const root = join(import.meta.dirname, '../../..');
const firewallEntry = join(root, 'sidecar/src/firewall/cli-entry.ts');
const SIDECAR_UID = 64_541;
const tools = preflight();
const perl = requireBinary('perl');

/** The capabilities containerd and CRI-O give a container that asks for nothing. */
const RUNTIME_DEFAULT_CAPABILITIES = ['CHOWN', 'DAC_OVERRIDE', 'FSETID', 'FOWNER', 'MKNOD', 'NET_RAW', 'SETGID', 'SETUID', 'SETFCAP', 'SETPCAP', 'NET_BIND_SERVICE', 'SYS_CHROOT', 'KILL', 'AUDIT_WRITE'];

/** The security context the webhook stores for a debug container added to an injected pod. */
function storedDebugContext(): V1SecurityContext {
  const settings = testSettings({ sidecarUID: SIDECAR_UID });
  const before = injectPod(testPod(), testSandbox('research'), settings).pod;
  const after: V1Pod = structuredClone(before);
  // kubectl debug --profile=baseline --target=agent: no security context of its own.
  after.spec!.ephemeralContainers = [{ name: 'debugger', image: 'busybox', targetContainerName: 'agent' }];
  const decision = decideUpdate(before, after, settings);
  expect(decision.refusals).toEqual([]);
  return decision.mutated?.spec?.ephemeralContainers?.[0]?.securityContext ?? {};
}

/** setpriv arguments that make a process what a runtime makes root in a container with `sc`. */
function asRootContainer(sc: V1SecurityContext): string[] {
  const normalize = (cap: string) => cap.toUpperCase().replace(/^CAP_/, '');
  const dropped = new Set((sc.capabilities?.drop ?? []).map(normalize));
  const caps = [...RUNTIME_DEFAULT_CAPABILITIES, ...(sc.capabilities?.add ?? []).map(normalize)].filter((cap) => !dropped.has(cap) && !dropped.has('ALL'));
  // Root's permitted set after exec is its bounding set: the bounding set is the container's set.
  const bounding = ['-all', ...caps.map((cap) => `+${cap.toLowerCase()}`)].join(',');
  return [tools.setpriv, '--reuid=0', '--regid=0', '--clear-groups', `--bounding-set=${bounding}`, '--inh-caps=-all', ...(sc.allowPrivilegeEscalation === false ? ['--no-new-privs'] : []), '--'];
}

/** Runs `argv` in the namespace as root in a container with `sc`. */
const inContainer = (ns: TestNamespace, sc: V1SecurityContext, argv: string[]) => run(tools.ip, ['netns', 'exec', ns.name, ...asRootContainer(sc), ...argv]);

/** The attacker's step: become the sidecar's UID, then run `argv`. */
const asSidecarUid = (argv: string[]) => [tools.setpriv, `--reuid=${SIDECAR_UID}`, `--regid=${SIDECAR_UID}`, '--clear-groups', '--', ...argv];

/** A TCP connect from node: prints `connected` or the error code. */
const connect = (host: string, port: number) => [process.execPath, '-e', `require('net').connect(${port}, '${host}').on('connect', () => { console.log('connected'); process.exit(0); }).on('error', (e) => { console.log(e.code); process.exit(3); }); setTimeout(() => { console.log('timeout'); process.exit(4); }, 1500);`];

/** Opens an AF_PACKET raw socket (frames that never meet iptables); perl is in every Debian. */
const packetSocket = [perl, '-e', 'socket(my $s, 17, 3, 0) or die "packet socket: $!\\n"; print "open\\n"'];

describe('root in a kubectl debug container', () => {
  let ns: TestNamespace;
  let servers: EchoServers;
  let sidecar: ChildProcess;
  const stored = storedDebugContext();

  beforeAll(async () => {
    ns = await createNamespace(tools.ip, 'debug');
    servers = await startEchoServers([ns.hosts.a4]);
    // The firewall with no allow entries: only the sidecar UID leaves the namespace.
    const applied = await run(tools.ip, ['netns', 'exec', ns.name, process.execPath, '--import', 'tsx', firewallEntry, '--sidecar-uid', String(SIDECAR_UID)], { cwd: root, env: { ...process.env, PATH: SYSTEM_PATH } });
    expect(applied.code, applied.stderr).toBe(0);
    // A process of the sidecar's UID in the same PID namespace, as with --target=airlock-sidecar.
    sidecar = spawn(tools.ip, ['netns', 'exec', ns.name, tools.setpriv, `--reuid=${SIDECAR_UID}`, `--regid=${SIDECAR_UID}`, '--clear-groups', '--', 'sleep', '300'], { stdio: 'ignore' });
    await new Promise((resolve) => setTimeout(resolve, 200));
  });

  afterAll(async () => {
    sidecar?.kill('SIGKILL');
    await servers?.close();
    await ns?.remove();
  });

  it('is stored by the webhook with no privilege escalation and without NET_RAW, SETUID and SETGID', () => {
    expect(stored.allowPrivilegeEscalation).toBe(false);
    expect(stored.capabilities?.drop).toEqual(expect.arrayContaining(['NET_ADMIN', 'NET_RAW', 'SETUID', 'SETGID']));
    expect(stored.runAsUser).not.toBe(SIDECAR_UID);
  });

  it('cannot leave through the firewall as root, nor become the sidecar UID to leave', async () => {
    const direct = await inContainer(ns, stored, connect(ns.hosts.a4, servers.port));
    expect(direct.stdout.trim()).not.toBe('connected');
    const escaped = await inContainer(ns, stored, asSidecarUid(connect(ns.hosts.a4, servers.port)));
    expect(escaped.code).not.toBe(0);
    expect(escaped.stderr).toMatch(/setresuid failed: Operation not permitted/);
    // With the runtime's defaults the same two steps get out: the drop is what closes the hole.
    const before = await inContainer(ns, {}, asSidecarUid(connect(ns.hosts.a4, servers.port)));
    expect(before.stdout.trim(), before.stderr).toBe('connected');
  });

  it('cannot open a packet socket that would send frames past iptables', async () => {
    const hardened = await inContainer(ns, stored, packetSocket);
    expect(hardened.code).not.toBe(0);
    expect(hardened.stderr).toContain('packet socket: Operation not permitted');
    const before = await inContainer(ns, {}, packetSocket);
    expect(before.stdout.trim(), before.stderr).toBe('open');
  });

  it("cannot read the sidecar's files through /proc/<pid>/root, directly or as the sidecar UID", async () => {
    const rootDir = `/proc/${sidecar.pid}/root/`;
    const direct = await inContainer(ns, stored, ['ls', rootDir]);
    expect(direct.code).not.toBe(0);
    expect(direct.stderr).toContain('Permission denied');
    const asSidecar = await inContainer(ns, stored, asSidecarUid(['ls', rootDir]));
    expect(asSidecar.code).not.toBe(0);
    const before = await inContainer(ns, {}, asSidecarUid(['ls', rootDir]));
    expect(before.code, before.stderr).toBe(0);
    expect(before.stdout).toContain('etc');
  });
});
