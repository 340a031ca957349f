/**
 * How many connections one agent-facing listener (the socket, the loopback port) holds at once.
 * Each costs a file descriptor and ~13 KB; the agent can open them for nothing. Unbounded, the
 * agent took the process to its file limit and the admin port could accept nothing more: the
 * kubelet's probes and the operator's usage round went unanswered (a restart loses the spend not
 * yet reported, ADR 14), and far below that limit enough of them reach the memory limit.
 *
 * A listener takes at most an eighth of the process's file limit, at most 1,024: the two agent
 * listeners' connections and the upstream connections their calls open stay under half of it,
 * leaving the admin port, MCP backends and files the rest. Past it a new connection is closed at
 * once (node:http's maxConnections).
 */
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { networkInterfaces } from 'node:os';

/** Connections per agent-facing listener when the file limit is high (or cannot be read). */
export const MAX_AGENT_CONNECTIONS = 1024;

/** Connections per agent-facing listener for a soft file limit of `fileLimit` (Infinity: unlimited or unknown). */
export function agentConnectionLimit(fileLimit = softFileLimit()): number {
  return Math.max(16, Math.min(MAX_AGENT_CONNECTIONS, Math.floor(fileLimit / 8)));
}

/** The process's soft limit on open files (`Max open files` in /proc/self/limits); Infinity when unlimited or not on Linux. */
export function softFileLimit(limits?: string): number {
  let text = limits;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/limits', 'utf8');
    } catch {
      return Infinity;
    }
  }
  const soft = /^Max open files\s+(\S+)/m.exec(text)?.[1];
  const value = Number(soft);
  return soft === undefined || !Number.isFinite(value) ? Infinity : value;
}

/**
 * Connections to the admin port from the pod itself (loopback or one of the pod's own addresses:
 * the agent shares the network namespace) held at once; past it one is closed at once. Nothing of
 * the pod needs the admin port (the kubelet's probes, the operator's usage round and scrapers come
 * from other addresses), and without a bound the agent could hold the port's connections, or the
 * process's file descriptors, and leave the probes and the usage round unanswered.
 */
export const MAX_LOCAL_ADMIN_CONNECTIONS = 16;

/** Closes at once each connection to `server` from the pod's own addresses past `max` held. */
export function limitLocalConnections(server: Server, max = MAX_LOCAL_ADMIN_CONNECTIONS): void {
  const own = ownAddresses();
  let held = 0;
  server.on('connection', (socket: Socket) => {
    if (!isLocalPeer(socket, own)) return;
    if (held >= max) return void socket.destroy();
    held++;
    socket.once('close', () => held--);
  });
}

/** Whether the peer of `socket` is this network namespace: loopback, the address it connected to, or another address of an interface here. */
export function isLocalPeer(socket: Pick<Socket, 'remoteAddress' | 'localAddress'>, own: ReadonlySet<string>): boolean {
  const remote = unmapped(socket.remoteAddress ?? '');
  return remote.startsWith('127.') || remote === '::1' || remote === unmapped(socket.localAddress ?? '') || own.has(remote);
}

/** An IPv4 address a dual-stack socket reports as IPv4-mapped IPv6, as IPv4. */
function unmapped(address: string): string {
  return address.toLowerCase().startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/** Every address of the network namespace's interfaces. */
function ownAddresses(): Set<string> {
  const own = new Set<string>();
  for (const addresses of Object.values(networkInterfaces())) for (const a of addresses ?? []) own.add(a.address.split('%')[0]!);
  return own;
}
