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
 * A name with a dot is not looked up in the sandbox namespace's own DNS domain either (see
 * {@link searchNames}): whoever may create pods there could answer for it.
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
type Lookup = (hostname: string, options: object, callback: Callback) => void;

/** What of a pod's resolv.conf decides the names a lookup tries: its search domains. */
export interface SearchList {
  domains: readonly string[];
}

/**
 * The dots a name needs to be tried as written before the search domains: the kubelet's `ndots`
 * for ClusterFirst pods. The pod's own `dnsConfig.options` may set another (admission allows it),
 * but not for the sidecar: with `ndots:1` a provider written `ollama.tools` (the Service `ollama`
 * of the namespace `tools`) was asked of public DNS first, where whoever registers that name
 * answers it, key and all.
 */
const CLUSTER_NDOTS = 5;

/** The search list of a resolv.conf text, read as glibc reads it: the last `search` or `domain` line. */
export function readSearchList(text: string): SearchList {
  let domains: string[] = [];
  for (const line of text.split('\n')) {
    const [keyword, ...words] = line.replace(/[#;].*$/, '').trim().split(/\s+/);
    if (keyword === 'search' || keyword === 'domain') domains = words.filter(Boolean);
  }
  return { domains };
}

/** The names a lookup tries in place of the name as written ({@link searchNames}). */
export interface SearchNames {
  /** Absolute names, in the order they are tried. */
  names: string[];
  /** Whether the sandbox namespace's own domain was in the search list and left out (a name found nowhere is told so). */
  ownDomainSkipped: boolean;
}

/**
 * The absolute names a lookup of `hostname` tries, in order, or undefined to look it up as
 * written. A name with a dot (`ollama.models`, meant as the Service `ollama` of the namespace
 * `models`) would be tried first as `ollama.models.<namespace>.svc.<cluster domain>`, a pod record
 * (`hostname.subdomain`) that whoever may create a pod and a headless Service in the sandbox's
 * namespace answers: with the provider's key in the request. So such a name skips that one search
 * domain and is otherwise tried as the cluster's resolver would (the other domains, then the name
 * itself; the name first when it has {@link CLUSTER_NDOTS} dots or more, whatever `ndots` the pod
 * sets). A name without a dot (a Service of the sandbox's own namespace), an address and a name
 * ending in a dot are looked up as written.
 */
export function searchNames(hostname: string, list: SearchList, namespace: string): SearchNames | undefined {
  if (isIP(hostname) !== 0 || hostname.endsWith('.')) return undefined;
  const dots = hostname.split('.').length - 1;
  if (dots === 0) return undefined;
  const own = `${namespace}.svc.`.toLowerCase();
  const searched = list.domains.filter((domain) => !domain.toLowerCase().startsWith(own)).map((domain) => `${hostname}.${domain.replace(/\.$/, '')}.`);
  const names = dots >= CLUSTER_NDOTS ? [`${hostname}.`, ...searched] : [...searched, `${hostname}.`];
  return { names, ownDomainSkipped: searched.length < list.domains.length };
}

/** Error codes of a lookup that found no such name (the next name of the search list is tried). */
const NOT_FOUND = new Set(['ENOTFOUND', 'ENODATA', 'EAI_NODATA']);

/**
 * What a name not found in a pod is told: a `<hostname>.<subdomain>` of the sandbox's own
 * namespace (a StatefulSet member) is no longer found that way. Names no host, so a client may
 * read it (upstream/failure.ts).
 */
export const SKIPPED_DOMAIN_HINT = "names with a dot are not looked up in the sandbox namespace's own DNS domain: write a Service of that namespace by its name alone, or a name in full";

/**
 * Looks `search.names` up one after another until one resolves; a name not found moves on, any
 * other failure (a timeout) ends the walk, as the resolver's own search does. Errors name
 * `hostname`; one found nowhere carries {@link SKIPPED_DOMAIN_HINT} as `hint` when the sandbox
 * namespace's own domain was skipped.
 */
function lookupFirst(lookup: Lookup, hostname: string, search: SearchNames, options: object, done: Callback): void {
  const { names, ownDomainSkipped } = search;
  const next = (at: number, last?: NodeJS.ErrnoException): void => {
    if (at === names.length) {
      const code = last?.code ?? 'ENOTFOUND';
      const failed: NodeJS.ErrnoException = new Error(`getaddrinfo ${code} ${hostname}`);
      Object.assign(failed, { code, syscall: 'getaddrinfo', hostname }, ownDomainSkipped && NOT_FOUND.has(code) ? { hint: SKIPPED_DOMAIN_HINT } : {});
      return done(failed);
    }
    lookup(names[at]!, options, (err, address, family) => {
      if (!err) return done(null, address, family);
      if (NOT_FOUND.has(err.code ?? '')) return next(at + 1, err);
      next(names.length, err);
    });
  };
  next(0);
}

/**
 * Guards, for the whole process, every lookup by name against what the pod's author can answer
 * for (see the module's comment): refuses names that resolve to the pod's own addresses, and with
 * `search`, looks names with a dot up without the sandbox namespace's own DNS domain
 * ({@link searchNames}). Returns the undo (for tests).
 */
export function refusePodAddressesAndOwnDomain(search?: { list: SearchList; namespace: string }): () => void {
  const dns = process.getBuiltinModule('node:dns');
  const original = dns.lookup as unknown as Lookup;
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
    const given = typeof options === 'function' || options === undefined ? {} : typeof options === 'number' ? { family: options } : (options as object);
    const searched = search && typeof hostname === 'string' ? searchNames(hostname, search.list, search.namespace) : undefined;
    if (searched === undefined) original(hostname, given, settled);
    else lookupFirst(original, hostname, searched, given, settled);
  };
  dns.lookup = guarded as typeof dns.lookup;
  return () => {
    if (dns.lookup === (guarded as typeof dns.lookup)) dns.lookup = original as unknown as typeof dns.lookup;
  };
}
