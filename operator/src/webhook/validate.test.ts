import type { V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { SIDECAR_CONTAINER } from './settings.js';
import { TEST_IMAGE, testPod, testSettings } from './test-fixtures.js';
import { formatRefusal, validatePod } from './validate.js';

const settings = testSettings();
const refusalsOf = (pod: V1Pod) => validatePod(pod, settings).map(formatRefusal);
const pathsOf = (pod: V1Pod) => validatePod(pod, settings).map((r) => r.path);

describe('validatePod', () => {
  it('accepts an ordinary sandbox pod', () => {
    expect(validatePod(testPod(), settings)).toEqual([]);
  });

  it("refuses host name mappings and the pod's own DNS servers or search domains, through which the sidecar would resolve a provider to the agent's loopback", () => {
    expect(pathsOf(testPod('research', { hostAliases: [{ ip: '127.0.0.1', hostnames: ['vllm.models.svc'] }] }))).toEqual(['spec.hostAliases']);
    expect(pathsOf(testPod('research', { dnsPolicy: 'None', dnsConfig: { nameservers: ['127.0.0.1'] } }))).toEqual(['spec.dnsConfig.nameservers']);
    expect(pathsOf(testPod('research', { dnsConfig: { searches: ['attacker.example'] } }))).toEqual(['spec.dnsConfig.searches']);
    expect(pathsOf(testPod('research', { dnsPolicy: 'None' }))).toEqual(['spec.dnsPolicy']);
    // The node's resolver may be a loopback address, the agent's in the pod.
    expect(pathsOf(testPod('research', { dnsPolicy: 'Default' }))).toEqual(['spec.dnsPolicy']);
    // Resolver options change no answer; the cluster's DNS is fine.
    expect(validatePod(testPod('research', { dnsConfig: { options: [{ name: 'ndots', value: '2' }] } }), settings)).toEqual([]);
    expect(validatePod(testPod('research', { dnsPolicy: 'ClusterFirst' }), settings)).toEqual([]);
  });

  it('refuses an app container running as the sidecar UID, naming the container', () => {
    const pod = testPod('research', { containers: [{ name: 'agent' }, { name: 'sneaky', securityContext: { runAsUser: 61337 } }] });
    expect(refusalsOf(pod)).toEqual([
      "spec.containers[1].securityContext.runAsUser: 61337 is the Airlock sidecar's UID; an app container must not run as it",
    ]);
  });

  it('refuses an init container or an ephemeral container running as the sidecar UID', () => {
    const pod = testPod('research', {
      initContainers: [{ name: 'setup', securityContext: { runAsUser: 61337 } }],
      ephemeralContainers: [{ name: 'debugger', securityContext: { runAsUser: 61337 } }],
    });
    expect(pathsOf(pod)).toEqual(['spec.initContainers[0].securityContext.runAsUser', 'spec.ephemeralContainers[0].securityContext.runAsUser']);
  });

  it('refuses a pod-level runAsUser of the sidecar UID that a container inherits', () => {
    const inherits = testPod('research', { securityContext: { runAsUser: 61337 }, containers: [{ name: 'agent' }, { name: 'other', securityContext: { runAsUser: 1000 } }] });
    expect(refusalsOf(inherits)).toEqual(["spec.securityContext.runAsUser: 61337 is the Airlock sidecar's UID; containers agent would run as it"]);
    const overridden = testPod('research', { securityContext: { runAsUser: 61337 }, containers: [{ name: 'agent', securityContext: { runAsUser: 1000 } }] });
    expect(validatePod(overridden, settings)).toEqual([]);
  });

  it("refuses airlock-tools' group wherever a pod gives it to a container: runAsGroup of a container or the pod, supplementalGroups, fsGroup, and an ephemeral container inheriting it", () => {
    const pod = testPod('research', {
      securityContext: { runAsGroup: 61338, supplementalGroups: [1000, 61338], fsGroup: 61338 },
      initContainers: [{ name: 'setup', securityContext: { runAsGroup: 61338 } }],
      containers: [{ name: 'agent', securityContext: { runAsGroup: 1000 } }],
      ephemeralContainers: [{ name: 'debugger', securityContext: { runAsUser: 1000 } }],
    });
    expect(pathsOf(pod)).toEqual([
      'spec.securityContext.runAsGroup',
      'spec.securityContext.fsGroup',
      'spec.securityContext.supplementalGroups[1]',
      'spec.initContainers[0].securityContext.runAsGroup',
      'spec.ephemeralContainers[0].securityContext.runAsGroup',
    ]);
    expect(refusalsOf(pod)[2]).toBe(
      "spec.securityContext.supplementalGroups[1]: 61338 is the group of Airlock's airlock-tools container, which supplementalGroups gives every container; stdio servers run in it, and the shared memory and message queues they open to their group would be the agent's (a pod's containers share one IPC namespace)",
    );
    // The sidecar's group is every container's on purpose (the socket's), and other groups are the pod's own.
    expect(validatePod(testPod('research', { securityContext: { runAsGroup: 1000, supplementalGroups: [61337, 2000], fsGroup: 2000 }, containers: [{ name: 'agent' }] }), settings)).toEqual([]);
  });

  it("refuses any container running as airlock-tools' UID, its own or the pod's, and an ephemeral one inheriting it", () => {
    const pod = testPod('research', {
      initContainers: [{ name: 'setup', securityContext: { runAsUser: 61338 } }],
      containers: [{ name: 'agent', securityContext: { runAsUser: 61338 } }],
      ephemeralContainers: [{ name: 'debugger', securityContext: { runAsUser: 61338 } }],
    });
    expect(refusalsOf(pod)).toEqual([
      "spec.initContainers[0].securityContext.runAsUser: 61338 is the UID of Airlock's airlock-tools container; an app container must not run as it",
      "spec.containers[0].securityContext.runAsUser: 61338 is the UID of Airlock's airlock-tools container; an app container must not run as it",
      "spec.ephemeralContainers[0].securityContext.runAsUser: 61338 is the UID of Airlock's airlock-tools container; an app container must not run as it",
    ]);
    const inherits = testPod('research', { securityContext: { runAsUser: 61338 }, containers: [{ name: 'agent' }] });
    expect(refusalsOf(inherits)).toEqual(["spec.securityContext.runAsUser: 61338 is the UID of Airlock's airlock-tools container; containers agent would run as it"]);
    expect(validatePod(testPod('research', { containers: [{ name: 'agent', securityContext: { runAsUser: 4343 } }] }), testSettings({ toolsUID: 4343 })).map((r) => r.path)).toEqual([
      'spec.containers[0].securityContext.runAsUser',
    ]);
  });

  it("refuses mounting the stdio host's socket volume or the tools' scratch volume in an app, init or debug container", () => {
    const pod = testPod('research', {
      initContainers: [{ name: 'setup', volumeMounts: [{ name: 'airlock-tools-tmp', mountPath: '/scratch' }] }],
      containers: [{ name: 'agent', volumeMounts: [{ name: 'airlock-tools', mountPath: '/var/run/airlock-tools' }] }],
      ephemeralContainers: [{ name: 'debugger', volumeMounts: [{ name: 'airlock-tools', mountPath: '/t' }] }],
    });
    expect(refusalsOf(pod)).toEqual([
      "spec.initContainers[0].volumeMounts[0].name: airlock-tools-tmp is mounted in Airlock's sidecar and airlock-tools containers only",
      "spec.containers[0].volumeMounts[0].name: airlock-tools is mounted in Airlock's sidecar and airlock-tools containers only",
      "spec.ephemeralContainers[0].volumeMounts[0].name: airlock-tools is mounted in Airlock's sidecar and airlock-tools containers only",
    ]);
  });

  it("refuses mounting airlock-tools' /dev/shm volume in an app, init or debug container, where the agent would read the stdio servers' shared memory", () => {
    const pod = testPod('research', {
      initContainers: [{ name: 'setup', volumeMounts: [{ name: 'airlock-tools-shm', mountPath: '/dev/shm' }] }],
      containers: [{ name: 'agent', volumeMounts: [{ name: 'airlock-tools-shm', mountPath: '/shm', readOnly: true }] }],
      ephemeralContainers: [{ name: 'debugger', volumeMounts: [{ name: 'airlock-tools-shm', mountPath: '/dev/shm' }] }],
    });
    const why = "is the /dev/shm of Airlock's airlock-tools container, where stdio servers keep their shared memory, and is mounted there only";
    expect(refusalsOf(pod)).toEqual([
      `spec.initContainers[0].volumeMounts[0].name: airlock-tools-shm ${why}`,
      `spec.containers[0].volumeMounts[0].name: airlock-tools-shm ${why}`,
      `spec.ephemeralContainers[0].volumeMounts[0].name: airlock-tools-shm ${why}`,
    ]);
  });

  it("refuses the sidecar's own image (USER is the sidecar UID) in any container that sets no UID, pod-level or its own", () => {
    const pod = testPod('research', {
      initContainers: [{ name: 'setup', image: 'ghcr.io/airlock-dev/airlock-sidecar@sha256:00' }],
      containers: [{ name: 'agent', image: TEST_IMAGE }, { name: 'tools', image: TEST_IMAGE, securityContext: { runAsUser: 1000 } }],
      ephemeralContainers: [{ name: 'dbg', image: 'ghcr.io/airlock-dev/airlock-sidecar:latest' }],
    });
    expect(pathsOf(pod)).toEqual(['spec.initContainers[0].image', 'spec.containers[0].image', 'spec.ephemeralContainers[0].image']);
    expect(validatePod(testPod('research', { securityContext: { runAsUser: 1000 }, containers: [{ name: 'agent', image: TEST_IMAGE }] }), settings)).toEqual([]);
  });

  it('checks the configured sidecar UID, not the default', () => {
    const pod = testPod('research', { containers: [{ name: 'agent', securityContext: { runAsUser: 4242 } }] });
    expect(validatePod(pod, testSettings({ sidecarUID: 4242 })).map((r) => r.path)).toEqual(['spec.containers[0].securityContext.runAsUser']);
    expect(validatePod(pod, settings)).toEqual([]);
  });

  it('refuses a privileged container', () => {
    const pod = testPod('research', { containers: [{ name: 'agent', securityContext: { privileged: true } }] });
    expect(pathsOf(pod)).toEqual(['spec.containers[0].securityContext.privileged']);
  });

  it.each(['NET_ADMIN', 'NET_RAW', 'SYS_ADMIN', 'SETUID', 'SETGID', 'ALL', 'CAP_NET_ADMIN', 'net_raw'])('refuses adding %s', (cap) => {
    const pod = testPod('research', { containers: [{ name: 'agent', securityContext: { capabilities: { add: ['NET_BIND_SERVICE', cap] } } }] });
    expect(refusalsOf(pod)).toEqual([
      `spec.containers[0].securityContext.capabilities.add[1]: ${cap} would let an app container bypass the Airlock firewall or become the sidecar's UID`,
    ]);
  });

  it('allows adding a harmless capability', () => {
    const pod = testPod('research', { containers: [{ name: 'agent', securityContext: { capabilities: { add: ['NET_BIND_SERVICE', 'CHOWN'] } } }] });
    expect(validatePod(pod, settings)).toEqual([]);
  });

  it.each(['hostNetwork', 'hostPID', 'shareProcessNamespace'] as const)('refuses %s', (field) => {
    const pod = testPod('research', { [field]: true });
    expect(pathsOf(pod)).toEqual([`spec.${field}`]);
    expect(validatePod(testPod('research', { [field]: false }), settings)).toEqual([]);
  });

  it('refuses any way for an app container to reach the credentials Secret', () => {
    const secret = 'airlock-research-credentials';
    const pod = testPod('research', {
      containers: [
        {
          name: 'agent',
          env: [{ name: 'KEY', valueFrom: { secretKeyRef: { name: secret, key: 'openai-0' } } }],
          envFrom: [{ secretRef: { name: secret } }],
          volumeMounts: [{ name: 'airlock-credentials', mountPath: '/keys' }, { name: 'airlock-config', mountPath: '/cfg' }],
        },
      ],
      volumes: [
        { name: 'keys', secret: { secretName: secret } },
        { name: 'mixed', projected: { sources: [{ configMap: { name: 'x' } }, { secret: { name: secret } }] } },
      ],
    });
    expect(pathsOf(pod)).toEqual([
      'spec.containers[0].volumeMounts[0].name',
      'spec.containers[0].volumeMounts[1].name',
      'spec.containers[0].env[0].valueFrom.secretKeyRef.name',
      'spec.containers[0].envFrom[0].secretRef.name',
      'spec.volumes[0].secret.secretName',
      'spec.volumes[1].projected.sources[1].secret.name',
    ]);
  });

  it('reports every problem at once', () => {
    const pod = testPod('research', { hostNetwork: true, containers: [{ name: 'agent', securityContext: { privileged: true, runAsUser: 61337 } }] });
    expect(pathsOf(pod)).toEqual(['spec.hostNetwork', 'spec.containers[0].securityContext.runAsUser', 'spec.containers[0].securityContext.privileged']);
  });

  it('leaves containers under Airlock\'s names to injection, which replaces them', () => {
    const pod = testPod('research', { containers: [{ name: 'agent' }, { name: SIDECAR_CONTAINER, securityContext: { runAsUser: 61337 } }] });
    expect(validatePod(pod, settings)).toEqual([]);
  });

  it('refuses a pod without a spec', () => {
    expect(pathsOf({ metadata: { name: 'x' } })).toEqual(['spec']);
  });
});
