/**
 * Another injector after Airlock's, through a real API server with the chart installed: a mutating
 * webhook whose configuration sorts after Airlock's (a mesh's, a secrets agent's) changes the pod
 * after Airlock checked and injected it, and with the default `reinvocationPolicy: Never` Airlock
 * never sees it again. Before, its root init container with NET_ADMIN ran and flushed the pod's
 * firewall on a real node (the platform outsider's repro). The chart's CEL policy
 * `airlock-sandbox-pod` validates the finished pod, after every mutation.
 */
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createCertificateAuthority, issueCertificate } from '../../../operator/src/tls/certificates.js';
import { SETUP_TIMEOUT_MS } from '../chart/install.js';
import { podManifest, startAdmissionCluster, TEAM, type AdmissionCluster } from './admission-cluster.js';

let env: AdmissionCluster;
let injector: Server;
let caPem: string;
/** What the stand-in injector adds to every pod, as a JSON patch of init containers; none: it adds nothing. */
let adds: Record<string, unknown> | undefined;
/** Pod spec fields the stand-in injector sets as well (`/spec/<field>`). */
let sets: Record<string, unknown> = {};

beforeAll(async () => {
  env = await startAdmissionCluster();
  const ca = await createCertificateAuthority({ commonName: 'mesh-injector-ca', validityDays: 1 });
  const serving = await issueCertificate(ca, { commonName: '127.0.0.1', ipAddresses: ['127.0.0.1'], usage: 'server', validityDays: 1 });
  caPem = ca.certPem;
  injector = createServer({ cert: serving.certPem, key: serving.keyPem }, (req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      const review = JSON.parse(body) as { request: { uid: string; subResource?: string; object: { spec: { ephemeralContainers?: unknown[] } } } };
      // On a debug container (pods/ephemeralcontainers) it gives the new one NET_ADMIN, after Airlock hardened it.
      const debugged = review.request.subResource === 'ephemeralcontainers' ? review.request.object.spec.ephemeralContainers?.length : undefined;
      const patch = debugged
        ? [{ op: 'add', path: `/spec/ephemeralContainers/${debugged - 1}/securityContext/capabilities/add`, value: ['NET_ADMIN'] }]
        : [...(adds ? [{ op: 'add', path: '/spec/initContainers/-', value: adds }] : []), ...Object.entries(sets).map(([field, value]) => ({ op: 'add', path: `/spec/${field}`, value }))];
      const response = { uid: review.request.uid, allowed: true, ...(patch.length ? { patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(patch)).toString('base64') } : {}) };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response }));
    });
  });
  await new Promise<void>((resolve) => injector.listen(0, '127.0.0.1', resolve));
  const configuration = {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name: 'zz-mesh-injector' },
    webhooks: [
      {
        name: 'inject.mesh.example',
        admissionReviewVersions: ['v1'],
        clientConfig: { url: `https://127.0.0.1:${(injector.address() as AddressInfo).port}/inject`, caBundle: Buffer.from(caPem).toString('base64') },
        rules: [
          { apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'], scope: 'Namespaced' },
          { apiGroups: [''], apiVersions: ['v1'], operations: ['UPDATE'], resources: ['pods/ephemeralcontainers'], scope: 'Namespaced' },
        ],
        failurePolicy: 'Fail',
        sideEffects: 'None',
        reinvocationPolicy: 'Never',
      },
    ],
  };
  await env.kubectl.ok(['apply', '-f', '-'], JSON.stringify(configuration));
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  await env?.kubectl.run(['delete', 'mutatingwebhookconfiguration', 'zz-mesh-injector']);
  injector?.close();
  await env?.stop();
});

const create = (name: string) => env.kubectl.run(['create', '-n', TEAM, '--dry-run=server', '-o', 'json', '-f', '-'], JSON.stringify(podManifest(name)));

it('lets a pod through that the later injector leaves alone, injected by Airlock', async () => {
  adds = undefined;
  const result = await create('plain');
  expect(result.code, result.stderr).toBe(0);
  expect(result.stdout).toContain('airlock-firewall');
});

it.each([
  ['a root init container with NET_ADMIN (a mesh redirecting traffic)', { name: 'mesh-init', image: 'mesh:1', securityContext: { runAsUser: 0, capabilities: { add: ['NET_ADMIN', 'NET_RAW'] } } }, 'containers mesh-init: privileged or adding a capability beyond Pod Security baseline'],
  ['a privileged one', { name: 'agent-helper', image: 'helper:1', securityContext: { privileged: true } }, 'containers agent-helper: privileged'],
  ['one spelling the capability cap_sys_admin', { name: 'spelled', image: 'helper:1', securityContext: { capabilities: { add: ['cap_sys_admin'] } } }, 'containers spelled: privileged or adding a capability'],
  ["one running as the sidecar's UID, which the firewall lets out", { name: 'vault-agent', image: 'vault:1', securityContext: { runAsUser: 61337 } }, 'containers vault-agent: run as the UID of airlock-sidecar or airlock-tools'],
  ["one in airlock-tools' group, whose stdio servers' shared memory it would read", { name: 'grouped', image: 'helper:1', securityContext: { runAsGroup: 61338 } }, 'containers grouped (or all, by spec.securityContext.supplementalGroups or fsGroup): in the group of airlock-tools'],
])('refuses the pod when the later injector adds %s', async (_what, container, refusal) => {
  adds = container;
  const result = await create('meshed');
  expect(result.code).not.toBe(0);
  expect(result.stderr).toContain("ValidatingAdmissionPolicy 'airlock-sandbox-pod'");
  expect(result.stderr).toContain(refusal);
});

it.each([
  ['supplementalGroups', { securityContext: { supplementalGroups: [61337, 61338] } }],
  ['fsGroup', { securityContext: { supplementalGroups: [61337], fsGroup: 61338 } }],
])("refuses the pod when the later injector gives every container airlock-tools' group by %s", async (_what, fields) => {
  adds = undefined;
  sets = fields;
  try {
    const result = await create('grouped');
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("ValidatingAdmissionPolicy 'airlock-sandbox-pod'");
    expect(result.stderr).toContain('in the group of airlock-tools');
  } finally {
    sets = {};
  }
});

it.each([
  ['a host name mapped to the loopback', { hostAliases: [{ ip: '127.0.0.1', hostnames: ['vllm.models.svc.cluster.local'] }] }],
  ['its own DNS server', { dnsPolicy: 'None', dnsConfig: { nameservers: ['127.0.0.1'] } }],
  ['its own search domain', { dnsConfig: { searches: ['attacker.example'] } }],
  ["the node's resolver", { dnsPolicy: 'Default' }],
])('refuses the pod when the later injector gives it %s, through which the sidecar would resolve a provider', async (_what, fields) => {
  adds = undefined;
  sets = fields;
  try {
    const result = await create('resolved');
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("ValidatingAdmissionPolicy 'airlock-sandbox-pod'");
    expect(result.stderr).toContain('a sandbox pod maps no host names and chooses no DNS servers or search domains of its own');
  } finally {
    sets = {};
  }
});

it("refuses a container named like Airlock's own that is not (its image is no allowed sidecar image), where the name is free", async () => {
  // A sandbox isolated by NetworkPolicy has no airlock-firewall of its own, so another injector may use the name.
  const sandbox = { apiVersion: 'airlock.dev/v1alpha1', kind: 'AgentSandbox', metadata: { name: 'policed' }, spec: { providers: ['openai'], isolation: { network: 'networkpolicy' } } };
  await env.kubectl.ok(['apply', '-n', TEAM, '-f', '-'], JSON.stringify(sandbox));
  adds = { name: 'airlock-firewall', image: 'mesh:1', securityContext: { runAsUser: 0, capabilities: { add: ['NET_ADMIN'] } } };
  const pod = podManifest('impostor', {}, { labels: { 'airlock.dev/sandbox': 'policed' } });
  const result = await env.kubectl.run(['create', '-n', TEAM, '--dry-run=server', '-o', 'json', '-f', '-'], JSON.stringify(pod));
  expect(result.code).not.toBe(0);
  expect(result.stderr).toContain('containers airlock-firewall: privileged or adding a capability beyond Pod Security baseline');
});

it('refuses a debug container (kubectl debug, pods/ephemeralcontainers) the later injector gives NET_ADMIN after Airlock hardened it', async () => {
  adds = undefined;
  const created = await env.kubectl.run(['create', '-n', TEAM, '-f', '-'], JSON.stringify(podManifest('debugged')));
  expect(created.code, created.stderr).toBe(0);
  const result = await env.kubectl.run(['debug', '-n', TEAM, 'debugged', '--image=busybox', '-c', 'dbg', '--', 'sleep', '1']);
  expect(result.code).not.toBe(0);
  expect(result.stderr).toContain("ValidatingAdmissionPolicy 'airlock-sandbox-pod'");
  expect(result.stderr).toContain('containers dbg: privileged or adding a capability beyond Pod Security baseline');
});
