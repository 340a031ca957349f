/**
 * The firewall's I/O: find the iptables tools, read the current rules, restore ours, read them
 * back. Every failure becomes a FirewallApplyError, so the init container exits non-zero and the
 * pod never starts with the agent's egress open.
 *
 * Which tools (`--backend auto`, the default): the first of
 *   nft     iptables-nft-save/-restore and ip6tables-nft-save/-restore
 *   legacy  iptables-legacy-save/-restore and ip6tables-legacy-save/-restore
 *   default iptables-save/-restore and ip6tables-save/-restore (images without the suffixed names)
 * that is installed and whose `iptables-save -t filter` works in this network namespace.
 * nft comes first: it is the default of current distributions, and newer kernels may be built
 * without the legacy xtables interface (CONFIG_NETFILTER_XTABLES_LEGACY), while a kernel without
 * nf_tables makes the nft save fail and auto moves on to legacy. Mixing is not a hole: when
 * another init container used the other flavour, a packet must pass both rule sets, so our DROP
 * still holds; `--backend` pins the flavour to match theirs so that `iptables-save` shows all.
 * Binaries are looked up on PATH by spawn, as the shell would.
 */
import { spawn } from 'node:child_process';
import type { BackendChoice } from './args.js';
import { kernelHasIPv6 } from './ipv6.js';
import { checkApplied, countJumps, type Family, type FirewallPlan, renderRestore } from './rules.js';

/** One flavour of the iptables tools. */
export interface Toolset {
  name: 'nft' | 'legacy' | 'default';
  save: Record<Family, string>;
  restore: Record<Family, string>;
}

/** The flavours `auto` tries, in order. */
export const TOOLSETS: readonly Toolset[] = [
  toolset('nft', '-nft'),
  toolset('legacy', '-legacy'),
  toolset('default', ''),
];

function toolset(name: Toolset['name'], suffix: string): Toolset {
  return {
    name,
    save: { 4: `iptables${suffix}-save`, 6: `ip6tables${suffix}-save` },
    restore: { 4: `iptables${suffix}-restore`, 6: `ip6tables${suffix}-restore` },
  };
}

/** The rules could not be applied (or verified); the message says which tool failed and why. */
export class FirewallApplyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FirewallApplyError';
  }
}

/** What was applied for one family: the restore command and the exact text fed to it. */
export interface AppliedFamily {
  family: Family;
  command: string;
  rules: string;
}

/** The outcome of a successful apply. */
export interface ApplyResult {
  toolset: Toolset['name'];
  applied: AppliedFamily[];
  /** Set when IPv6 rules were not applied, with the reason (only: the kernel has no IPv6). */
  skippedIPv6?: string;
}

// Legacy iptables serialises writers with a lock; wait for it rather than fail at once.
const RESTORE_ARGS = ['--noflush', '--wait', '10'];
const TOOL_TIMEOUT_MS = 30_000;

/**
 * Applies the plan's rules for IPv4 and, when the kernel has IPv6, for IPv6 in the current
 * network namespace, then reads them back to check them. Throws FirewallApplyError on failure.
 */
export async function applyFirewall(plan: FirewallPlan, backend: BackendChoice): Promise<ApplyResult> {
  const { tools, saved4 } = await detectTools(backend);
  // Without IPv6 in the kernel there is nothing to leak through; with it, an ip6tables failure
  // is an error like any other.
  const hasIPv6 = kernelHasIPv6();
  const families: Family[] = hasIPv6 ? [4, 6] : [4];

  const applied: AppliedFamily[] = [];
  for (const family of families) {
    const current = family === 4 ? saved4 : await save(tools, family);
    const rules = renderRestore(plan, family, countJumps(current));
    const command = tools.restore[family];
    const result = await run(command, RESTORE_ARGS, rules);
    if (result.code !== 0) throw new FirewallApplyError(describeFailure(`applying the IPv${family} rules`, command, result));
    const problem = checkApplied(await save(tools, family));
    if (problem) throw new FirewallApplyError(`the IPv${family} rules did not take effect (${command}): ${problem}`);
    applied.push({ family, command: `${command} ${RESTORE_ARGS.join(' ')}`, rules });
  }
  return {
    toolset: tools.name,
    applied,
    ...(hasIPv6 ? {} : { skippedIPv6: 'the kernel has no IPv6 (/proc/net/if_inet6 is absent)' }),
  };
}

/** Picks the toolset (see the file comment); returns it with the IPv4 filter table it read. */
async function detectTools(backend: BackendChoice): Promise<{ tools: Toolset; saved4: string }> {
  const candidates = backend === 'auto' ? TOOLSETS : TOOLSETS.filter((t) => t.name === backend);
  const attempts: string[] = [];
  for (const tools of candidates) {
    const result = await run(tools.save[4], ['-t', 'filter']);
    if (result.code === 0) return { tools, saved4: result.stdout };
    attempts.push(describeFailure('reading the rules', tools.save[4], result));
  }
  const hint = attempts.every((a) => a.includes('not found'))
    ? 'Install iptables (Debian/Ubuntu: apt-get install iptables; Alpine: apk add iptables ip6tables)'
    : 'The container needs the NET_ADMIN capability, and NET_RAW for legacy iptables';
  throw new FirewallApplyError(`no usable iptables tools in this network namespace. ${hint}. Tried:\n  ${attempts.join('\n  ')}`);
}

async function save(tools: Toolset, family: Family): Promise<string> {
  const command = tools.save[family];
  const result = await run(command, ['-t', 'filter']);
  if (result.code !== 0) throw new FirewallApplyError(describeFailure(`reading the IPv${family} rules`, command, result));
  return result.stdout;
}

interface RunResult {
  /** Exit code; null when the process could not start or was killed. */
  code: number | null;
  stdout: string;
  stderr: string;
  /** Why the process did not run to an exit code (not found, timeout, signal). */
  failure?: string;
}

function describeFailure(what: string, command: string, result: RunResult): string {
  const why = result.failure ?? `exit ${result.code}`;
  const detail = result.stderr.trim();
  return `${what} with ${command} failed: ${why}${detail ? `: ${detail}` : ''}`;
}

/** Runs a tool with optional stdin; never rejects, so each caller words its own error. */
function run(command: string, args: readonly string[], input?: string): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], timeout: TOOL_TIMEOUT_MS });
    let stdout = '';
    let stderr = '';
    let failure: string | undefined;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', (err: NodeJS.ErrnoException) => {
      failure = err.code === 'ENOENT' ? 'not found on PATH' : err.message;
    });
    // A tool that exits before reading all of stdin makes the write fail with EPIPE; its exit
    // code and stderr say more than the EPIPE, so the write error itself is not the story.
    child.stdin.on('error', () => undefined);
    child.stdin.end(input ?? '');
    child.on('close', (code, signal) => {
      if (signal && !failure) failure = `killed by ${signal}${signal === 'SIGTERM' ? ` after ${TOOL_TIMEOUT_MS} ms` : ''}`;
      resolve({ code: failure ? null : code, stdout, stderr, ...(failure ? { failure } : {}) });
    });
  });
}
