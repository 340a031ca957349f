/**
 * The firewall as text: a plan in, `iptables-restore --noflush` input out, and the checks run
 * on `iptables-save` output. Pure, so every rule is covered by unit tests without a kernel.
 *
 * Shape of the rules (one chain per family, jumped to first from OUTPUT):
 *   0. with an admin port: TCP from that port dropped unless the sending socket is the sidecar
 *      UID's. The operator's usage round and the kubelet's probes dial it (ADR 0014, 0018); while
 *      the sidecar is down (a container restart) the agent can listen there, and only this keeps
 *      its listener from answering (not even its SYN-ACK leaves). `--socket-exists`: a connection
 *      the sidecar's listener has not accepted yet has no socket of its own, and its ACKs must pass.
 *   1. with a tools UID: its packets to an address of the pod's own other than loopback refused
 *      (REJECT, so the connect fails at once). The kubelet maps the pod's name (or `spec.hostname`)
 *      to that address in /etc/hosts, and the pod's creator chooses the name: a pod named after a
 *      plain-http host a stdio MCP server calls would have the server send its env secrets to
 *      whatever the agent listens with there. The stdio servers resolve names themselves, outside
 *      the sidecar's guard (upstream/pod-addresses.ts); loopback stays open to them (a browser
 *      server talks to its own browser on 127.0.0.1).
 *   2. with a tools UID: what it opens is marked (a connmark bit, NEW under its owner), and on
 *      loopback nothing answers a connection without that bit from a tools-UID socket, nor as a
 *      SYN-ACK with no socket. A stdio server's loopback listener (the puppeteer server's Chrome
 *      opens an unauthenticated DevTools port on 127.0.0.1) would otherwise take the agent's
 *      connections, and with them the tools UID's open egress (rule 5), past the firewall and
 *      the MCP filters. A listener's SYN-ACK carries the listener as owner, so the agent's
 *      connect times out and nothing is accepted; the sidecar reaches the stdio host over a Unix
 *      socket and needs no such listener either. A SYN cookie leaves without a socket: the kernel
 *      sends one once a listener's SYN queue is full, and the agent fills it with SYNs whose
 *      SYN-ACKs are dropped. The cost: a cookie from any other listener on loopback (the
 *      sidecar's port, the agent's own servers) is dropped too, so an overflowing listener costs
 *      a SYN retransmit more, and in a pod that sets `net.ipv4.tcp_syncookies=2` (a cookie for
 *      every SYN) the other UIDs get no TCP over loopback. UDP: a datagram still reaches a
 *      tools-UID socket, but no answer leaves it; and no other UID sends on a flow the tools UID
 *      opened (the source port of a client it just closed), which would be answered.
 *   3. `-o lo` accepted: the agent reaches the sidecar's loopback port and its own servers.
 *   4. ESTABLISHED in the REPLY direction accepted: replies to connections that came in
 *      (probes, a port the agent serves); RELATED: ICMP errors about a flow. Not ESTABLISHED in
 *      the original direction: every pod process shares one network namespace, so once the
 *      sidecar's (or a stdio server's) UDP socket is closed the agent can bind its port and
 *      send on the flow conntrack still holds for 30 s (to the cluster DNS, say: a tunnel out).
 *      The sidecar's and the tools' own packets pass by the owner match below; what a socket
 *      sends after its process closed it (a FIN retransmitted by an orphaned socket) carries no
 *      owner and is dropped, which only ends that connection by timeout instead.
 *   5. the sidecar's UID accepted (owner match on the sending socket), and the airlock-tools
 *      container's UID when given: the stdio MCP servers it runs keep the egress they had when
 *      they ran inside the sidecar, without the sidecar's keys (docs/adr/0015).
 *   6. IPv6 only: neighbour discovery. The kernel sends it without a socket, so the owner match
 *      cannot see it; without it no IPv6 packet, not even the sidecar's, finds its next hop.
 *      Unprivileged processes cannot forge these ICMPv6 types (they need NET_RAW).
 *   7. each allow entry of that family (TCP and UDP on its ports, or everything without ports).
 *   8. everything else dropped. That includes DNS: the agent has no resolver of its own and
 *      reaches names only through the sidecar, which resolves them under its own UID.
 *
 * Nothing else in the filter table is touched (`--noflush`), so another init container's rules
 * (an Istio redirect, say) keep working; declaring the chain flushes and rebuilds it, and the
 * jump from OUTPUT is deleted as often as it was found and inserted once at the top, in the same
 * atomic transaction. Running the command twice therefore leaves the same rules as once.
 */
import type { AllowEntry } from './allow.js';

/** The dedicated chain holding every Airlock rule; OUTPUT jumps to it once, first. */
export const CHAIN = 'AIRLOCK_OUTPUT';

/** The exact line `iptables-save` prints for the jump from OUTPUT. */
export const JUMP_LINE = `-A OUTPUT -j ${CHAIN}`;

/** What the firewall lets out of the pod: the sidecar's UID, the tools UID and the allow entries. */
export interface FirewallPlan {
  sidecarUid: number;
  /** The airlock-tools container's UID: stdio MCP servers reach what the sidecar reaches. */
  toolsUid?: number | undefined;
  allow: readonly AllowEntry[];
  /** The sidecar's admin port: only the sidecar UID's sockets may answer from it (rule 0). */
  adminPort?: number | undefined;
}

/** IPv4 rules go to iptables, IPv6 rules to ip6tables. */
export type Family = 4 | 6;

// multiport takes at most 15 ports per rule.
const MULTIPORT_MAX = 15;

const NEIGHBOUR_DISCOVERY = ['router-solicitation', 'neighbour-solicitation', 'neighbour-advertisement'] as const;

/**
 * Renders the `iptables-restore --noflush` (or `ip6tables-restore`) input for one family.
 * `existingJumps` is how many `-A OUTPUT -j AIRLOCK_OUTPUT` lines the current rules hold
 * (see countJumps); each is deleted so that exactly one remains, at the top of OUTPUT.
 */
export function renderRestore(plan: FirewallPlan, family: Family, existingJumps = 0): string {
  const lines = ['*filter', `:${CHAIN} - [0:0]`];
  for (let i = 0; i < existingJumps; i++) lines.push(`-D OUTPUT -j ${CHAIN}`);
  lines.push(`-I OUTPUT 1 -j ${CHAIN}`);
  for (const rule of chainRules(plan, family)) lines.push(`-A ${CHAIN} ${rule}`);
  lines.push('COMMIT', '');
  return lines.join('\n');
}

/** The rules of the dedicated chain for one family, in order, without the `-A CHAIN` prefix. */
export function chainRules(plan: FirewallPlan, family: Family): string[] {
  const rules = [
    ...(plan.adminPort === undefined ? [] : [adminPortRule(plan)]),
    ...(plan.toolsUid === undefined ? [] : [toolsToPodAddressRule(plan.toolsUid, family), ...toolsListenerRules(plan.toolsUid)]),
    '-o lo -j ACCEPT',
    '-m conntrack --ctstate ESTABLISHED --ctdir REPLY -j ACCEPT',
    '-m conntrack --ctstate RELATED -j ACCEPT',
    `-m owner --uid-owner ${plan.sidecarUid} -j ACCEPT`,
  ];
  if (plan.toolsUid !== undefined) rules.push(`-m owner --uid-owner ${plan.toolsUid} -j ACCEPT`);
  if (family === 6) {
    for (const type of NEIGHBOUR_DISCOVERY) rules.push(`-p ipv6-icmp -m icmp6 --icmpv6-type ${type} -j ACCEPT`);
  }
  for (const entry of plan.allow) {
    if (entry.family === family) rules.push(...allowRules(entry));
  }
  rules.push('-j DROP');
  return rules;
}

/** Rule 0: nothing but the sidecar's sockets sends from the admin port. */
const adminPortRule = (plan: FirewallPlan): string => `-p tcp --sport ${plan.adminPort} -m owner --socket-exists ! --uid-owner ${plan.sidecarUid} -j DROP`;

/** Rule 1: the tools UID reaches no address of the pod's own but loopback. */
const toolsToPodAddressRule = (toolsUid: number, family: Family): string =>
  `-m owner --uid-owner ${toolsUid} ! -d ${family === 4 ? '127.0.0.0/8' : '::1/128'} -m addrtype --dst-type LOCAL -j REJECT`;

/**
 * The connmark bit for connections the tools UID opened (rule 2). Conntrack and its marks are the
 * pod's network namespace's own, so only rules in that namespace can collide: Istio's (ambient's
 * in-pod rules mark and save under the mask 0xfff, values 0x111 and 0x539; sidecar mode uses 0x539)
 * and, were node-level rules ever copied into a pod, kube-proxy's 0x4000 and 0x8000, Cilium's
 * 0x0f00 and upper 16 bits, Calico's 0xffff0000. Bit 13 is in none of them, and only that bit is
 * set or tested, so what others keep in the rest of the connmark stays as it is.
 */
const TOOLS_CONNMARK = '0x2000/0x2000';

/**
 * Rule 2: a connection the tools UID opened is marked; on loopback, nothing answers one it did not
 * open from a tools-UID socket, nor with a SYN-ACK that has no socket (a SYN cookie: under a SYN
 * flood, or with tcp_syncookies=2, the kernel answers for the listener without naming it).
 */
const toolsListenerRules = (toolsUid: number): string[] => [
  `-m owner --uid-owner ${toolsUid} -m conntrack --ctstate NEW -j CONNMARK --set-xmark ${TOOLS_CONNMARK}`,
  `-o lo -m owner --uid-owner ${toolsUid} -m conntrack --ctdir REPLY -m connmark ! --mark ${TOOLS_CONNMARK} -j DROP`,
  `-o lo -p tcp --tcp-flags SYN,ACK SYN,ACK -m owner ! --socket-exists -m conntrack --ctdir REPLY -m connmark ! --mark ${TOOLS_CONNMARK} -j DROP`,
  // A flow the tools UID opened is its alone: another UID sending on it (from the port of a UDP
  // client it just closed, while conntrack still holds the flow) would be answered as the tools UID.
  `-o lo -m conntrack --ctdir ORIGINAL -m connmark --mark ${TOOLS_CONNMARK} -m owner --socket-exists ! --uid-owner ${toolsUid} -j DROP`,
];

function allowRules(entry: AllowEntry): string[] {
  if (entry.ports.length === 0) return [`-d ${entry.cidr} -j ACCEPT`];
  const rules: string[] = [];
  for (let i = 0; i < entry.ports.length; i += MULTIPORT_MAX) {
    const chunk = entry.ports.slice(i, i + MULTIPORT_MAX);
    const match = chunk.length === 1 ? `--dport ${chunk[0]}` : `-m multiport --dports ${chunk.join(',')}`;
    for (const protocol of ['tcp', 'udp']) rules.push(`-d ${entry.cidr} -p ${protocol} ${match} -j ACCEPT`);
  }
  return rules;
}

/** How many times `iptables-save` output jumps unconditionally from OUTPUT to the chain. */
export function countJumps(saveText: string): number {
  return filterTable(saveText).filter((line) => line === JUMP_LINE).length;
}

/**
 * Checks `iptables-save` output after an apply: the filter table jumps to the chain exactly once,
 * as the first OUTPUT rule, and the chain ends in DROP. Returns what is wrong, or undefined.
 * Rule text is not compared line by line because nft and legacy print some matches differently.
 */
export function checkApplied(saveText: string): string | undefined {
  const lines = filterTable(saveText);
  const output = lines.filter((line) => line.startsWith('-A OUTPUT '));
  const jumps = output.filter((line) => line === JUMP_LINE).length;
  if (jumps !== 1) return `OUTPUT jumps to ${CHAIN} ${jumps} times, expected once`;
  if (output[0] !== JUMP_LINE) return `the first OUTPUT rule is "${output[0]}", not the jump to ${CHAIN}`;
  const chain = lines.filter((line) => line.startsWith(`-A ${CHAIN} `));
  if (chain.at(-1) !== `-A ${CHAIN} -j DROP`) return `${CHAIN} does not end in DROP`;
  return undefined;
}

/** The rule and chain lines of the `*filter` section of `iptables-save` output. */
function filterTable(saveText: string): string[] {
  const lines: string[] = [];
  let inFilter = false;
  for (const raw of saveText.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('*')) inFilter = line === '*filter';
    else if (line === 'COMMIT') inFilter = false;
    else if (inFilter && line.startsWith('-')) lines.push(line);
  }
  return lines;
}
