import { describe, expect, it } from 'vitest';
import type { V1Pod } from '@kubernetes/client-node';
import { podDrift } from './drift.js';
import { injectPod } from './inject.js';
import { testPod, testSandbox, testSettings } from './test-fixtures.js';

const settings = testSettings();
const isolation = (extra: Record<string, unknown>) => testSandbox('research', { providers: ['openai'], isolation: { network: 'firewall', ...extra } });
const tokenVolume = { name: 'token', projected: { sources: [{ serviceAccountToken: { path: 'token' } }] } };

/** A pod as injection gives it for `sandbox` now. */
const injected = (sandbox: ReturnType<typeof testSandbox>, spec: Partial<V1Pod['spec']> = {}) => injectPod(testPod('research', spec), sandbox, settings).pod;

describe('podDrift', () => {
  it('finds nothing in a pod injected for the sandbox as it is, whatever it allows', () => {
    for (const sandbox of [
      isolation({}),
      isolation({ allowEgress: [{ cidr: '10.0.0.0/8', ports: [5432, 6379] }, { cidr: '2001:db8::/32' }] }),
      isolation({ automountServiceAccountToken: true }),
      testSandbox('research', { providers: ['openai'], isolation: { network: 'none' } }),
      testSandbox('research', { providers: ['openai'], sidecar: { image: 'registry.example/airlock-sidecar:2' } }),
    ]) {
      expect(podDrift(injected(sandbox, { volumes: [tokenVolume] }), sandbox, settings)).toEqual(
        sandbox.spec.isolation.automountServiceAccountToken ? { wider: [], other: [] } : { wider: ['a service account token'], other: [] },
      );
      expect(podDrift(injected(sandbox), sandbox, settings)).toEqual({ wider: [], other: [] });
    }
  });

  it('names what a running pod may still reach after the sandbox narrowed it', () => {
    const before = injected(isolation({ allowEgress: [{ cidr: '10.0.0.0/8', ports: [5432] }, { cidr: '192.0.2.0/24' }], automountServiceAccountToken: true }), { volumes: [tokenVolume] });
    expect(podDrift(before, isolation({ allowEgress: [{ cidr: '192.0.2.0/24' }] }), settings)).toEqual({ wider: ['egress to 10.0.0.0/8:5432', 'a service account token'], other: [] });
    // The same destination on fewer ports is a different rule: the pod still reaches the others.
    expect(podDrift(before, isolation({ allowEgress: [{ cidr: '10.0.0.0/8', ports: [5433] }, { cidr: '192.0.2.0/24' }], automountServiceAccountToken: true }), settings)).toEqual({
      wider: ['egress to 10.0.0.0/8:5432'],
      other: ['no egress to 10.0.0.0/8:5433'],
    });
  });

  it('does not call a pod wider when the sandbox only widened, reordered or respelled its destinations', () => {
    const before = injected(isolation({ allowEgress: [{ cidr: '10.0.0.0/8', ports: [5432, 6379] }, { cidr: '2001:db8::/32', ports: [443] }] }));
    for (const allowEgress of [
      [{ cidr: '10.0.0.0/8', ports: [6379, 5432, 8080] }, { cidr: '2001:db8::/32', ports: [443] }], // a port more, in another order
      [{ cidr: '10.0.0.0/8' }, { cidr: '2001:0db8:0000::/32' }], // every port; the same IPv6 CIDR spelled out
      [{ cidr: '10.0.0.0/7' }, { cidr: '2001:db8::/16' }], // wider CIDRs
    ]) {
      expect(podDrift(before, isolation({ allowEgress }), settings).wider, JSON.stringify(allowEgress)).toEqual([]);
    }
    // Narrowed in the same ways, it is wider.
    expect(podDrift(before, isolation({ allowEgress: [{ cidr: '10.0.0.0/9', ports: [5432, 6379] }, { cidr: '2001:db8::/32', ports: [443] }] }), settings).wider).toEqual(['egress to 10.0.0.0/8:5432,6379']);
    expect(podDrift(before, isolation({ allowEgress: [{ cidr: '10.0.0.0/8', ports: [5432] }, { cidr: '2001:db8::/32', ports: [443] }] }), settings).wider).toEqual(['egress to 10.0.0.0/8:5432,6379']);
    expect(podDrift(injected(isolation({ allowEgress: [{ cidr: '10.0.0.0/8' }] })), isolation({ allowEgress: [{ cidr: '10.0.0.0/8', ports: [443] }] }), settings).wider).toEqual(['egress to 10.0.0.0/8']);
  });

  it('names a pod whose sidecar reads its config from the ConfigMap (injected before the config moved into the credentials Secret)', () => {
    const sandbox = isolation({});
    const before = injected(sandbox);
    before.spec!.volumes!.push({ name: 'airlock-config', configMap: { name: 'airlock-research', items: [{ key: 'config.yaml', path: 'config.yaml' }] } });
    expect(podDrift(before, sandbox, settings)).toEqual({ wider: ['a sidecar config read from the ConfigMap'], other: [] });
  });

  it("names a pod whose sidecar does not check the operator's seal (injected before ADR 30), and one holding a former seal key", () => {
    const sandbox = isolation({});
    const sealed = testSettings({ sealKey: 'dGhlLW9wZXJhdG9yLXNlYWwta2V5LW5vdy0zMi1ieXQ=' });
    expect(podDrift(injectPod(testPod('research'), sandbox, sealed).pod, sandbox, sealed)).toEqual({ wider: [], other: [] });
    expect(podDrift(injected(sandbox), sandbox, sealed)).toEqual({ wider: ["a sidecar that does not check the operator's seal"], other: [] });
    const former = injectPod(testPod('research'), sandbox, testSettings({ sealKey: 'YW4tb2xkZXItc2VhbC1rZXktb2YtdGhlLW9wZXJhdG9y' })).pod;
    expect(podDrift(former, sandbox, sealed)).toEqual({ wider: [], other: ['a sidecar holding a former seal key (it keeps its last config)'] });
  });

  it("names a pod whose airlock-tools has no /dev/shm of its own (injected before), where the agent reads the stdio servers' shared memory", () => {
    const sandbox = isolation({});
    const before = injected(sandbox);
    const tools = before.spec!.initContainers!.find((c) => c.name === 'airlock-tools')!;
    tools.volumeMounts = tools.volumeMounts!.filter((m) => m.name !== 'airlock-tools-shm');
    before.spec!.volumes = before.spec!.volumes!.filter((v) => v.name !== 'airlock-tools-shm');
    expect(podDrift(before, sandbox, settings)).toEqual({ wider: ["stdio servers sharing the agent's /dev/shm"], other: [] });
  });

  it('names a pod started without the firewall the sandbox now asks for', () => {
    const before = injected(testSandbox('research', { providers: ['openai'], isolation: { network: 'networkpolicy' } }));
    expect(podDrift(before, isolation({}), settings).wider).toEqual(['no firewall']);
  });

  it('tells apart what is only different: narrower isolation, another sidecar image', () => {
    const before = injected(isolation({}));
    expect(podDrift(before, isolation({ allowEgress: [{ cidr: '192.0.2.0/24' }] }), settings)).toEqual({ wider: [], other: ['no egress to 192.0.2.0/24'] });
    expect(podDrift(before, testSandbox('research', { providers: ['openai'], isolation: { network: 'none' } }), settings)).toEqual({ wider: [], other: ['a firewall the sandbox no longer asks for'] });
    expect(podDrift(before, testSandbox('research', { providers: ['openai'], sidecar: { image: 'registry.example/airlock-sidecar:2' } }), settings)).toEqual({
      wider: [],
      other: [`sidecar image ${settings.sidecarImage}, not registry.example/airlock-sidecar:2`],
    });
  });
});
