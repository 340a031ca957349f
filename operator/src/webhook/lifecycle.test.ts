import type { V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { injectPod } from './inject.js';
import { carriesSidecar, decideUpdate, sharesLimits } from './lifecycle.js';
import { formatRefusal } from './refusal.js';
import { INJECTED_ANNOTATION } from './settings.js';
import { TEST_IMAGE, testPod, testSandbox, testSettings } from './test-fixtures.js';

const settings = testSettings();
const injected = (): V1Pod => injectPod(testPod(), testSandbox('research'), settings).pod;
const refusalsOf = (before: V1Pod, after: V1Pod) => decideUpdate(before, after, settings).refusals.map(formatRefusal);

describe('decideUpdate', () => {
  it('lets an update that leaves the label and what injection owns alone through unchanged', () => {
    const after = injected();
    after.metadata!.labels!['app'] = 'agent';
    after.spec!.containers[0]!.image = 'ghcr.io/example/agent:2';
    expect(decideUpdate(injected(), after, settings)).toEqual({ refusals: [] });
  });

  it("refuses switching an app container to the sidecar's image, which would run as the sidecar UID", () => {
    const after = injected();
    after.spec!.containers[0]!.image = `${TEST_IMAGE.split(':')[0]}:other`;
    expect(refusalsOf(injected(), after)).toEqual([
      `spec.containers[0].image: ${TEST_IMAGE.split(':')[0]}:other is the Airlock sidecar's image, whose USER is the sidecar's UID 61337; set securityContext.runAsUser to another UID to run it`,
    ]);
  });

  it('refuses changing the sandbox label to another sandbox', () => {
    const after = injected();
    after.metadata!.labels!['airlock.dev/sandbox'] = 'other';
    expect(refusalsOf(injected(), after)).toEqual([
      'metadata.labels[airlock.dev/sandbox]: cannot be changed to "other": the pod was created for AgentSandbox "research"; delete it and create a new one',
    ]);
  });

  it('refuses adding the sandbox label to a pod created without it', () => {
    const before = testPod();
    delete before.metadata!.labels;
    expect(refusalsOf(before, testPod())).toEqual([
      'metadata.labels[airlock.dev/sandbox]: can only be set when the pod is created: Airlock injects its sidecar then, and this pod would run without it',
    ]);
  });

  it('refuses changing the image of the sidecar, of airlock-tools or of the firewall, naming the field', () => {
    const after = injected();
    after.spec!.initContainers![0]!.image = 'evil.example/firewall:1';
    after.spec!.initContainers![1]!.image = 'evil.example/tools:1';
    after.spec!.initContainers![2]!.image = 'evil.example/sidecar:1';
    expect(refusalsOf(injected(), after)).toEqual([
      'spec.initContainers[0].image: airlock-firewall is injected by Airlock and cannot be changed after the pod is created',
      'spec.initContainers[1].image: airlock-tools is injected by Airlock and cannot be changed after the pod is created',
      'spec.initContainers[2].image: airlock-sidecar is injected by Airlock and cannot be changed after the pod is created',
    ]);
  });

  it('refuses changing airlock-tools\' UID or mounts and the tools volumes', () => {
    const after = injected();
    after.spec!.initContainers![1]!.securityContext!.runAsUser = 61337;
    after.spec!.volumes!.find((v) => v.name === 'airlock-tools')!.emptyDir = { medium: 'Memory' };
    expect(refusalsOf(injected(), after)).toEqual([
      'spec.initContainers[1].securityContext: airlock-tools is injected by Airlock and cannot be changed after the pod is created',
      'spec.volumes[2]: volume airlock-tools is injected by Airlock and cannot be changed after the pod is created',
    ]);
  });

  it("refuses an update that adds a debug container mounting airlock-tools' /dev/shm, or that resizes or moves that volume to disk", () => {
    const before = injected();
    const debugged = structuredClone(before);
    debugged.spec!.ephemeralContainers = [{ name: 'debugger', image: 'busybox', volumeMounts: [{ name: 'airlock-tools-shm', mountPath: '/dev/shm' }] }];
    expect(refusalsOf(before, debugged)).toEqual([
      "spec.ephemeralContainers[0].volumeMounts[0].name: airlock-tools-shm is the /dev/shm of Airlock's airlock-tools container, where stdio servers keep their shared memory, and is mounted there only",
    ]);
    const resized = structuredClone(before);
    resized.spec!.volumes!.find((v) => v.name === 'airlock-tools-shm')!.emptyDir = {};
    expect(refusalsOf(before, resized)).toEqual([
      `spec.volumes[${resized.spec!.volumes!.findIndex((v) => v.name === 'airlock-tools-shm')}]: volume airlock-tools-shm is injected by Airlock and cannot be changed after the pod is created`,
    ]);
  });

  it('refuses changing a volume or the resources of the sidecar, and the injection record', () => {
    const after = injected();
    after.spec!.volumes!.find((v) => v.name === 'airlock-credentials')!.secret!.secretName = 'airlock-other-credentials';
    after.spec!.initContainers![2]!.resources = { limits: { memory: '1Mi' } };
    after.metadata!.annotations![INJECTED_ANNOTATION] = '{}';
    expect(decideUpdate(injected(), after, settings).refusals.map((r) => r.path)).toEqual([
      'spec.initContainers[2].resources',
      'spec.volumes[1]',
      'metadata.annotations[airlock.dev/injected]',
    ]);
  });

  it('hardens an ephemeral container it admits and leaves the earlier ones alone', () => {
    const before = injected();
    before.spec!.ephemeralContainers = [{ name: 'first', image: 'busybox' }];
    const after = structuredClone(before);
    after.spec!.ephemeralContainers!.push({ name: 'second', image: 'busybox', securityContext: { capabilities: { drop: ['KILL'] } } });
    const { refusals, mutated } = decideUpdate(before, after, settings);
    expect(refusals).toEqual([]);
    expect(mutated?.spec?.ephemeralContainers).toEqual([
      { name: 'first', image: 'busybox' },
      { name: 'second', image: 'busybox', securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['KILL', 'NET_ADMIN', 'NET_RAW', 'SETUID', 'SETGID'] } } },
    ]);
  });

  it('refuses an ephemeral container that would inherit the pod-level sidecar UID', () => {
    const before = injectPod(testPod('research', { securityContext: { runAsUser: 61337 }, containers: [{ name: 'agent', securityContext: { runAsUser: 1000 } }] }), testSandbox('research'), settings).pod;
    const after = structuredClone(before);
    after.spec!.ephemeralContainers = [{ name: 'debugger', image: 'busybox' }];
    expect(refusalsOf(before, after)).toEqual([
      "spec.ephemeralContainers[0].securityContext.runAsUser: unset, so it would inherit spec.securityContext.runAsUser 61337, the Airlock sidecar's UID; set another UID",
    ]);
  });

  it('refuses an ephemeral container targeting the sidecar or adding SYS_PTRACE (kubectl debug --profile=general)', () => {
    const after = injected();
    after.spec!.ephemeralContainers = [{ name: 'debugger', image: 'busybox', targetContainerName: 'airlock-sidecar', securityContext: { capabilities: { add: ['SYS_PTRACE'] } } }];
    expect(decideUpdate(injected(), after, settings).refusals.map((r) => r.path)).toEqual([
      'spec.ephemeralContainers[0].targetContainerName',
      'spec.ephemeralContainers[0].securityContext.capabilities.add[0]',
    ]);
  });
});

describe('carriesSidecar', () => {
  it('is true for an injected pod, native or not', () => {
    expect(carriesSidecar(injected())).toBe(true);
    expect(carriesSidecar(injectPod(testPod(), testSandbox('research'), testSettings({ nativeSidecars: false })).pod)).toBe(true);
  });

  it('is false for a labelled pod that only carries the annotation', () => {
    const forged = testPod();
    forged.metadata!.annotations = { [INJECTED_ANNOTATION]: injected().metadata!.annotations![INJECTED_ANNOTATION]! };
    expect(carriesSidecar(forged)).toBe(false);
  });

  it("is false for a pod whose sidecar mounts another sandbox's credentials", () => {
    const pod = injected();
    pod.metadata!.labels!['airlock.dev/sandbox'] = 'other';
    expect(carriesSidecar(pod)).toBe(false);
  });
});

describe('sharesLimits', () => {
  const withStatus = (status: V1Pod['status']): V1Pod => ({ ...injectPod(testPod('research'), testSandbox('research'), testSettings()).pod, status });

  it('holds while the kubelet reports the sidecar running, as a native sidecar or a container', () => {
    expect(sharesLimits(withStatus({ phase: 'Pending', initContainerStatuses: [{ name: 'airlock-sidecar', image: TEST_IMAGE, imageID: '', ready: true, restartCount: 0, state: { running: {} } }] }))).toBe(true);
    expect(sharesLimits(withStatus({ phase: 'Running', containerStatuses: [{ name: 'airlock-sidecar', image: TEST_IMAGE, imageID: '', ready: true, restartCount: 0, state: { running: {} } }] }))).toBe(true);
  });

  it("holds for a pod on a node whose sidecar has not started: the others' shares are divided before it can spend", () => {
    const scheduled = withStatus({ phase: 'Pending', initContainerStatuses: [{ name: 'airlock-sidecar', image: TEST_IMAGE, imageID: '', ready: false, restartCount: 0, state: { waiting: { reason: 'ContainerCreating' } } }] });
    expect(sharesLimits({ ...scheduled, spec: { ...scheduled.spec!, nodeName: 'node-1' } })).toBe(true);
  });

  it('does not for a pod no node took (unschedulable, over quota), or whose sidecar ended', () => {
    // Such pods took a share of the sandbox's limits, and every running pod's shrank.
    expect(sharesLimits(withStatus({ phase: 'Pending' }))).toBe(false);
    expect(sharesLimits(withStatus({ phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable' }] }))).toBe(false);
    expect(sharesLimits(withStatus({ phase: 'Succeeded', initContainerStatuses: [{ name: 'airlock-sidecar', image: TEST_IMAGE, imageID: '', ready: false, restartCount: 0, state: { terminated: { exitCode: 0 } } }] }))).toBe(false);
  });
});
