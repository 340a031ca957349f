/**
 * Admission tried by someone who did not write it: the other spellings and the other paths to
 * what docs/security.md ("Pod policy") already refuses, through a real API server with the
 * chart's webhook configuration, policies and RBAC. Each case here found or ruled out a way
 * around a row that admission-policy.test.ts and admission-pod-life.test.ts prove on the
 * obvious path.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SETUP_TIMEOUT_MS } from '../chart/install.js';
import { DENIED, podManifest, SANDBOX, startAdmissionClusterWithPod, TEAM, type AdmissionCluster } from './admission-cluster.js';

let env: AdmissionCluster;
const POD = 'target';

const kubectl = (args: string[], input?: string) => env.kubectl.run(['-n', TEAM, ...args], input);
const pod = (name = POD) => env.getJson(['pod', name]);

/**
 * Adds an ephemeral container written by hand (not kubectl debug's profiles) with a PUT of the
 * `ephemeralcontainers` subresource, as any client of the API can.
 */
async function addEphemeral(container: Record<string, unknown>, name = POD) {
  const current = await pod(name);
  current.spec.ephemeralContainers = [...(current.spec.ephemeralContainers ?? []), { image: 'busybox', command: ['sleep', '1'], ...container }];
  return env.kubectl.run(['replace', '--raw', `/api/v1/namespaces/${TEAM}/pods/${name}/ephemeralcontainers`, '-f', '-'], JSON.stringify(current));
}
const ephemeralNames = async (name = POD) => ((await pod(name)).spec.ephemeralContainers ?? []).map((c: { name: string }) => c.name);

beforeAll(async () => {
  env = await startAdmissionClusterWithPod(POD);
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  await env?.stop();
});

/** The sidecar image with its tag or digest replaced: the same repository, another spelling. */
const respelled = (image: string) => `${image.replace(/[:@][^/]*$/, '')}@sha256:${'0'.repeat(64)}`;

describe("P6 through the sidecar's own image (its USER is the sidecar UID, the one UID the firewall lets out)", () => {
  it('refuses an app container running it without saying whom it runs as, naming the field', async () => {
    const result = await kubectl(['create', '-f', '-'], JSON.stringify(podManifest('impostor', { containers: [{ name: 'agent', image: env.sidecarImage, command: ['node', '-e', 'fetch("https://example.com")'] }] })));
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(`${DENIED}spec.containers[0].image: ${env.sidecarImage} is the Airlock sidecar's image`);
    expect(await pod('impostor')).toBeUndefined();
  });

  it('refuses it in an init container, spelled by digest', async () => {
    const image = respelled(env.sidecarImage);
    const result = await kubectl(['create', '-f', '-'], JSON.stringify(podManifest('impostor-init', { initContainers: [{ name: 'setup', image }] })));
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(`${DENIED}spec.initContainers[0].image: ${image} is the Airlock sidecar's image`);
  });

  it('refuses switching a running app container to it (kubectl set image)', async () => {
    const result = await kubectl(['set', 'image', `pod/${POD}`, `agent=${env.sidecarImage}`]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(`${DENIED}spec.containers[0].image: ${env.sidecarImage} is the Airlock sidecar's image`);
    expect((await pod()).spec.containers[0].image).toBe('ghcr.io/example/agent:1');
  });

  it('refuses it as a debug container (kubectl debug --image)', async () => {
    const result = await kubectl(['debug', POD, `--image=${env.sidecarImage}`, '--target=agent', '--profile=baseline', '-c', 'dbg-sidecar-image', '--', 'sleep', '1']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(`${DENIED}spec.ephemeralContainers[0].image: ${env.sidecarImage} is the Airlock sidecar's image`);
    expect(await ephemeralNames()).toEqual([]);
  });

  it('admits it with another UID set, so the refusal is about the UID and not the image', async () => {
    const result = await kubectl(['create', '--dry-run=server', '-f', '-'], JSON.stringify(podManifest('tools', { containers: [{ name: 'agent', image: env.sidecarImage, securityContext: { runAsUser: 1000 } }] })));
    expect(result.code, result.stderr).toBe(0);
  });
});

describe('P4/P5/P6/P16 for a debug container written by hand (the ephemeralcontainers subresource)', () => {
  it.each([
    ['cap_net_admin', 'securityContext.capabilities.add[0]: cap_net_admin would let an app container bypass the Airlock firewall'],
    ['Sys_Ptrace', 'securityContext.capabilities.add[0]: Sys_Ptrace is not one of the capabilities'],
  ])('refuses adding %s, whatever its spelling', async (cap, refusal) => {
    const name = `cap-${cap.toLowerCase().replace(/_/g, '-')}`;
    const result = await addEphemeral({ name, securityContext: { capabilities: { add: [cap] } } });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(`${DENIED}spec.ephemeralContainers[0].${refusal}`);
    expect(await ephemeralNames()).not.toContain(name);
  });

  it('refuses the sidecar UID set on the debug container itself', async () => {
    const result = await addEphemeral({ name: 'as-sidecar', securityContext: { runAsUser: 61337 } });
    expect(result.stderr).toContain(`${DENIED}spec.ephemeralContainers[0].securityContext.runAsUser: 61337 is the Airlock sidecar's UID`);
  });

  it("refuses airlock-tools' UID (the firewall lets it out) and its volumes (the stdio host's socket starts processes as it; its /dev/shm holds the servers' shared memory)", async () => {
    for (const [container, refusal] of [
      [{ name: 'as-tools', securityContext: { runAsUser: 61338 } }, "securityContext.runAsUser: 61338 is the UID of Airlock's airlock-tools container"],
      [{ name: 'tools-socket', volumeMounts: [{ name: 'airlock-tools', mountPath: '/var/run/airlock-tools' }] }, "volumeMounts[0].name: airlock-tools is mounted in Airlock's sidecar and airlock-tools containers only"],
      [{ name: 'tools-tmp', volumeMounts: [{ name: 'airlock-tools-tmp', mountPath: '/t' }] }, "volumeMounts[0].name: airlock-tools-tmp is mounted in Airlock's sidecar and airlock-tools containers only"],
      [{ name: 'tools-shm', volumeMounts: [{ name: 'airlock-tools-shm', mountPath: '/dev/shm' }] }, "volumeMounts[0].name: airlock-tools-shm is the /dev/shm of Airlock's airlock-tools container"],
    ] as const) {
      const result = await addEphemeral(container);
      expect(result.code, container.name).not.toBe(0);
      expect(result.stderr).toContain(`${DENIED}spec.ephemeralContainers[0].${refusal}`);
    }
    expect(await ephemeralNames()).toEqual([]);
  });

  it("refuses the provider's key Secret through env, envFrom and the sidecar's volumes", async () => {
    for (const [container, refusal] of [
      [{ name: 'env-key', env: [{ name: 'K', valueFrom: { secretKeyRef: { name: 'openai-keys', key: 'primary' } } }] }, 'env[0].valueFrom.secretKeyRef.name: Secret openai-keys holds keys'],
      [{ name: 'envfrom-key', envFrom: [{ secretRef: { name: `airlock-${SANDBOX}-credentials` } }] }, `envFrom[0].secretRef.name: Secret airlock-${SANDBOX}-credentials holds`],
      [{ name: 'mount-config', volumeMounts: [{ name: 'airlock-config', mountPath: '/c' }] }, 'volumeMounts[0].name: airlock-config is mounted in the Airlock sidecar only'],
    ] as const) {
      const result = await addEphemeral(container);
      expect(result.code, container.name).not.toBe(0);
      expect(result.stderr).toContain(`spec.ephemeralContainers[0].${refusal}`);
    }
    expect(await ephemeralNames()).toEqual([]);
  });
});

describe("airlock-tools' socket, /dev/shm and UID in a new pod", () => {
  it.each([
    ['an app container mounting the socket volume', { containers: [{ name: 'agent', image: 'ghcr.io/example/agent:1', volumeMounts: [{ name: 'airlock-tools', mountPath: '/var/run/airlock-tools' }] }] }, "spec.containers[0].volumeMounts[0].name: airlock-tools is mounted in Airlock's sidecar and airlock-tools containers only"],
    ['an app container mounting its /dev/shm volume', { containers: [{ name: 'agent', image: 'ghcr.io/example/agent:1', volumeMounts: [{ name: 'airlock-tools-shm', mountPath: '/dev/shm' }] }] }, "spec.containers[0].volumeMounts[0].name: airlock-tools-shm is the /dev/shm of Airlock's airlock-tools container, where stdio servers keep their shared memory"],
    ['an init container running as the tools UID', { initContainers: [{ name: 'setup', image: 'busybox', securityContext: { runAsUser: 61338 } }] }, "spec.initContainers[0].securityContext.runAsUser: 61338 is the UID of Airlock's airlock-tools container"],
    ['a pod-level runAsUser of the tools UID', { securityContext: { runAsUser: 61338 } }, "spec.securityContext.runAsUser: 61338 is the UID of Airlock's airlock-tools container; containers agent would run as it"],
  ])('refuses %s, naming the field', async (_what, spec, refusal) => {
    const result = await kubectl(['create', '-f', '-'], JSON.stringify(podManifest('tools-thief', spec)));
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(`${DENIED}${refusal}`);
    expect(await pod('tools-thief')).toBeUndefined();
  });
});

describe('P17: the sandbox label', () => {
  it('cannot borrow a sandbox of another namespace', async () => {
    await env.kubectl.ok(['create', 'namespace', 'team-b']);
    const sandbox = { apiVersion: 'airlock.dev/v1alpha1', kind: 'AgentSandbox', metadata: { name: 'elsewhere', namespace: 'team-b' }, spec: { providers: ['openai'] } };
    await env.kubectl.ok(['create', '-f', '-'], JSON.stringify(sandbox));
    const result = await kubectl(['create', '-f', '-'], JSON.stringify(podManifest('borrower', {}, { labels: { 'airlock.dev/sandbox': 'elsewhere' } })));
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(`${DENIED}metadata.labels[airlock.dev/sandbox]: AgentSandbox "elsewhere" does not exist in namespace ${TEAM}`);
  });
});

describe('P18: kubectl debug --copy-to', () => {
  it("refuses an unlabelled copy of an injected pod, which would carry the sandbox's credentials volume outside the webhook", async () => {
    // kubectl drops the labels of the copy unless --keep-labels: the copy never meets the webhook.
    const result = await kubectl(['debug', POD, '--copy-to=stolen', '--share-processes=false', '--container=agent', '--image=busybox', '--', 'sleep', '1']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("ValidatingAdmissionPolicy 'airlock-credentials'");
    expect(result.stderr).toContain('spec.volumes: airlock-credentials: an airlock-<sandbox>-credentials Secret');
    expect(await pod('stolen')).toBeUndefined();
  });
});

describe('the status subresource, which the webhook does not see', () => {
  it('cannot rewrite the injection record (P21)', async () => {
    const result = await kubectl(['patch', 'pod', POD, '--subresource=status', '--type=merge', '-p', JSON.stringify({ metadata: { annotations: { 'airlock.dev/injected': '{"forged":true}' } } })]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("ValidatingAdmissionPolicy 'airlock-sandbox-label'");
    expect(result.stderr).toContain('metadata.annotations[airlock.dev/injected]: is written by Airlock when it injects the pod and cannot be changed');
    expect((await pod()).metadata.annotations['airlock.dev/injected']).not.toContain('forged');
  });

  // Held by the API server itself ("may not add AppArmor annotations"), on the pod and its status.
  it('cannot turn AppArmor off with the annotation (P10)', async () => {
    const result = await kubectl(['patch', 'pod', POD, '--subresource=status', '--type=merge', '-p', JSON.stringify({ metadata: { annotations: { 'container.apparmor.security.beta.kubernetes.io/agent': 'unconfined' } } })]);
    expect(result.code).not.toBe(0);
    expect((await pod()).metadata.annotations).not.toHaveProperty(['container.apparmor.security.beta.kubernetes.io/agent']);
  });
});

describe('P20/P21 through server-side apply and kubectl replace (PUT)', () => {
  it('refuses taking the sandbox label over with a forced server-side apply', async () => {
    const applied = { apiVersion: 'v1', kind: 'Pod', metadata: { name: POD, labels: { 'airlock.dev/sandbox': 'other' } } };
    const result = await kubectl(['apply', '--server-side', '--force-conflicts', '--field-manager=intruder', '-f', '-'], JSON.stringify(applied));
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(`${DENIED}metadata.labels[airlock.dev/sandbox]: cannot be changed to "other"`);
  });

  it("refuses replacing the whole pod with the sidecar's image changed", async () => {
    const current = await pod();
    const sidecar = current.spec.initContainers.find((c: { name: string }) => c.name === 'airlock-sidecar');
    sidecar.image = 'evil.example/airlock-sidecar:1';
    const result = await kubectl(['replace', '-f', '-'], JSON.stringify(current));
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('airlock-sidecar is injected by Airlock and cannot be changed after the pod is created');
    expect((await pod()).spec.initContainers.find((c: { name: string }) => c.name === 'airlock-sidecar').image).toBe(env.sidecarImage);
  });
});
