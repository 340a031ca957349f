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
