/**
 * What a running pod holds that its sandbox no longer gives: the firewall, its allowed
 * destinations and the service-account token are set when a pod starts and never change after
 * (the config, the keys, the models and the MCP backends reach running pods without a restart).
 * Read from the pod spec the API server stored, not from the injection record anyone creating a
 * pod can write.
 */
import type { V1Pod } from '@kubernetes/client-node';
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
function allowed(command: readonly string[]): Set<string> {
  const out = new Set<string>();
  command.forEach((arg, i) => {
    if (arg === '--allow' && command[i + 1] !== undefined) out.add(command[i + 1]!);
  });
  return out;
}

/** How `pod` (injected for `sandbox` when it started) differs from a pod injected now. */
export function podDrift(pod: V1Pod, sandbox: AgentSandbox, settings: Pick<InjectionSettings, 'sidecarImage'>): PodDrift {
  const drift: PodDrift = { wider: [], other: [] };
  const spec = pod.spec;
  const firewall = (spec?.initContainers ?? []).find((c) => c.name === FIREWALL_CONTAINER);
  if (sandbox.spec.isolation.network === 'firewall') {
    if (!firewall) drift.wider.push('no firewall');
    else {
      const now = new Set((sandbox.spec.isolation.allowEgress ?? []).map(allowArgument));
      const then = allowed(firewall.command ?? []);
      for (const entry of then) if (!now.has(entry)) drift.wider.push(`egress to ${entry}`);
      for (const entry of now) if (!then.has(entry)) drift.other.push(`no egress to ${entry}`);
    }
  } else if (firewall) drift.other.push('a firewall the sandbox no longer asks for');
  const token = (spec?.volumes ?? []).some((v) => (v.projected?.sources ?? []).some((s) => s.serviceAccountToken !== undefined));
  if (token && !sandbox.spec.isolation.automountServiceAccountToken) drift.wider.push('a service account token');
  const sidecar = [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])].find((c) => c.name === SIDECAR_CONTAINER);
  const image = sidecarImage(sandbox, settings);
  if (sidecar && sidecar.image !== image) drift.other.push(`sidecar image ${sidecar.image ?? '(none)'}, not ${image}`);
  return drift;
}
