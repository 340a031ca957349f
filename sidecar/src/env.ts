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
  /**
   * Set by injection: the operator's public key (Ed25519, 32 bytes, base64). The config and every
   * file of the credentials are used only as the operator sealed them for this pod's sandbox
   * (config/seal.ts, ADR 30).
   */
  AIRLOCK_CONFIG_KEY: z.optional(z.string().check(z.minLength(1))),
  /** Set by injection with AIRLOCK_CONFIG_KEY: the pod's sandbox, which the seal must name. */
  AIRLOCK_SANDBOX: z.optional(z.string().check(z.minLength(1))),
  /** The pod's namespace (from the downward API), which the seal must name. */
  AIRLOCK_POD_NAMESPACE: z.optional(z.string().check(z.minLength(1))),
});

export type Env = z.infer<typeof Env>;

/** Parses the environment once. */
export function readEnv(source: NodeJS.ProcessEnv = process.env): Env {
  return Env.parse({
    AIRLOCK_CONFIG: source.AIRLOCK_CONFIG || undefined,
    AIRLOCK_SOCKET: source.AIRLOCK_SOCKET || undefined,
    AIRLOCK_STDIO_HOST: source.AIRLOCK_STDIO_HOST || undefined,
    AIRLOCK_REFUSE_POD_ADDRESSES: source.AIRLOCK_REFUSE_POD_ADDRESSES || undefined,
    AIRLOCK_CONFIG_KEY: source.AIRLOCK_CONFIG_KEY || undefined,
    AIRLOCK_SANDBOX: source.AIRLOCK_SANDBOX || undefined,
    AIRLOCK_POD_NAMESPACE: source.AIRLOCK_POD_NAMESPACE || undefined,
  });
}
