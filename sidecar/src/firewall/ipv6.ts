/**
 * Whether the kernel has IPv6, apart from the rest of the firewall's I/O (./apply.ts): the admin
 * server asks it at start, and apply.ts loads `node:child_process` (and with it `dgram` and
 * `cluster`), which the sidecar never otherwise needs.
 */
import { existsSync } from 'node:fs';

/** Whether the kernel has an IPv6 stack at all (`/proc/net/if_inet6` exists only then). */
export function kernelHasIPv6(): boolean {
  return existsSync('/proc/net/if_inet6');
}
