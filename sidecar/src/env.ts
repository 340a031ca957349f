/** Environment variables the sidecar reads, parsed in this one place. */
import * as z from './zod.js';

const Env = z.object({
  AIRLOCK_CONFIG: z._default(z.string().check(z.minLength(1)), '/etc/airlock/config.yaml'),
  AIRLOCK_SOCKET: z._default(z.string().check(z.minLength(1)), '/var/run/airlock/airlock.sock'),
  /**
   * The stdio host's socket, set by injection: stdio MCP servers start in the airlock-tools
   * container. Unset (the sidecar outside a pod), they start as the sidecar's own children.
   */
  AIRLOCK_STDIO_HOST: z.optional(z.string().check(z.minLength(1))),
  /**
   * Set by injection: the agent shares the sidecar's network, so no connection by name may reach
   * one of the pod's own addresses (upstream/pod-addresses.ts).
   */
  AIRLOCK_REFUSE_POD_ADDRESSES: z._default(z.stringbool(), false),
});

export type Env = z.infer<typeof Env>;

/** Parses the environment once. */
export function readEnv(source: NodeJS.ProcessEnv = process.env): Env {
  return Env.parse({
    AIRLOCK_CONFIG: source.AIRLOCK_CONFIG || undefined,
    AIRLOCK_SOCKET: source.AIRLOCK_SOCKET || undefined,
    AIRLOCK_STDIO_HOST: source.AIRLOCK_STDIO_HOST || undefined,
    AIRLOCK_REFUSE_POD_ADDRESSES: source.AIRLOCK_REFUSE_POD_ADDRESSES || undefined,
  });
}
