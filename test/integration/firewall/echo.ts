/**
 * TCP and UDP echo servers in the root namespace, and the probe that runs inside the test
 * namespace as a chosen UID. Each probe sends a unique token; the servers remember every token
 * that reached them, so a blocked probe is shown to have sent nothing out, not merely to have
 * had no answer.
 */
import { randomUUID } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { run } from './netns.js';

/** Echo servers listening on the same port, for TCP and UDP, on several addresses. */
export interface EchoServers {
  port: number;
  /** Every token that arrived, over any protocol and address. */
  received: Set<string>;
  close(): Promise<void>;
}

/**
 * Starts TCP and UDP echo servers on one port shared by all `addresses` (so an allow entry's
 * port opens both protocols). Retries with another port when one is taken.
 */
export async function startEchoServers(addresses: readonly string[], received = new Set<string>()): Promise<EchoServers> {
  for (let attempt = 0; ; attempt++) {
    const closers: Array<() => Promise<void>> = [];
    const close = async () => {
      await Promise.all(closers.map((c) => c()));
    };
    try {
      let port = 0;
      for (const address of addresses) {
        const tcp = createServer((socket) => {
          socket.setEncoding('utf8');
          socket.on('data', (data: string) => {
            received.add(data);
            socket.end(data);
          });
          socket.on('error', () => socket.destroy());
        });
        closers.push(() => new Promise((resolve) => tcp.close(() => resolve())));
        await new Promise<void>((resolve, reject) => tcp.once('error', reject).listen({ host: address, port }, resolve));
        port = (tcp.address() as { port: number }).port;
        const udp = createSocket(address.includes(':') ? 'udp6' : 'udp4');
        closers.push(
          () =>
            new Promise((resolve) => {
              // close() throws when bind failed and the socket is already closed: nothing to do then.
              try {
                udp.close(() => resolve());
              } catch {
                resolve();
              }
            }),
        );
        udp.on('message', (message, peer) => {
          received.add(message.toString());
          udp.send(message, peer.port, peer.address);
        });
        await new Promise<void>((resolve, reject) => udp.once('error', reject).bind({ address, port }, resolve));
      }
      return { port, received, close };
    } catch (err) {
      await close();
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 5) throw err;
    }
  }
}

/** One connection attempt: to a server in the root namespace, or to one the probe starts on loopback. */
export interface Target {
  proto: 'tcp' | 'udp';
  host: string;
  /** 0: the probe starts its own echo server on `host` (a loopback address) and uses its port. */
  port: number;
}

/** What happened: the token came back, the kernel refused to send (EPERM), or nothing within the bound. */
export type Outcome = 'echoed' | 'blocked' | 'timeout' | `error:${string}`;

/** A target, its token and its outcome. */
export interface Probed extends Target {
  token: string;
  outcome: Outcome;
}

/** How long a probe waits for an answer; an allowed echo over the veth takes milliseconds. */
export const PROBE_TIMEOUT_MS = 1_000;

// Runs under `node -e` as an unprivileged UID, so it is plain CommonJS and reads nothing from
// disk. A UDP datagram dropped in OUTPUT makes send() fail with EPERM at once; a dropped TCP SYN
// is retransmitted quietly, so a blocked connect() shows as a timeout.
const PROBE_SCRIPT = `
const net = require('node:net');
const dgram = require('node:dgram');
const [targets, timeoutMs] = [JSON.parse(process.argv[1]), Number(process.argv[2])];
const classify = (err) => (err.code === 'EPERM' ? 'blocked' : 'error:' + err.code);
function once(work) {
  return new Promise((resolve) => {
    let settled = false;
    const cleanups = [];
    const done = (outcome) => { if (!settled) { settled = true; cleanups.forEach((c) => c()); resolve(outcome); } };
    const timer = setTimeout(() => done('timeout'), timeoutMs);
    cleanups.push(() => clearTimeout(timer));
    work(done, cleanups);
  });
}
async function localServer(t) {
  if (t.proto === 'tcp') {
    const server = net.createServer((s) => s.pipe(s));
    await new Promise((r) => server.listen({ host: t.host, port: 0 }, r));
    return { port: server.address().port, close: () => server.close() };
  }
  const server = dgram.createSocket(t.host.includes(':') ? 'udp6' : 'udp4');
  server.on('message', (m, peer) => server.send(m, peer.port, peer.address));
  await new Promise((r) => server.bind({ address: t.host, port: 0 }, r));
  return { port: server.address().port, close: () => server.close() };
}
async function probe(t) {
  const local = t.port === 0 ? await localServer(t) : undefined;
  const port = local ? local.port : t.port;
  const outcome = await once((done, cleanups) => {
    if (t.proto === 'tcp') {
      const s = net.connect({ host: t.host, port });
      cleanups.push(() => s.destroy());
      let got = '';
      s.setEncoding('utf8');
      s.on('connect', () => s.write(t.token));
      s.on('data', (d) => { got += d; if (got === t.token) done('echoed'); });
      s.on('error', (e) => done(classify(e)));
    } else {
      const s = dgram.createSocket(t.host.includes(':') ? 'udp6' : 'udp4');
      cleanups.push(() => s.close());
      s.on('message', (m) => { if (m.toString() === t.token) done('echoed'); });
      s.on('error', (e) => done(classify(e)));
      s.send(t.token, port, t.host, (e) => { if (e) done(classify(e)); });
    }
  });
  if (local) local.close();
  return { ...t, outcome };
}
Promise.all(targets.map(probe)).then((results) => process.stdout.write(JSON.stringify(results)));
`;

/**
 * Runs every target concurrently in one process inside `namespace` as `uid` (also its GID, no
 * supplementary groups), with `node -e` so nothing but the node binary is read.
 */
export async function probeAs(tools: { ip: string; setpriv: string }, namespace: string, uid: number, targets: readonly Target[], extraSetpriv: readonly string[] = []): Promise<Probed[]> {
  const tokens = targets.map((t) => ({ ...t, token: `airlock-probe-${uid}-${t.proto}-${randomUUID()}` }));
  const result = await run(tools.ip, [
    'netns', 'exec', namespace,
    tools.setpriv, `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', ...extraSetpriv, '--',
    process.execPath, '-e', PROBE_SCRIPT, JSON.stringify(tokens), String(PROBE_TIMEOUT_MS),
  ]);
  if (result.code !== 0) throw new Error(`probe as UID ${uid} in ${namespace} failed (exit ${result.code}): ${result.stderr.trim()}`);
  return JSON.parse(result.stdout) as Probed[];
}

/** Every combination of TCP/UDP and the given hosts, on one port. */
export function targets(hosts: readonly string[], port: number): Target[] {
  return hosts.flatMap((host) => (['tcp', 'udp'] as const).map((proto) => ({ proto, host, port })));
}
