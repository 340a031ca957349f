import type { V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { baselineContainerRefusals, baselinePodRefusals } from './baseline.js';
import { testPod } from './test-fixtures.js';

const withAgent = (container: object, spec: Partial<V1Pod['spec']> = {}): V1Pod => testPod('research', { containers: [{ name: 'agent', ...container }], ...spec });
const containerPaths = (pod: V1Pod) => baselineContainerRefusals(pod.spec!.containers[0]!, 'spec.containers[0]').map((r) => r.path);
const podPaths = (pod: V1Pod) => baselinePodRefusals(pod).map((r) => r.path);

describe('the baseline Pod Security Standard', () => {
  it('lets an ordinary pod through, with the capabilities and sysctls baseline allows', () => {
    const pod = withAgent(
      { securityContext: { capabilities: { add: ['NET_BIND_SERVICE', 'cap_chown', 'KILL'] }, seccompProfile: { type: 'RuntimeDefault' }, appArmorProfile: { type: 'Localhost', localhostProfile: 'agent' }, seLinuxOptions: { type: 'container_t', level: 's0:c1' }, procMount: 'Default' }, ports: [{ containerPort: 8080, hostPort: 0 }] },
      { securityContext: { sysctls: [{ name: 'net.ipv4.ip_unprivileged_port_start', value: '0' }] }, volumes: [{ name: 'tmp', emptyDir: {} }] },
    );
    pod.metadata!.annotations = { 'container.apparmor.security.beta.kubernetes.io/agent': 'runtime/default' };
    expect([...containerPaths(pod), ...podPaths(pod)]).toEqual([]);
  });

  it.each([
    ['privileged', { securityContext: { privileged: true } }, 'spec.containers[0].securityContext.privileged'],
    ['an added SYS_PTRACE', { securityContext: { capabilities: { add: ['CHOWN', 'CAP_SYS_PTRACE'] } } }, 'spec.containers[0].securityContext.capabilities.add[1]'],
    ['an unmasked /proc', { securityContext: { procMount: 'Unmasked' } }, 'spec.containers[0].securityContext.procMount'],
    ['Unconfined seccomp', { securityContext: { seccompProfile: { type: 'Unconfined' } } }, 'spec.containers[0].securityContext.seccompProfile.type'],
    ['Unconfined AppArmor', { securityContext: { appArmorProfile: { type: 'Unconfined' } } }, 'spec.containers[0].securityContext.appArmorProfile.type'],
    ['a custom SELinux role', { securityContext: { seLinuxOptions: { role: 'sysadm_r' } } }, 'spec.containers[0].securityContext.seLinuxOptions.role'],
    ['a Windows HostProcess container', { securityContext: { windowsOptions: { hostProcess: true } } }, 'spec.containers[0].securityContext.windowsOptions.hostProcess'],
    ['a hostPort', { ports: [{ containerPort: 80, hostPort: 80 }] }, 'spec.containers[0].ports[0].hostPort'],
  ])('refuses a container with %s, naming the field', (_what, container, path) => {
    expect(containerPaths(withAgent(container))).toEqual([path]);
  });

  it.each([
    ['hostIPC', { hostIPC: true }, 'spec.hostIPC'],
    ['a hostPath volume', { volumes: [{ name: 'root', hostPath: { path: '/' } }] }, 'spec.volumes[0].hostPath'],
    ['an unsafe sysctl', { securityContext: { sysctls: [{ name: 'kernel.msgmax', value: '1' }] } }, 'spec.securityContext.sysctls[0].name'],
    ['Unconfined seccomp for the pod', { securityContext: { seccompProfile: { type: 'Unconfined' } } }, 'spec.securityContext.seccompProfile.type'],
    ['a custom SELinux user for the pod', { securityContext: { seLinuxOptions: { user: 'system_u' } } }, 'spec.securityContext.seLinuxOptions.user'],
  ])('refuses a pod with %s, naming the field', (_what, spec, path) => {
    expect(podPaths(withAgent({}, spec as Partial<V1Pod['spec']>))).toEqual([path]);
  });

  it('refuses the AppArmor annotation that turns it off', () => {
    const pod = withAgent({});
    pod.metadata!.annotations = { 'container.apparmor.security.beta.kubernetes.io/agent': 'unconfined' };
    expect(podPaths(pod)).toEqual(['metadata.annotations[container.apparmor.security.beta.kubernetes.io/agent]']);
  });
});
