/**
 * Admission for a sandbox pod's whole life, tried as an attacker would with kubectl against a
 * real API server, the chart's webhook configuration and the chart's RBAC: after the CREATE the
 * sandbox label, what injection wrote and the ephemeral containers `kubectl debug` adds are all
 * still guarded. Before this, the webhook saw CREATE only, so every UPDATE below was admitted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SETUP_TIMEOUT_MS } from '../chart/install.js';
import { DENIED, podManifest, SANDBOX, startAdmissionClusterWithPod, TEAM, type AdmissionCluster } from './admission-cluster.js';

let env: AdmissionCluster;
const POD = 'agent-0';

const kubectl = (args: string[], input?: string) => env.kubectl.run(['-n', TEAM, ...args], input);
const pod = (name = POD) => env.getJson(['pod', name]);

beforeAll(async () => {
  env = await startAdmissionClusterWithPod(POD);
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  await env?.stop();
});

describe('P20: the sandbox label', () => {
  it('cannot be removed from an injected pod (kubectl label, merge patch, JSON patch)', async () => {
    for (const args of [
      ['label', 'pod', POD, 'airlock.dev/sandbox-'],
      ['patch', 'pod', POD, '--type=merge', '-p', '{"metadata":{"labels":null}}'],
      ['patch', 'pod', POD, '--type=json', '-p', '[{"op":"remove","path":"/metadata/labels/airlock.dev~1sandbox"}]'],
    ]) {
      const result = await kubectl(args);
      expect(result.code, args.join(' ')).not.toBe(0);
      expect(result.stderr).toContain(`${DENIED}metadata.labels[airlock.dev/sandbox]: cannot be removed: the pod was created for AgentSandbox "${SANDBOX}"`);
    }
    expect((await pod()).metadata.labels['airlock.dev/sandbox']).toBe(SANDBOX);
  });

  it("cannot be removed through the status subresource either (the chart's CEL policy)", async () => {
    const result = await kubectl(['patch', 'pod', POD, '--subresource=status', '--type=merge', '-p', '{"metadata":{"labels":{"airlock.dev/sandbox":null}}}']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("ValidatingAdmissionPolicy 'airlock-sandbox-label'");
    expect(result.stderr).toContain('metadata.labels[airlock.dev/sandbox]: is set when a pod is created and can be neither added, removed nor changed afterwards');
    expect((await pod()).metadata.labels['airlock.dev/sandbox']).toBe(SANDBOX);
  });

  it('cannot be changed to another sandbox', async () => {
    const result = await kubectl(['label', 'pod', POD, 'airlock.dev/sandbox=other', '--overwrite']);
    expect(result.stderr).toContain(`${DENIED}metadata.labels[airlock.dev/sandbox]: cannot be changed to "other"`);
  });

  it('cannot be added to a pod created without it, so a forged injection record never counts as a sandbox pod', async () => {
    const forged = podManifest('forged', {}, { labels: {}, annotations: { 'airlock.dev/injected': (await pod()).metadata.annotations['airlock.dev/injected'] } });
    expect((await kubectl(['create', '-f', '-'], JSON.stringify(forged))).code).toBe(0);
    const result = await kubectl(['label', 'pod', 'forged', `airlock.dev/sandbox=${SANDBOX}`]);
    expect(result.stderr).toContain(`${DENIED}metadata.labels[airlock.dev/sandbox]: can only be set when the pod is created`);
    // The one pod the webhook injected is the only one the sandbox counts.
    await expect.poll(async () => (await env.getJson(['agentsandbox', SANDBOX])).status?.injectedPods, { timeout: 15_000 }).toBe(1);
  });

  it('leaves other labels and the app image to the pod author', async () => {
    expect((await kubectl(['label', 'pod', POD, 'team=research'])).code).toBe(0);
    const result = await kubectl(['set', 'image', `pod/${POD}`, 'agent=ghcr.io/example/agent:2']);
    expect(result.code, result.stderr).toBe(0);
    expect((await pod()).spec.containers[0].image).toBe('ghcr.io/example/agent:2');
  });
});

describe('P21: what injection owns', () => {
  it.each([
    ['airlock-sidecar', 'spec.initContainers[2].image'],
    ['airlock-tools', 'spec.initContainers[1].image'],
    ['airlock-firewall', 'spec.initContainers[0].image'],
  ])('refuses kubectl set image for %s, naming the field', async (container, path) => {
    const result = await kubectl(['set', 'image', `pod/${POD}`, `${container}=evil.example/${container}:1`]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(`${DENIED}${path}: ${container} is injected by Airlock and cannot be changed after the pod is created`);
    const stored = (await pod()).spec.initContainers.find((c: { name: string }) => c.name === container);
    expect(stored.image).toBe(env.sidecarImage);
  });

  it.each([
    ['airlock-sidecar', 2],
    ['airlock-tools', 1],
  ])('refuses resizing %s in place (pods/resize), naming the field', async (container, index) => {
    // 7m is what neither container is injected with: a patch equal to the stored value is a no-op the API server never sends to admission.
    const patch = JSON.stringify({ spec: { initContainers: [{ name: container, resources: { requests: { cpu: '7m' } } }] } });
    const result = await kubectl(['patch', 'pod', POD, '--subresource=resize', '-p', patch]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(`${DENIED}spec.initContainers[${index}].resources: ${container} is injected by Airlock`);
  });

  describe("the sidecar's AIRLOCK_CONFIG_KEY (the seal's public half: another would vouch for a forged credentials Secret)", () => {
    type StoredPod = { spec: { containers: { image: string }[]; initContainers: { name: string; env: { name: string; value?: string }[] }[] } };
    const sidecarOf = (stored: StoredPod) => stored.spec.initContainers.find((c) => c.name === 'airlock-sidecar')!;
    const configKey = async () => sidecarOf(await pod()).env.find((e) => e.name === 'AIRLOCK_CONFIG_KEY')?.value;
    /** A JSON patch op replacing the key's value (in the sidecar, spec.initContainers[2]). */
    const replaceKey = async () => {
      const index = sidecarOf(await pod()).env.findIndex((e) => e.name === 'AIRLOCK_CONFIG_KEY');
      return { op: 'replace', path: `/spec/initContainers/2/env/${index}/value`, value: forgedKey };
    };
    // Another Ed25519 public half, as the sidecar reads it (base64 of 32 bytes).
    const forgedKey = Buffer.alloc(32, 7).toString('base64');

    // An UPDATE that changes no image, label or record does not reach the webhook (the chart's
    // matchConditions); the API server itself refuses any change to a running pod's env. These
    // rows guard that it stays refused whoever refuses it.
    it.each([
      ['a JSON patch', async () => kubectl(['patch', 'pod', POD, '--type=json', '-p', JSON.stringify([await replaceKey()])])],
      [
        'a forced server-side apply',
        () => {
          const applied = { apiVersion: 'v1', kind: 'Pod', metadata: { name: POD }, spec: { initContainers: [{ name: 'airlock-sidecar', env: [{ name: 'AIRLOCK_CONFIG_KEY', value: forgedKey }] }] } };
          return kubectl(['apply', '--server-side', '--force-conflicts', '--field-manager=intruder', '-f', '-'], JSON.stringify(applied));
        },
      ],
      [
        'kubectl replace (PUT)',
        async () => {
          const current = (await pod()) as StoredPod;
          sidecarOf(current).env.find((e) => e.name === 'AIRLOCK_CONFIG_KEY')!.value = forgedKey;
          return kubectl(['replace', '-f', '-'], JSON.stringify(current));
        },
      ],
    ])('is refused when edited alone by %s', async (_how, edit) => {
      const before = await configKey();
      expect(before).toMatch(/^[A-Za-z0-9+/]{43}=$/);
      const result = await edit();
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain('Forbidden: pod updates may not change fields other than');
      expect(await configKey()).toBe(before);
    });

    it('is refused by Airlock, naming the env of the injected sidecar, when edited beside an app image change (which reaches the webhook)', async () => {
      const before = await pod();
      const key = await configKey();
      const result = await kubectl(['patch', 'pod', POD, '--type=json', '-p', JSON.stringify([{ op: 'replace', path: '/spec/containers/0/image', value: 'ghcr.io/example/agent:3' }, await replaceKey()])]);
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain(`${DENIED}spec.initContainers[2].env: airlock-sidecar is injected by Airlock and cannot be changed after the pod is created`);
      const after = (await pod()) as StoredPod;
      expect(after.spec.containers[0]!.image).toBe(before.spec.containers[0].image);
      expect(await configKey()).toBe(key);
    });
  });

  it('refuses removing or rewriting the injection record', async () => {
    const result = await kubectl(['annotate', 'pod', POD, 'airlock.dev/injected-']);
    expect(result.stderr).toContain(`${DENIED}metadata.annotations[airlock.dev/injected]: is written by Airlock`);
  });
});

describe('P22: kubectl debug', () => {
  /** Ephemeral containers of the stored pod by name. */
  const ephemeral = async (name = POD) => Object.fromEntries(((await pod(name)).spec.ephemeralContainers ?? []).map((c: { name: string }) => [c.name, c]));

  it.each([
    ['airlock-sidecar', 'legacy (the default)', []],
    ['airlock-sidecar', 'baseline', ['--profile=baseline']],
    ['airlock-tools', 'baseline', ['--profile=baseline']],
  ])('refuses a debug container joining %s (--target) with the %s profile', async (target, _profile, flags) => {
    const result = await kubectl(['debug', POD, '--image=busybox', `--target=${target}`, ...flags, '-c', 'peek', '--', 'sleep', '1']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(`${DENIED}spec.ephemeralContainers[0].targetContainerName: ${target} is Airlock's`);
    expect(await ephemeral()).not.toHaveProperty('peek');
  });

  it.each([
    ['general', 'securityContext.capabilities.add[0]: SYS_PTRACE is not one of the capabilities'],
    ['sysadmin', 'securityContext.privileged: '],
    ['netadmin', 'securityContext.capabilities.add[0]: NET_ADMIN would let an app container bypass the Airlock firewall'],
  ])('refuses the %s profile, naming the field', async (profile, refusal) => {
    const result = await kubectl(['debug', POD, '--image=busybox', '--target=agent', `--profile=${profile}`, '-c', `dbg-${profile}`, '--', 'sleep', '1']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(DENIED);
    expect(result.stderr).toContain(refusal);
  });

  it.each([['legacy (the default)', [], 'dbg-legacy'], ['baseline', ['--profile=baseline'], 'dbg-baseline']])('admits the %s profile with the hardened security context app containers get', async (_profile, flags, name) => {
    const result = await kubectl(['debug', POD, '--image=busybox', '--target=agent', ...flags, '-c', name, '--', 'sleep', '1']);
    expect(result.code, result.stderr).toBe(0);
    const stored = (await ephemeral())[name];
    expect(stored.securityContext.allowPrivilegeEscalation).toBe(false);
    expect(stored.securityContext.capabilities.drop).toEqual(expect.arrayContaining(['NET_ADMIN', 'NET_RAW', 'SETUID', 'SETGID']));
    expect(stored.securityContext.runAsUser).not.toBe(61337);
  });

  it("refuses an ephemeral container added by the pods/ephemeralcontainers subresource in airlock-tools' group", async () => {
    const securityContext = { runAsGroup: 61338 };
    const refusal = "runAsGroup: 61338 is the group of Airlock's airlock-tools container";
    // Not through kubectl debug's profiles: a patch of the subresource, as any client may send it.
    const container = { name: 'grouped', image: 'busybox', command: ['sleep', '1'], securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, runAsUser: 1000, ...securityContext } };
    const result = await kubectl(['patch', 'pod', POD, '--subresource=ephemeralcontainers', '--type=strategic', '-p', JSON.stringify({ spec: { ephemeralContainers: [container] } })]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(DENIED);
    expect(result.stderr).toContain(refusal);
    expect(await ephemeral()).not.toHaveProperty('grouped');
  });

  it('refuses a debug container that would inherit a pod-level runAsUser of the sidecar UID', async () => {
    const manifest = podManifest('inherits', { securityContext: { runAsUser: 61337 }, containers: [{ name: 'agent', image: 'ghcr.io/example/agent:1', securityContext: { runAsUser: 1000 } }] });
    const created = await kubectl(['create', '-f', '-'], JSON.stringify(manifest));
    expect(created.code, created.stderr).toBe(0);
    const result = await kubectl(['debug', 'inherits', '--image=busybox', '--profile=baseline', '-c', 'dbg', '--', 'sleep', '1']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(`${DENIED}spec.ephemeralContainers[0].securityContext.runAsUser: unset, so it would inherit spec.securityContext.runAsUser 61337`);
    expect(await ephemeral('inherits')).toEqual({});
  });
});

describe('while no operator replica answers', () => {
  it("lets finalizers, labels and annotations of a sandbox pod be written (a Job's tracking finalizer), and still refuses what the webhook guards", async () => {
    // Before: every UPDATE of a sandbox pod called the webhook, failing closed: the Job controller
    // could not remove its tracking finalizer and Jobs never completed while the operator was down.
    await env.operator.stop();
    for (const args of [
      ['patch', 'pod', POD, '--type=merge', '-p', '{"metadata":{"finalizers":["example.com/hold"]}}'],
      ['patch', 'pod', POD, '--type=json', '-p', '[{"op":"remove","path":"/metadata/finalizers"}]'],
      ['annotate', 'pod', POD, 'example.com/seen=yes'],
      ['label', 'pod', POD, 'stage=done'],
    ]) {
      const result = await kubectl(args);
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(0);
    }
    expect((await pod()).metadata.finalizers).toBeUndefined();
    // An image, the sandbox label: the webhook is asked and, unreachable, refuses (fail closed).
    for (const args of [
      ['set', 'image', `pod/${POD}`, 'agent=ghcr.io/example/agent:3'],
      ['label', 'pod', POD, 'airlock.dev/sandbox-'],
    ]) {
      const result = await kubectl(args);
      expect(result.code, args.join(' ')).not.toBe(0);
      expect(result.stderr).toContain('failed calling webhook "pods.airlock.dev"');
    }
    expect((await pod()).metadata.labels['airlock.dev/sandbox']).toBe(SANDBOX);
  });
});
