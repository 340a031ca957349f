/**
 * What a running pod holds that its sandbox no longer gives: the firewall, its allowed
 * destinations and the service-account token are set when a pod starts and never change after
 * (the config, the keys, the models and the MCP backends reach running pods without a restart).
 * Read from the pod spec the API server stored, not from the injection record anyone creating a
 * pod can write.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { covers, parseAllowEntry, parseFirewallArgs, type AllowEntry } from '@airlock/sidecar/firewall-args';
import type { AgentSandbox } from '../api/index.js';
import { allowArgument, sidecarImage } from './render.js';
import { CONFIG_VOLUME, FIREWALL_CONTAINER, SEAL_KEY_ENV, SIDECAR_CONTAINER, TOOLS_CONTAINER, TOOLS_SHM_VOLUME, type InjectionSettings } from './settings.js';

/** How one pod differs from what injection would give it now. */
export interface PodDrift {
  /** What the pod may do that a pod started now may not (the agent reaches more than the sandbox allows). */
  wider: string[];
  /** Other differences: narrower isolation, another sidecar image. */
  other: string[];
}

/**
 * The destinations a firewall container lets through, read from its command with the firewall's
 * own parser (what the init container applied); undefined when they do not parse.
 */
function allowedBy(command: readonly string[]): readonly AllowEntry[] | undefined {
  try {
    const options = parseFirewallArgs(command.slice(command.indexOf('firewall') + 1));
    return options === 'help' ? undefined : options.allow;
  } catch {
    return undefined;
  }
}

/**
 * The entries of `entries` that no entry of `by` lets through whole (`covers`): one pod's
 * destinations against the sandbox's, or the other way round. An entry covered only by several
 * together counts as not covered (a rare false alarm, never a missed one).
 */
const uncovered = (entries: readonly AllowEntry[], by: readonly AllowEntry[]): string[] =>
  entries.filter((entry) => !by.some((outer) => covers(outer, entry))).map((entry) => allowArgument({ cidr: entry.cidr, ports: [...entry.ports] }));

/** How `pod` (injected for `sandbox` when it started) differs from a pod injected now. */
export function podDrift(pod: V1Pod, sandbox: AgentSandbox, settings: Pick<InjectionSettings, 'sidecarImage' | 'sealKey'>): PodDrift {
  const drift: PodDrift = { wider: [], other: [] };
  const spec = pod.spec;
  const firewall = (spec?.initContainers ?? []).find((c) => c.name === FIREWALL_CONTAINER);
  if (sandbox.spec.isolation.network === 'firewall') {
    if (!firewall) drift.wider.push('no firewall');
    else {
      const now = (sandbox.spec.isolation.allowEgress ?? []).map((entry) => parseAllowEntry(allowArgument(entry)));
      const then = allowedBy(firewall.command ?? []);
      if (!then) drift.wider.push('a firewall whose rules cannot be read');
      else {
        for (const entry of uncovered(then, now)) drift.wider.push(`egress to ${entry}`);
        for (const entry of uncovered(now, then)) drift.other.push(`no egress to ${entry}`);
      }
    }
  } else if (firewall) drift.other.push('a firewall the sandbox no longer asks for');
  const token = (spec?.volumes ?? []).some((v) => (v.projected?.sources ?? []).some((s) => s.serviceAccountToken !== undefined));
  if (token && !sandbox.spec.isolation.automountServiceAccountToken) drift.wider.push('a service account token');
  const injected = [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])];
  const sidecar = injected.find((c) => c.name === SIDECAR_CONTAINER);
  // Injected before airlock-tools had a /dev/shm of its own: a root agent reads the stdio servers' shared memory.
  const tools = injected.find((c) => c.name === TOOLS_CONTAINER);
  if (sidecar && !(tools?.volumeMounts ?? []).some((m) => m.name === TOOLS_SHM_VOLUME)) drift.wider.push("stdio servers sharing the agent's /dev/shm");
  const image = sidecarImage(sandbox, settings);
  if (sidecar && sidecar.image !== image) drift.other.push(`sidecar image ${sidecar.image ?? '(none)'}, not ${image}`);
  // Injected before ADR 29: its sidecar reads the config from the ConfigMap, which someone who may
  // not read the sandbox's Secret may be allowed to edit.
  if ((spec?.volumes ?? []).some((v) => v.name === CONFIG_VOLUME && v.configMap !== undefined)) drift.wider.push('a sidecar config read from the ConfigMap');
  // Injected before ADR 30, its sidecar uses whatever config and origins the Secret holds; with
  // another key (the seal Secret was made again), it refuses every config sealed since.
  if (sidecar && settings.sealKey !== undefined) {
    const key = sidecar.env?.find((e) => e.name === SEAL_KEY_ENV)?.value;
    if (key === undefined) drift.wider.push("a sidecar that does not check the operator's seal");
    else if (key !== settings.sealKey) drift.other.push('a sidecar holding a former seal key (it keeps its last config)');
  }
  return drift;
}
