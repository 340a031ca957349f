/**
 * What a running pod holds that its sandbox no longer gives: the firewall, its allowed
 * destinations and the service-account token are set when a pod starts and never change after
 * (the config, the keys, the models and the MCP backends reach running pods without a restart).
 * Read from the pod spec the API server stored, not from the injection record anyone creating a
 * pod can write.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { covers, parseAllowEntry } from '@airlock/sidecar/allow';
import type { AgentSandbox } from '../api/index.js';
import { allowArgument, sidecarImage } from './render.js';
import { FIREWALL_CONTAINER, SIDECAR_CONTAINER, type InjectionSettings } from './settings.js';

/** How one pod differs from what injection would give it now. */
export interface PodDrift {
  /** What the pod may do that a pod started now may not (the agent reaches more than the sandbox allows). */
  wider: string[];
  /** Other differences: narrower isolation, another sidecar image. */
  other: string[];
}

/** The `--allow` arguments of a firewall container's command. */
function allowed(command: readonly string[]): string[] {
  return command.flatMap((arg, i) => (arg === '--allow' && command[i + 1] !== undefined ? [command[i + 1]!] : []));
}

/**
 * The entries of `entries` that no entry of `by` lets through whole (allow.ts `covers`): one pod's
 * destinations against the sandbox's, or the other way round. An entry covered only by several
 * together counts as not covered (a rare false alarm, never a missed one); an entry that does not
 * parse (none the operator rendered) counts as not covered either.
 */
function uncovered(entries: readonly string[], by: readonly string[]): string[] {
  const parse = (text: string) => {
    try {
      return parseAllowEntry(text);
    } catch {
      return undefined;
    }
  };
  const outer = by.map(parse).filter((e) => e !== undefined);
  return entries.filter((text) => {
    const entry = parse(text);
    return entry === undefined || !outer.some((o) => covers(o, entry));
  });
}

/** How `pod` (injected for `sandbox` when it started) differs from a pod injected now. */
export function podDrift(pod: V1Pod, sandbox: AgentSandbox, settings: Pick<InjectionSettings, 'sidecarImage'>): PodDrift {
  const drift: PodDrift = { wider: [], other: [] };
  const spec = pod.spec;
  const firewall = (spec?.initContainers ?? []).find((c) => c.name === FIREWALL_CONTAINER);
  if (sandbox.spec.isolation.network === 'firewall') {
    if (!firewall) drift.wider.push('no firewall');
    else {
      const now = (sandbox.spec.isolation.allowEgress ?? []).map(allowArgument);
      const then = allowed(firewall.command ?? []);
      for (const entry of uncovered(then, now)) drift.wider.push(`egress to ${entry}`);
      for (const entry of uncovered(now, then)) drift.other.push(`no egress to ${entry}`);
    }
  } else if (firewall) drift.other.push('a firewall the sandbox no longer asks for');
  const token = (spec?.volumes ?? []).some((v) => (v.projected?.sources ?? []).some((s) => s.serviceAccountToken !== undefined));
  if (token && !sandbox.spec.isolation.automountServiceAccountToken) drift.wider.push('a service account token');
  const sidecar = [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])].find((c) => c.name === SIDECAR_CONTAINER);
  const image = sidecarImage(sandbox, settings);
  if (sidecar && sidecar.image !== image) drift.other.push(`sidecar image ${sidecar.image ?? '(none)'}, not ${image}`);
  return drift;
}
