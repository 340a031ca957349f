/**
 * `--allow` entries: one destination the agent containers may reach directly.
 *
 * The grammar is `CIDR[:PORT[,PORT...]]`. The prefix length is required (as the CRD's `isCIDR`
 * requires it), which is also what keeps IPv6 unambiguous: the ports start at the first colon
 * after the `/`, so `2001:db8::/32:443,8443` needs no brackets.
 */
import { BlockList, isIPv4, isIPv6 } from 'node:net';

/** A destination CIDR, its address family, and the ports open on it (empty: every port). */
export interface AllowEntry {
  family: 4 | 6;
  /** As given: iptables itself masks host bits (`10.1.2.3/8` matches 10.0.0.0/8). */
  cidr: string;
  /** Sorted and deduplicated; each one opens TCP and UDP. Empty means every port and protocol. */
  ports: readonly number[];
}

/** An `--allow` value that does not parse, with the text and the reason. */
export class AllowEntryError extends Error {
  constructor(
    readonly entry: string,
    reason: string,
  ) {
    super(`--allow ${JSON.stringify(entry)}: ${reason} (expected CIDR[:PORT[,PORT...]], e.g. 10.0.0.0/8:443 or 2001:db8::/32:443,8443)`);
    this.name = 'AllowEntryError';
  }
}

/** Parses one `--allow` value. Throws AllowEntryError saying what is wrong with it. */
export function parseAllowEntry(text: string): AllowEntry {
  const slash = text.indexOf('/');
  if (slash < 0) throw new AllowEntryError(text, 'the prefix length is missing (write /32 or /128 for one host)');
  const address = text.slice(0, slash);
  const rest = text.slice(slash + 1);
  const match = /^(\d{1,3})(?::(.*))?$/.exec(rest);
  if (!match) throw new AllowEntryError(text, `"${rest}" is not a prefix length optionally followed by :PORTS`);

  // Zone ids (fe80::1%eth0) name an interface of one host; they mean nothing in a pod's rules.
  const family = isIPv4(address) ? 4 : isIPv6(address) && !address.includes('%') ? 6 : undefined;
  if (family === undefined) throw new AllowEntryError(text, `"${address}" is not an IPv4 or IPv6 address`);

  const prefix = Number(match[1]);
  const maxPrefix = family === 4 ? 32 : 128;
  if (prefix > maxPrefix) throw new AllowEntryError(text, `prefix length ${prefix} is more than ${maxPrefix}`);

  const portText = match[2];
  const ports = portText === undefined ? [] : parsePorts(text, portText);
  return { family, cidr: `${address}/${prefix}`, ports };
}

function parsePorts(entry: string, text: string): number[] {
  const ports = new Set<number>();
  for (const part of text.split(',')) {
    if (!/^\d{1,5}$/.test(part)) throw new AllowEntryError(entry, `"${part}" is not a port number`);
    const port = Number(part);
    if (port < 1 || port > 65535) throw new AllowEntryError(entry, `port ${port} is outside 1-65535`);
    ports.add(port);
  }
  return [...ports].sort((a, b) => a - b);
}

/**
 * Whether `outer` lets through everything `inner` does: the same family, `inner`'s CIDR inside
 * `outer`'s (host bits are masked as iptables masks them), and `inner`'s ports among `outer`'s
 * (no ports: every port).
 */
export function covers(outer: AllowEntry, inner: AllowEntry): boolean {
  if (outer.family !== inner.family) return false;
  const [outerAddress, outerPrefix] = splitCidr(outer.cidr);
  const [innerAddress, innerPrefix] = splitCidr(inner.cidr);
  if (outerPrefix > innerPrefix) return false;
  const type = outer.family === 4 ? 'ipv4' : 'ipv6';
  const subnet = new BlockList();
  subnet.addSubnet(outerAddress, outerPrefix, type);
  if (!subnet.check(innerAddress, type)) return false;
  if (outer.ports.length === 0) return true;
  return inner.ports.length > 0 && inner.ports.every((port) => outer.ports.includes(port));
}

const splitCidr = (cidr: string): [string, number] => {
  const slash = cidr.indexOf('/');
  return [cidr.slice(0, slash), Number(cidr.slice(slash + 1))];
};
