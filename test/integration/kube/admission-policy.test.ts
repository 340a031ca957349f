/**
 * The pod policy of docs/security.md ("Pod policy"), one row at a time, through a real API
 * server with the chart's MutatingWebhookConfiguration, ValidatingAdmissionPolicies and RBAC:
 * each pod below breaks one rule and must be refused with the field named, where the code before
 * this policy admitted most of them. The table in the docs and the rows here are checked
 * against each other, so neither can grow alone.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SETUP_TIMEOUT_MS } from '../chart/install.js';
import { podManifest, SANDBOX, startAdmissionCluster, TEAM, type AdmissionCluster } from './admission-cluster.js';
import { repoRoot } from './crds.js';

let env: AdmissionCluster;

beforeAll(async () => {
  env = await startAdmissionCluster();
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  await env?.stop();
});

type Spec = Record<string, unknown>;
const agent = (container: Spec): Spec => ({ containers: [{ name: 'agent', image: 'ghcr.io/example/agent:1', ...container }] });
const securityContext = (sc: Spec): Spec => agent({ securityContext: sc });

interface Case {
  /** Row of the docs table. */
  row: string;
  what: string;
  spec?: Spec;
  metadata?: Spec;
  /** The refusal's text must contain this (the field path, for the webhook). */
  refusal: string;
  /** Who refuses: the webhook or the chart's ValidatingAdmissionPolicy. */
  by: 'webhook' | 'policy';
}

const cases: Case[] = [
  { row: 'P1', what: 'hostNetwork', spec: { ...agent({}), hostNetwork: true }, refusal: 'spec.hostNetwork: ', by: 'webhook' },
  { row: 'P1', what: 'hostPID', spec: { ...agent({}), hostPID: true }, refusal: 'spec.hostPID: ', by: 'webhook' },
  { row: 'P1', what: 'hostIPC', spec: { ...agent({}), hostIPC: true }, refusal: 'spec.hostIPC: ', by: 'webhook' },
  { row: 'P2', what: 'shareProcessNamespace', spec: { ...agent({}), shareProcessNamespace: true }, refusal: 'spec.shareProcessNamespace: ', by: 'webhook' },
  { row: 'P3', what: 'a privileged init container', spec: { ...agent({}), initContainers: [{ name: 'setup', image: 'busybox', securityContext: { privileged: true } }] }, refusal: 'spec.initContainers[0].securityContext.privileged: ', by: 'webhook' },
  ...['SYS_MODULE', 'SYS_PTRACE', 'DAC_READ_SEARCH', 'BPF', 'PERFMON'].map((cap): Case => ({
    row: 'P4', what: `adding ${cap}`, spec: securityContext({ capabilities: { add: ['CHOWN', cap] } }), refusal: `spec.containers[0].securityContext.capabilities.add[1]: ${cap} is not one of the capabilities`, by: 'webhook',
  })),
  ...['NET_ADMIN', 'NET_RAW', 'SETUID', 'SETGID', 'ALL'].map((cap): Case => ({
    row: 'P5', what: `adding ${cap}`, spec: securityContext({ capabilities: { add: [cap] } }), refusal: `spec.containers[0].securityContext.capabilities.add[0]: ${cap} would let an app container bypass the Airlock firewall`, by: 'webhook',
  })),
  { row: 'P6', what: 'the sidecar UID', spec: securityContext({ runAsUser: 61337 }), refusal: "spec.containers[0].securityContext.runAsUser: 61337 is the Airlock sidecar's UID", by: 'webhook' },
  { row: 'P6', what: 'the sidecar UID, inherited', spec: { ...agent({}), securityContext: { runAsUser: 61337 } }, refusal: "spec.securityContext.runAsUser: 61337 is the Airlock sidecar's UID; containers agent would run as it", by: 'webhook' },
  ...['/', '/var/lib/kubelet/pods'].map((path): Case => ({
    row: 'P7', what: `hostPath ${path}`, spec: { ...agent({}), volumes: [{ name: 'node', hostPath: { path } }] }, refusal: `spec.volumes[0].hostPath: hostPath ${path} would expose the node's files`, by: 'webhook',
  })),
  { row: 'P8', what: 'a hostPort', spec: agent({ ports: [{ containerPort: 8080, hostPort: 8080 }] }), refusal: 'spec.containers[0].ports[0].hostPort: hostPort 8080 would open the agent to inbound connections', by: 'webhook' },
  { row: 'P9', what: 'Unconfined seccomp for the pod', spec: { ...agent({}), securityContext: { seccompProfile: { type: 'Unconfined' } } }, refusal: 'spec.securityContext.seccompProfile.type: Unconfined', by: 'webhook' },
  { row: 'P9', what: 'Unconfined seccomp for a container', spec: securityContext({ seccompProfile: { type: 'Unconfined' } }), refusal: 'spec.containers[0].securityContext.seccompProfile.type: Unconfined', by: 'webhook' },
  { row: 'P10', what: 'Unconfined AppArmor', spec: securityContext({ appArmorProfile: { type: 'Unconfined' } }), refusal: 'spec.containers[0].securityContext.appArmorProfile.type: Unconfined', by: 'webhook' },
  { row: 'P10', what: 'Unconfined AppArmor by annotation', spec: agent({}), metadata: { annotations: { 'container.apparmor.security.beta.kubernetes.io/agent': 'unconfined' } }, refusal: 'metadata.annotations[container.apparmor.security.beta.kubernetes.io/agent]: unconfined', by: 'webhook' },
  { row: 'P11', what: 'a custom SELinux type', spec: securityContext({ seLinuxOptions: { type: 'spc_t' } }), refusal: 'spec.containers[0].securityContext.seLinuxOptions.type: spc_t', by: 'webhook' },
  { row: 'P11', what: 'a custom SELinux user', spec: { ...agent({}), securityContext: { seLinuxOptions: { user: 'system_u' } } }, refusal: 'spec.securityContext.seLinuxOptions.user: ', by: 'webhook' },
  { row: 'P12', what: 'an unmasked /proc', spec: { ...securityContext({ procMount: 'Unmasked' }), hostUsers: false }, refusal: 'spec.containers[0].securityContext.procMount: Unmasked unmasks /proc', by: 'webhook' },
  { row: 'P13', what: 'an unsafe sysctl', spec: { ...agent({}), securityContext: { sysctls: [{ name: 'net.ipv4.tcp_syncookies', value: '1' }, { name: 'kernel.msgmax', value: '65536' }] } }, refusal: 'spec.securityContext.sysctls[1].name: kernel.msgmax is not one of the safe sysctls', by: 'webhook' },
  { row: 'P14', what: 'a Windows HostProcess container', spec: securityContext({ windowsOptions: { hostProcess: true } }), refusal: 'spec.containers[0].securityContext.windowsOptions.hostProcess: ', by: 'webhook' },
  { row: 'P15', what: "the sidecar's credentials volume", spec: agent({ volumeMounts: [{ name: 'airlock-credentials', mountPath: '/keys' }] }), refusal: 'spec.containers[0].volumeMounts[0].name: airlock-credentials is mounted in the Airlock sidecar only', by: 'webhook' },
  { row: 'P15', what: "the sidecar's config volume", spec: agent({ volumeMounts: [{ name: 'airlock-config', mountPath: '/config' }] }), refusal: 'spec.containers[0].volumeMounts[0].name: airlock-config is mounted in the Airlock sidecar only', by: 'webhook' },
  { row: 'P15', what: "airlock-tools' /dev/shm", spec: agent({ volumeMounts: [{ name: 'airlock-tools-shm', mountPath: '/dev/shm' }] }), refusal: "spec.containers[0].volumeMounts[0].name: airlock-tools-shm is the /dev/shm of Airlock's airlock-tools container", by: 'webhook' },
  { row: 'P16', what: "another sandbox's credentials as a volume", spec: { ...agent({}), volumes: [{ name: 'keys', secret: { secretName: 'airlock-other-credentials' } }] }, refusal: 'spec.volumes[0].secret.secretName: Secret airlock-other-credentials holds', by: 'webhook' },
  { row: 'P16', what: 'credentials through env', spec: agent({ env: [{ name: 'KEY', valueFrom: { secretKeyRef: { name: 'airlock-other-credentials', key: 'provider.openai.0' } } }] }), refusal: 'spec.containers[0].env[0].valueFrom.secretKeyRef.name: Secret airlock-other-credentials holds', by: 'webhook' },
  { row: 'P16', what: 'credentials through envFrom', spec: agent({ envFrom: [{ secretRef: { name: `airlock-${SANDBOX}-credentials` } }] }), refusal: `spec.containers[0].envFrom[0].secretRef.name: Secret airlock-${SANDBOX}-credentials holds`, by: 'webhook' },
  { row: 'P16', what: 'credentials through a projected volume', spec: { ...agent({}), volumes: [{ name: 'all', projected: { sources: [{ secret: { name: `airlock-${SANDBOX}-credentials` } }] } }] }, refusal: `spec.volumes[0].projected.sources[0].secret.name: Secret airlock-${SANDBOX}-credentials holds`, by: 'webhook' },
  { row: 'P16', what: "the provider's key Secret as a volume", spec: { ...agent({}), volumes: [{ name: 'keys', secret: { secretName: 'openai-keys' } }] }, refusal: 'spec.volumes[0].secret.secretName: Secret openai-keys holds keys a ModelProvider or MCPBackend of this namespace uses', by: 'webhook' },
  { row: 'P16', what: "the provider's key Secret through env", spec: agent({ env: [{ name: 'OPENAI_API_KEY', valueFrom: { secretKeyRef: { name: 'openai-keys', key: 'primary' } } }] }), refusal: 'spec.containers[0].env[0].valueFrom.secretKeyRef.name: Secret openai-keys holds keys', by: 'webhook' },
  { row: 'P16', what: "the provider's key Secret through envFrom of an init container", spec: { ...agent({}), initContainers: [{ name: 'setup', image: 'busybox', envFrom: [{ secretRef: { name: 'openai-keys' } }] }] }, refusal: 'spec.initContainers[0].envFrom[0].secretRef.name: Secret openai-keys holds keys', by: 'webhook' },
  { row: 'P16', what: "the provider's key Secret in a projected volume", spec: { ...agent({}), volumes: [{ name: 'all', projected: { sources: [{ configMap: { name: 'x' } }, { secret: { name: 'openai-keys' } }] } }] }, refusal: 'spec.volumes[0].projected.sources[1].secret.name: Secret openai-keys holds keys', by: 'webhook' },
  { row: 'P24', what: 'a host name mapped to its loopback', spec: { ...agent({}), hostAliases: [{ ip: '127.0.0.1', hostnames: ['vllm.models.svc.cluster.local'] }] }, refusal: 'spec.hostAliases: a sandbox pod cannot map host names', by: 'webhook' },
  { row: 'P24', what: 'its own DNS server', spec: { ...agent({}), dnsPolicy: 'None', dnsConfig: { nameservers: ['127.0.0.1'] } }, refusal: 'spec.dnsConfig.nameservers: a sandbox pod cannot choose its own DNS servers', by: 'webhook' },
  { row: 'P24', what: "the node's resolver (dnsPolicy Default)", spec: { ...agent({}), dnsPolicy: 'Default' }, refusal: 'spec.dnsPolicy: a sandbox pod cannot choose its own DNS servers or search domains, nor a dnsPolicy other than ClusterFirst', by: 'webhook' },
  { row: 'P24', what: 'its own search domain', spec: { ...agent({}), dnsConfig: { searches: ['attacker.example'] } }, refusal: 'spec.dnsConfig.searches: a sandbox pod cannot choose its own DNS servers or search domains', by: 'webhook' },
  { row: 'P17', what: 'an empty sandbox label', metadata: { labels: { 'airlock.dev/sandbox': '' } }, refusal: 'metadata.labels[airlock.dev/sandbox]: "" is not the name of an AgentSandbox', by: 'webhook' },
  { row: 'P17', what: 'a sandbox that does not exist', metadata: { labels: { 'airlock.dev/sandbox': 'nope' } }, refusal: 'metadata.labels[airlock.dev/sandbox]: AgentSandbox "nope" does not exist', by: 'webhook' },
];

/** Pods without the sandbox label never meet the webhook: the chart's CEL policy guards them. */
const unlabelled: Case[] = [
  { row: 'P18', what: 'a credentials volume in an unlabelled pod', spec: { ...agent({}), volumes: [{ name: 'keys', secret: { secretName: `airlock-${SANDBOX}-credentials` } }] }, refusal: 'spec.volumes: keys: an airlock-<sandbox>-credentials Secret', by: 'policy' },
  { row: 'P18', what: 'a projected credentials volume in an unlabelled pod', spec: { ...agent({}), volumes: [{ name: 'all', projected: { sources: [{ secret: { name: `airlock-${SANDBOX}-credentials` } }] } }] }, refusal: 'spec.volumes: all: projected.sources[].secret', by: 'policy' },
  { row: 'P18', what: 'credentials through env in an unlabelled pod', spec: agent({ env: [{ name: 'KEY', valueFrom: { secretKeyRef: { name: `airlock-${SANDBOX}-credentials`, key: 'provider.openai.0' } } }] }), refusal: 'spec.containers: agent: env, envFrom or volumeMounts reach', by: 'policy' },
  { row: 'P18', what: 'credentials through envFrom in an unlabelled init container', spec: { ...agent({}), initContainers: [{ name: 'setup', image: 'busybox', envFrom: [{ secretRef: { name: `airlock-${SANDBOX}-credentials` } }] }] }, refusal: 'spec.initContainers: setup: env, envFrom or volumeMounts reach', by: 'policy' },
];

let created = 0;
/** Creates the pod as its author would; resolves with kubectl's exit code and error text. */
async function createPod(c: Case, labelled: boolean) {
  const name = `p${created++}`;
  const manifest = podManifest(name, c.spec ?? {}, c.metadata ?? {});
  if (!labelled) delete (manifest.metadata as { labels?: unknown }).labels;
  const result = await env.kubectl.run(['create', '-n', TEAM, '-f', '-'], JSON.stringify(manifest));
  return { ...result, name };
}

describe('an ordinary sandbox pod', () => {
  it('is admitted and injected, so the refusals below are the policy and not a broken webhook', async () => {
    const { code, stderr, name } = await createPod({ row: '', what: '', refusal: '', by: 'webhook' }, true);
    expect(code, stderr).toBe(0);
    const pod = await env.getJson(['pod', name]);
    expect(pod.spec.initContainers.map((c: { name: string }) => c.name)).toEqual(['airlock-firewall', 'airlock-tools', 'airlock-sidecar']);
  });
});

describe.each(cases)('$row: a sandbox pod with $what', (c) => {
  it('is refused by the webhook, naming the field', async () => {
    const { code, stderr } = await createPod(c, true);
    expect(code).not.toBe(0);
    expect(stderr).toContain('admission webhook "pods.airlock.dev" denied the request: airlock: pod refused: ');
    expect(stderr).toContain(c.refusal);
  });
});

/** P24 on UPDATE: what a sandbox pod could not be created with, it cannot be given once admitted. */
const p24Updates: { what: string; spec: Spec }[] = [
  { what: 'a host name mapped to its loopback', spec: { hostAliases: [{ ip: '127.0.0.1', hostnames: ['vllm.models.svc.cluster.local'] }] } },
  { what: "the node's resolver (dnsPolicy Default)", spec: { dnsPolicy: 'Default' } },
  { what: 'its own DNS server', spec: { dnsPolicy: 'None', dnsConfig: { nameservers: ['127.0.0.1'] } } },
  { what: 'its own search domain', spec: { dnsConfig: { searches: ['attacker.example'] } } },
];
const dnsOf = (spec: Spec) => ({ hostAliases: spec.hostAliases, dnsPolicy: spec.dnsPolicy, dnsConfig: spec.dnsConfig });

describe.each(p24Updates)('P24: an admitted sandbox pod updated to have $what', (u) => {
  it('is refused, and the stored pod keeps the DNS it was admitted with', async () => {
    const { code, stderr, name } = await createPod({ row: 'P24', what: '', refusal: '', by: 'webhook' }, true);
    expect(code, stderr).toBe(0);
    const before = dnsOf((await env.getJson(['pod', name])).spec);
    expect(before.dnsPolicy).toBe('ClusterFirst');
    const patched = await env.kubectl.run(['patch', 'pod', name, '-n', TEAM, '--type=merge', '-p', JSON.stringify({ spec: u.spec })]);
    expect(patched.code).not.toBe(0);
    // The API server's pod-update rules refuse it before the webhook's UPDATE checks; either is the refusal a user sees.
    expect(patched.stderr).toMatch(/pod updates may not change fields other than|airlock: pod refused: /);
    expect(dnsOf((await env.getJson(['pod', name])).spec)).toEqual(before);
  });
});

describe.each(unlabelled)('$row: $what', (c) => {
  it("is refused by the chart's ValidatingAdmissionPolicy, naming the field", async () => {
    const { code, stderr } = await createPod(c, false);
    expect(code).not.toBe(0);
    expect(stderr).toContain(`ValidatingAdmissionPolicy 'airlock-credentials'`);
    expect(stderr).toContain(c.refusal);
  });
});

describe('P19: spec.sidecar.image', () => {
  it("is refused by the chart's ValidatingAdmissionPolicy unless the chart allows the image, naming the field", async () => {
    const sandbox = (image: string) => `apiVersion: airlock.dev/v1alpha1
kind: AgentSandbox
metadata: { name: ${SANDBOX} }
spec:
  providers: [openai]
  sidecar: { image: ${image} }
`;
    const refused = await env.kubectl.run(['apply', '-n', TEAM, '-f', '-'], sandbox('evil.example/airlock-sidecar:1'));
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain(`ValidatingAdmissionPolicy 'airlock-sidecar-image'`);
    expect(refused.stderr).toContain('spec.sidecar.image: evil.example/airlock-sidecar:1 is not one of the sidecar images this installation allows');
    const allowed = await env.kubectl.run(['apply', '-n', TEAM, '-f', '-'], sandbox(env.sidecarImage));
    expect(allowed.code, allowed.stderr).toBe(0);
  });
});

describe('docs/security.md "Pod policy"', () => {
  it('lists exactly the rows tested here and in the other admission tests', async () => {
    const docs = await readFile(join(repoRoot, 'docs/security.md'), 'utf8');
    const section = docs.slice(docs.indexOf('## Pod policy'));
    const documented = [...section.matchAll(/^\| (P\d+) \|/gm)].map((m) => m[1]);
    const tested = [...new Set([...cases, ...unlabelled].map((c) => c.row)), 'P19'];
    // P20-P23 live in admission-pod-life.test.ts and the firewall tier; the table is in row order.
    expect(documented).toEqual([...tested, 'P20', 'P21', 'P22', 'P23'].sort((a, b) => Number(a.slice(1)) - Number(b.slice(1))));
  });
});
