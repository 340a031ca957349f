/**
 * `airlock-sidecar firewall`: what the `airlock-firewall` init container runs before any other
 * container of an agent pod starts. It leaves the pod's network namespace with one way out for
 * the agent containers: the sidecar (loopback, or the shared socket), plus the sandbox's
 * `allowEgress` destinations. The sidecar's own UID keeps its egress. See rules.ts for the rules
 * and apply.ts for how they reach the kernel.
 */
import { applyFirewall, FirewallApplyError } from './apply.js';
import { FIREWALL_USAGE, type FirewallOptions, FirewallUsageError, parseFirewallArgs } from './args.js';
import { renderRestore } from './rules.js';

export { parseAllowEntry, AllowEntryError, type AllowEntry } from './allow.js';
export { parseFirewallArgs, FirewallUsageError, FIREWALL_USAGE, type FirewallOptions } from './args.js';
export { applyFirewall, FirewallApplyError, type ApplyResult } from './apply.js';
export { renderRestore, chainRules, CHAIN, type FirewallPlan, type Family } from './rules.js';

/**
 * Runs the firewall command. `argv` is what follows `firewall` on the command line. Prints the
 * applied rules on stdout and any problem on stderr. Resolves to the exit code: 0 applied (or
 * printed, with `--dry-run`), 1 not applied (the pod must not start), 2 bad arguments.
 */
export async function runFirewall(argv: string[]): Promise<number> {
  let options: FirewallOptions | 'help';
  try {
    options = parseFirewallArgs(argv);
  } catch (err) {
    if (!(err instanceof FirewallUsageError)) throw err;
    console.error(`airlock firewall: ${err.message}\n${FIREWALL_USAGE}`);
    return 2;
  }
  if (options === 'help') {
    console.log(FIREWALL_USAGE);
    return 0;
  }

  if (options.dryRun) {
    console.log('# airlock firewall --dry-run: nothing applied');
    for (const family of [4, 6] as const) console.log(`# IPv${family}\n${renderRestore(options, family)}`);
    return 0;
  }

  try {
    const result = await applyFirewall(options, options.backend);
    console.log(`# airlock firewall: applied with the ${result.toolset} iptables tools`);
    for (const { family, command, rules } of result.applied) console.log(`# IPv${family}: ${command}\n${rules}`);
    if (result.skippedIPv6) console.log(`# IPv6 rules not applied: ${result.skippedIPv6}`);
    return 0;
  } catch (err) {
    if (!(err instanceof FirewallApplyError)) throw err;
    console.error(`airlock firewall: the rules were NOT applied, so this pod must not start: ${err.message}`);
    return 1;
  }
}
