/**
 * In a pod the agent shares the sidecar's network namespace: its loopback and its address are the
 * agent's too, and the agent may listen there. A host name the sidecar connects to (a provider, an
 * MCP server, the collector, the operator's usage endpoint) that resolves to one of the pod's own
 * addresses is therefore refused: whoever created the pod could have put the name there (the pod's
 * name or `spec.hostname` is in /etc/hosts, mapped to the pod's address), and the request would
 * carry the provider's key to the agent. An address written as such in the config (Ollama's default
 * `http://127.0.0.1:11434`, an Ollama container in the pod) is taken as written: only names are
 * looked up.
 *
 * It wraps `dns.lookup`, which every Node connection by name goes through (node:net and node:tls,
 * so the upstream client, the MCP SDK's fetch and the OpenTelemetry exporter alike); injection
 * turns it on (`AIRLOCK_REFUSE_POD_ADDRESSES`), as outside a pod `localhost` is a normal place for a
 * provider.
 */
import type { LookupAddress } from 'node:dns';
import { isIP } from 'node:net';

/**
 * An address in one spelling: IPv6 as the URL parser writes it (`0:0:0:0:0:0:0:1` is `::1`), an
 * IPv4-mapped IPv6 address as its IPv4 address (`::ffff:7f00:1` is `127.0.0.1`), no zone.
 */
function canonical(address: string): string {
  const plain = address.replace(/%.*$/, '');
  if (isIP(plain) !== 6) return plain;
  const written = new URL(`http://[${plain}]/`).hostname.slice(1, -1);
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(written);
  if (!mapped) return written.startsWith('::ffff:') && isIP(written.slice(7)) === 4 ? written.slice(7) : written;
  const [high, low] = [parseInt(mapped[1]!, 16), parseInt(mapped[2]!, 16)];
  return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
}

/**
 * How long one read of the interfaces' addresses serves. A pod's addresses are in place before
 * its containers start (the CNI plugin writes them), and no container of a sandbox pod holds
 * NET_ADMIN to add one later; a read per lookup (getifaddrs, and canonicalising each address)
 * would be paid on every connection by name for nothing. Re-read on a timer rather than on a miss:
 * a miss is every lawful lookup. An address added all the same (IPv6 autoconfiguration) is seen
 * within this interval.
 */
const INTERFACES_REREAD_MS = 5_000;

let interfaces: { addresses: ReadonlySet<string>; readAt: number } | undefined;

/** The canonical addresses of this network namespace's interfaces, read at most every {@link INTERFACES_REREAD_MS}. */
function interfaceAddresses(): ReadonlySet<string> {
  const now = performance.now();
  if (interfaces === undefined || now - interfaces.readAt >= INTERFACES_REREAD_MS) {
    const read = Object.values(process.getBuiltinModule('node:os').networkInterfaces()).flatMap((list) => list ?? []);
    interfaces = { addresses: new Set(read.map((i) => canonical(i.address))), readAt: now };
  }
  return interfaces.addresses;
}

/** Whether `address` is loopback, unspecified, or an address of this network namespace's interfaces. */
export function isPodAddress(address: string): boolean {
  const plain = canonical(address);
  if (isIP(plain) === 4 && (plain.startsWith('127.') || plain === '0.0.0.0')) return true;
  if (plain === '::1' || plain === '::') return true;
  return interfaceAddresses().has(plain);
}

type Callback = (err: NodeJS.ErrnoException | null, address?: string | LookupAddress[], family?: number) => void;

/**
 * Refuses, for the whole process, connections by name to the pod's own addresses (see the
 * module's comment). Returns the undo (for tests).
 */
export function refusePodAddresses(): () => void {
  const dns = process.getBuiltinModule('node:dns');
  const original = dns.lookup;
  const guarded = function lookup(hostname: string, options: unknown, callback?: Callback): void {
    const done = (typeof options === 'function' ? options : callback) as Callback;
    const settled: Callback = (err, address, family) => {
      // An address written as such is taken as written; only names are judged.
      if (err || isIP(hostname) !== 0) return done(err, address, family);
      const addresses = Array.isArray(address) ? address.map((a) => a.address) : [address as string];
      const own = addresses.find((a) => isPodAddress(a));
      if (own === undefined) return done(null, address, family);
      const refused: NodeJS.ErrnoException = new Error(`${hostname} resolves to ${own}, an address of this pod, which the agent shares: refused (a name the pod's spec maps there, its hostname or /etc/hosts?)`);
      refused.code = 'EPODADDRESS';
      done(refused);
    };
    if (typeof options === 'function') (original as (h: string, cb: Callback) => void)(hostname, settled);
    else (original as (h: string, o: unknown, cb: Callback) => void)(hostname, options, settled);
  };
  dns.lookup = guarded as typeof dns.lookup;
  return () => {
    if (dns.lookup === (guarded as typeof dns.lookup)) dns.lookup = original;
  };
}
