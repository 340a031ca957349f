/**
 * Kubernetes' baseline Pod Security Standard (as of v1.35), checked by the webhook for every
 * container a sandbox pod brings and for the pod itself. Pod Security Admission enforces the same
 * profile only in namespaces labelled for it; a sandbox pod gets it wherever it runs, and the
 * refusal names the field. The firewall init container Airlock injects is the one exception
 * (it needs NET_ADMIN and NET_RAW for the few milliseconds it runs): it is rendered by Airlock
 * and never comes from the pod author, so it is not checked here.
 * https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline
 */
import type { V1Container, V1EphemeralContainer, V1Pod, V1PodSecurityContext, V1SecurityContext } from '@kubernetes/client-node';
import type { Refusal } from './refusal.js';

/** Capabilities baseline lets a container add; anything else is refused. */
export const BASELINE_CAPABILITIES: ReadonlySet<string> = new Set([
  'AUDIT_WRITE', 'CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'MKNOD', 'NET_BIND_SERVICE', 'SETFCAP', 'SETGID', 'SETPCAP', 'SETUID', 'SYS_CHROOT',
]);

/** The sysctls baseline calls safe: namespaced, and unable to affect other pods or the node. */
export const SAFE_SYSCTLS: ReadonlySet<string> = new Set([
  'kernel.shm_rmid_forced',
  'net.ipv4.ip_local_port_range',
  'net.ipv4.ip_unprivileged_port_start',
  'net.ipv4.tcp_syncookies',
  'net.ipv4.ping_group_range',
  'net.ipv4.ip_local_reserved_ports',
  'net.ipv4.tcp_keepalive_time',
  'net.ipv4.tcp_fin_timeout',
  'net.ipv4.tcp_keepalive_intvl',
  'net.ipv4.tcp_keepalive_probes',
  'net.ipv4.tcp_rmem',
  'net.ipv4.tcp_wmem',
]);

/** SELinux types baseline allows (the container runtime's own). */
const SELINUX_TYPES: ReadonlySet<string> = new Set(['', 'container_t', 'container_init_t', 'container_kvm_t', 'container_engine_t']);

/** The annotation that set AppArmor before the securityContext field existed. */
const APPARMOR_ANNOTATION_PREFIX = 'container.apparmor.security.beta.kubernetes.io/';

/** Container runtimes accept capability names with or without the `CAP_` prefix, in any case. */
export const normalizeCapability = (name: string): string => name.toUpperCase().replace(/^CAP_/, '');

/** Checks shared by the pod's securityContext and each container's. */
function securityContextRefusals(sc: V1SecurityContext | V1PodSecurityContext | undefined, path: string): Refusal[] {
  if (!sc) return [];
  const refusals: Refusal[] = [];
  if (sc.windowsOptions?.hostProcess) {
    refusals.push({ path: `${path}.windowsOptions.hostProcess`, message: 'a HostProcess container runs on the node itself (Pod Security Standard baseline)' });
  }
  if (sc.seccompProfile?.type === 'Unconfined') {
    refusals.push({ path: `${path}.seccompProfile.type`, message: 'Unconfined turns off the syscall filter (Pod Security Standard baseline); use RuntimeDefault or Localhost' });
  }
  const apparmor = sc.appArmorProfile?.type;
  if (apparmor !== undefined && apparmor !== 'RuntimeDefault' && apparmor !== 'Localhost') {
    refusals.push({ path: `${path}.appArmorProfile.type`, message: `${apparmor} turns off AppArmor (Pod Security Standard baseline); use RuntimeDefault or Localhost` });
  }
  const selinux = sc.seLinuxOptions;
  if (selinux?.type !== undefined && !SELINUX_TYPES.has(selinux.type)) {
    refusals.push({ path: `${path}.seLinuxOptions.type`, message: `${selinux.type} is not one of the container runtime's SELinux types (Pod Security Standard baseline)` });
  }
  for (const field of ['user', 'role'] as const) {
    if (selinux?.[field]) refusals.push({ path: `${path}.seLinuxOptions.${field}`, message: `a custom SELinux ${field} is not allowed (Pod Security Standard baseline)` });
  }
  return refusals;
}

/** Baseline checks of the pod as a whole: host namespaces, hostPath, sysctls, the pod's securityContext, AppArmor annotations. */
export function baselinePodRefusals(pod: V1Pod): Refusal[] {
  const spec = pod.spec;
  if (!spec) return [];
  const refusals: Refusal[] = [];
  if (spec.hostIPC) {
    refusals.push({ path: 'spec.hostIPC', message: 'a sandbox pod cannot share the node\'s IPC namespace: it could read other processes\' shared memory (Pod Security Standard baseline)' });
  }
  refusals.push(...securityContextRefusals(spec.securityContext, 'spec.securityContext'));
  (spec.securityContext?.sysctls ?? []).forEach((sysctl, i) => {
    if (!SAFE_SYSCTLS.has(sysctl.name)) {
      refusals.push({ path: `spec.securityContext.sysctls[${i}].name`, message: `${sysctl.name} is not one of the safe sysctls (Pod Security Standard baseline)` });
    }
  });
  (spec.volumes ?? []).forEach((volume, i) => {
    if (volume.hostPath) {
      refusals.push({ path: `spec.volumes[${i}].hostPath`, message: `hostPath ${volume.hostPath.path} would expose the node's files, the Secrets of every pod on it included (Pod Security Standard baseline)` });
    }
  });
  for (const [key, value] of Object.entries(pod.metadata?.annotations ?? {})) {
    if (key.startsWith(APPARMOR_ANNOTATION_PREFIX) && value !== 'runtime/default' && !value.startsWith('localhost/')) {
      refusals.push({ path: `metadata.annotations[${key}]`, message: `${value} turns off AppArmor (Pod Security Standard baseline); use runtime/default or localhost/<profile>` });
    }
  }
  return refusals;
}

/** Baseline checks of one container; `path` is its field path, e.g. `spec.containers[0]`. */
export function baselineContainerRefusals(container: V1Container | V1EphemeralContainer, path: string): Refusal[] {
  const refusals: Refusal[] = [];
  const sc = container.securityContext;
  if (sc?.privileged) {
    refusals.push({ path: `${path}.securityContext.privileged`, message: 'a privileged container can rewrite the firewall and read the sidecar\'s files (Pod Security Standard baseline)' });
  }
  if (sc?.procMount !== undefined && sc.procMount !== 'Default') {
    refusals.push({ path: `${path}.securityContext.procMount`, message: `${sc.procMount} unmasks /proc (Pod Security Standard baseline); use Default` });
  }
  refusals.push(...securityContextRefusals(sc, `${path}.securityContext`));
  (sc?.capabilities?.add ?? []).forEach((cap, j) => {
    if (!BASELINE_CAPABILITIES.has(normalizeCapability(cap))) {
      refusals.push({ path: `${path}.securityContext.capabilities.add[${j}]`, message: `${cap} is not one of the capabilities a container may add (Pod Security Standard baseline)` });
    }
  });
  (container.ports ?? []).forEach((port, j) => {
    if (port.hostPort !== undefined && port.hostPort !== 0) {
      refusals.push({ path: `${path}.ports[${j}].hostPort`, message: `hostPort ${port.hostPort} would open the agent to inbound connections on the node's address (Pod Security Standard baseline)` });
    }
  });
  return refusals;
}
