/**
 * Egress as an attacker inside a pod tries it: listeners on this machine's bridge addresses
 * (TCP and UDP, IPv4 and IPv6, and a DNS server on port 53 that the pods' resolv.conf names)
 * that record every connection and datagram, and a probe run inside a container with the Node
 * the image already has, reporting what got through. The listeners are the ground truth: a
 * probe's own report could be wrong, what arrived cannot.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type AddressInfo, type Server } from 'node:net';

/** Where the listeners are, as the probe needs them. */
export interface ProbeTargets {
  tcp4: string;
  udp4: string;
  tcp6?: string;
  udp6?: string;
}

/** The listeners and what reached them. */
export interface EgressListeners {
  targets: ProbeTargets;
  /** One entry per TCP connection or UDP datagram (`tcp4`, `udp6`, ...); DNS queries as `dns:<name>`. */
  hits: string[];
  /** The hits the probe caused: all but DNS queries for other names (the sidecar may resolve names; it is let out). */
  probeHits(): string[];
  close(): Promise<void>;
}

/** Starts the listeners on `gateway` (and `gateway6`), plus a DNS responder on gateway:53 answering NXDOMAIN. */
export async function startEgressListeners(gateway: string, gateway6?: string): Promise<EgressListeners> {
  const hits: string[] = [];
  const servers: Server[] = [];
  const sockets: UdpSocket[] = [];
  const tcp = async (host: string, label: string) => {
    const server = createServer((socket) => {
      hits.push(label);
      socket.end('hello from outside\n');
    });
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, host, resolve));
    servers.push(server);
    return `${host.includes(':') ? `[${host}]` : host}:${(server.address() as AddressInfo).port}`;
  };
  const udp = async (host: string, label: string | ((message: Buffer) => string), port = 0, reply: (message: Buffer) => Buffer = (message) => message) => {
    const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    socket.on('message', (message, remote) => {
      hits.push(typeof label === 'string' ? label : label(message));
      socket.send(reply(message), remote.port, remote.address);
    });
    await new Promise<void>((resolve, reject) => socket.once('error', reject).bind(port, host, resolve));
    sockets.push(socket);
    return `${host.includes(':') ? `[${host}]` : host}:${socket.address().port}`;
  };
  const targets: ProbeTargets = { tcp4: await tcp(gateway, 'tcp4'), udp4: await udp(gateway, 'udp4') };
  if (gateway6) {
    targets.tcp6 = await tcp(gateway6, 'tcp6');
    targets.udp6 = await udp(gateway6, 'udp6');
  }
  // The query back with QR set and RCODE 3 (NXDOMAIN): a resolver that hears it knows it was answered.
  await udp(gateway, (query) => `dns:${queryName(query)}`, 53, (query) => {
    const answer = Buffer.from(query);
    if (answer.length >= 4) {
      answer[2] = answer[2]! | 0x80;
      answer[3] = (answer[3]! & 0xf0) | 3;
    }
    return answer;
  });
  return {
    targets,
    hits,
    probeHits: () => hits.filter((hit) => !hit.startsWith('dns:') || hit === `dns:${PROBE_NAME}`),
    async close() {
      await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
      for (const socket of sockets) socket.close();
    },
  };
}

/** The name the probe looks up. */
export const PROBE_NAME = 'airlock-probe.test';

/** The QNAME of a DNS query (labels from offset 12), e.g. `airlock-probe.test`. */
function queryName(query: Buffer): string {
  const labels: string[] = [];
  for (let at = 12; at < query.length && query[at]! > 0 && labels.length < 64; at += query[at]! + 1) {
    labels.push(query.subarray(at + 1, at + 1 + query[at]!).toString('latin1'));
  }
  return labels.join('.');
}

/**
 * The probe, for `node -e`: argv[1] is the targets as JSON. Prints one JSON object: for each
 * target `reached` (a TCP greeting or a UDP echo came back) or what failed, and for `dns` what a
 * lookup through the pod's resolv.conf got (`answered` when the server's NXDOMAIN came back).
 */
export const EGRESS_PROBE = `
const net = require('node:net'), dgram = require('node:dgram'), dns = require('node:dns');
const targets = JSON.parse(process.argv[1]);
const split = (t) => { const i = t.lastIndexOf(':'); return [t.slice(0, i).replace(/^\\[|\\]$/g, ''), Number(t.slice(i + 1))]; };
const withTimeout = (p) => Promise.race([p, new Promise((r) => setTimeout(() => r('timeout'), 2500))]);
const tcp = (t) => withTimeout(new Promise((r) => { const [h, p] = split(t); const s = net.connect(p, h); s.on('data', () => { r('reached'); s.destroy(); }); s.on('error', (e) => r(e.code || String(e))); }));
const udp = (t) => withTimeout(new Promise((r) => { const [h, p] = split(t); const s = dgram.createSocket(h.includes(':') ? 'udp6' : 'udp4'); s.on('message', () => { r('reached'); s.close(); }); s.on('error', (e) => r(e.code || String(e))); s.send('probe', p, h, (e) => e && r(e.code || String(e))); }));
const lookup = () => withTimeout(new dns.promises.Resolver({ timeout: 2000, tries: 1 }).resolve4('${PROBE_NAME}').then(() => 'resolved', (e) => (e.code === 'ENOTFOUND' ? 'answered' : e.code || String(e))));
(async () => {
  const out = {};
  for (const [name, target] of Object.entries(targets)) out[name] = await (name.startsWith('tcp') ? tcp(target) : udp(target));
  out.dns = await lookup();
  console.log(JSON.stringify(out));
  process.exit(0);
})();
`;
