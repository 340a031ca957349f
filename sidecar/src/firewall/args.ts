/** Command-line arguments of `airlock-sidecar firewall`, parsed once into FirewallOptions. */
import { parseArgs } from 'node:util';
import * as z from '../zod.js';
import { AllowEntryError, parseAllowEntry } from './allow.js';
import type { FirewallPlan } from './rules.js';

// What reads a firewall's --allow entries outside it (the operator: pods started with other ones) needs these too.
export { covers, parseAllowEntry, type AllowEntry } from './allow.js';

/** Which iptables flavour to drive; see detectTools in apply.ts for what `auto` picks. */
export const BACKENDS = ['auto', 'nft', 'legacy'] as const;

/** A backend choice from `--backend`. */
export type BackendChoice = (typeof BACKENDS)[number];

/** Everything the firewall command was asked to do. */
export interface FirewallOptions extends FirewallPlan {
  /** Print the rules without touching the kernel. */
  dryRun: boolean;
  backend: BackendChoice;
}

/** Arguments that do not parse; the message names the option. The command exits 2. */
export class FirewallUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FirewallUsageError';
  }
}

/** The usage text printed by `--help` and after a usage error. */
export const FIREWALL_USAGE = `usage: airlock-sidecar firewall --sidecar-uid UID [--tools-uid UID] [--admin-port PORT] [--allow CIDR[:PORT[,PORT...]]]... [--backend auto|nft|legacy] [--dry-run]
  Lets only the sidecar's UID, loopback and the --allow destinations leave this network
  namespace (IPv4 and IPv6); every other outbound packet, DNS included, is dropped.
  --sidecar-uid UID   the UID the sidecar runs as (not 0)
  --tools-uid UID     the UID of the airlock-tools container, whose stdio MCP servers keep the
                      sidecar's egress (not 0)
  --admin-port PORT   the sidecar's admin port: TCP from it leaves only from the sidecar UID's
                      sockets, so the agent cannot answer there while the sidecar restarts
  --allow ENTRY       a destination the agent may reach: TCP and UDP on the ports, or everything
                      without ports; repeatable (10.0.0.0/8:443, 2001:db8::/32:443,8443)
  --backend NAME      iptables flavour: nft, legacy, or auto (nft when it works here)
  --dry-run           print the rules, apply nothing`;

const number = () => z.pipe(z.string({ error: 'is required' }).check(z.regex(/^\d+$/, 'must be a number')), z.transform(Number));

const Uid = z.pipe(
  number(),
  // A sidecar UID of 0 would let every root process in the pod through the owner match.
  z.int().check(z.minimum(1, 'must not be 0: every root process in the pod would pass the firewall'), z.maximum(4294967294)),
);

const Allow = z.pipe(
  z.array(z.string()),
  z.transform((values: string[], ctx) =>
    values.flatMap((value) => {
      try {
        return [parseAllowEntry(value)];
      } catch (err) {
        if (!(err instanceof AllowEntryError)) throw err;
        ctx.issues.push({ code: 'custom', message: err.message, input: value });
        return [];
      }
    }),
  ),
);

const Args = z.object({
  'sidecar-uid': Uid,
  'tools-uid': z.optional(Uid),
  'admin-port': z.optional(z.pipe(number(), z.int().check(z.minimum(1, 'must be 1 to 65535'), z.maximum(65535, 'must be 1 to 65535')))),
  allow: z._default(Allow, []),
  backend: z._default(z.enum(BACKENDS), 'auto'),
  'dry-run': z._default(z.boolean(), false),
});

/**
 * Parses the arguments that follow `firewall`. Returns 'help' for `--help`; throws
 * FirewallUsageError listing every problem otherwise.
 */
export function parseFirewallArgs(argv: readonly string[]): FirewallOptions | 'help' {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        'sidecar-uid': { type: 'string' },
        'tools-uid': { type: 'string' },
        'admin-port': { type: 'string' },
        allow: { type: 'string', multiple: true },
        backend: { type: 'string' },
        'dry-run': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new FirewallUsageError((err as Error).message);
  }
  if (values.help) return 'help';

  const result = Args.safeParse(values);
  if (!result.success) {
    const messages = result.error.issues.map((issue) =>
      // Allow-entry messages already name the entry; the others get their option's name.
      issue.path[0] === 'allow' ? issue.message : `--${String(issue.path[0])}: ${issue.message}`,
    );
    throw new FirewallUsageError(messages.join('\n'));
  }
  const { data } = result;
  if (data['tools-uid'] === data['sidecar-uid']) throw new FirewallUsageError('--tools-uid: must differ from --sidecar-uid: the stdio servers must not run as the sidecar');
  return { sidecarUid: data['sidecar-uid'], ...(data['tools-uid'] === undefined ? {} : { toolsUid: data['tools-uid'] }), ...(data['admin-port'] === undefined ? {} : { adminPort: data['admin-port'] }), allow: data.allow, backend: data.backend, dryRun: data['dry-run'] };
}
