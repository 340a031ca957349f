import type { V1Pod } from '@kubernetes/client-node';
import { afterAll, describe, expect, it, vi } from 'vitest';
import type { AgentSandbox } from '../api/index.js';
import type { AdmissionReviewResponse } from './admission.js';
import { injectPod } from './inject.js';
import { applyPodPatch, type PatchOperation } from './patch.js';
import { buildWebhookApp } from './server.js';
import { postJson, testPod, testSandbox, testSettings } from './test-fixtures.js';

const settings = testSettings();
const sandboxes = new Map<string, AgentSandbox>([
  ['agents/research', testSandbox('research')],
  ['agents/tools-group', testSandbox('tools-group', { providers: ['openai'], socket: { group: 61338 } })],
]);
const lookupSandbox = vi.fn(async (namespace: string, name: string) => {
  if (name === 'broken') throw new Error('informer cache not synced');
  return sandboxes.get(`${namespace}/${name}`);
});
const app = buildWebhookApp({ lookupSandbox, referencedSecrets: (namespace) => new Set(namespace === 'agents' ? ['openai-keys'] : []), settings });
afterAll(() => app.close());

interface ReviewOptions {
  object?: unknown;
  oldObject?: unknown;
  operation?: string;
  kind?: { group: string; version: string; kind: string };
  subResource?: string;
  namespace?: string;
  dryRun?: boolean;
}

/** An AdmissionReview as the API server sends it for a pod CREATE, unless told otherwise. */
function review(options: ReviewOptions = {}) {
  const kind = options.kind ?? { group: '', version: 'v1', kind: 'Pod' };
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
      kind,
      resource: { group: kind.group, version: kind.version, resource: `${kind.kind.toLowerCase()}s` },
      requestKind: kind,
      ...(options.subResource ? { subResource: options.subResource } : {}),
      namespace: options.namespace ?? 'agents',
      operation: options.operation ?? 'CREATE',
      userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller', groups: ['system:authenticated'] },
      object: options.object ?? testPod(),
      oldObject: options.oldObject ?? null,
      dryRun: options.dryRun ?? false,
      options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
    },
  };
}

async function post(body: unknown): Promise<AdmissionReviewResponse> {
  const res = await postJson<AdmissionReviewResponse>(app, '/mutate', body);
  expect(res.status).toBe(200);
  return res.body;
}

const decode = (patch: string | undefined): PatchOperation[] => JSON.parse(Buffer.from(patch ?? '', 'base64').toString('utf8')) as PatchOperation[];

describe('POST /mutate', () => {
  it('injects a labelled pod and answers with a base64 JSON patch, echoing the uid', async () => {
    const pod = testPod();
    const body = await post(review({ object: pod }));
    expect(body.apiVersion).toBe('admission.k8s.io/v1');
    expect(body.kind).toBe('AdmissionReview');
    expect(body.response).toMatchObject({ uid: '705ab4f5-6393-11e8-b7cc-42010a800002', allowed: true, patchType: 'JSONPatch' });
    const expected = injectPod(pod, testSandbox('research'), settings).pod;
    expect(applyPodPatch(pod, decode(body.response.patch))).toEqual(expected);
  });

  it('looks the sandbox up in the request\'s namespace for a pod created with generateName', async () => {
    lookupSandbox.mockClear();
    const pod: V1Pod = { ...testPod(), metadata: { generateName: 'agent-', labels: { 'airlock.dev/sandbox': 'research' } } };
    const body = await post(review({ object: pod }));
    expect(lookupSandbox).toHaveBeenCalledWith('agents', 'research');
    expect(body.response.allowed).toBe(true);
    expect(decode(body.response.patch).length).toBeGreaterThan(0);
  });

  it('mutates dry-run requests too, since injection has no side effects', async () => {
    const body = await post(review({ dryRun: true }));
    expect(body.response.patchType).toBe('JSONPatch');
  });

  it('answers an injected pod (webhook reinvocation) with no patch', async () => {
    const injected = injectPod(testPod(), testSandbox('research'), settings).pod;
    const body = await post(review({ object: injected }));
    expect(body.response).toEqual({ uid: expect.any(String), allowed: true });
  });

  it('lets an unlabelled pod through untouched without a lookup', async () => {
    lookupSandbox.mockClear();
    const pod = testPod();
    delete pod.metadata!.labels;
    const body = await post(review({ object: pod }));
    expect(body.response).toEqual({ uid: expect.any(String), allowed: true });
    expect(lookupSandbox).not.toHaveBeenCalled();
  });

  it('lets through what is not a pod CREATE', async () => {
    const deployment = { kind: { group: 'apps', version: 'v1', kind: 'Deployment' }, object: { metadata: { name: 'd' } } };
    expect((await post(review(deployment))).response).toEqual({ uid: expect.any(String), allowed: true });
    const unlabelled = { metadata: { name: 'p' }, spec: { containers: [{ name: 'c' }] } };
    expect((await post(review({ operation: 'UPDATE', object: unlabelled, oldObject: unlabelled }))).response).toEqual({ uid: expect.any(String), allowed: true });
    expect((await post(review({ operation: 'UPDATE', subResource: 'status' }))).response).toEqual({ uid: expect.any(String), allowed: true });
    expect((await post(review({ operation: 'CREATE', subResource: 'binding' }))).response).toEqual({ uid: expect.any(String), allowed: true });
  });

  it('refuses a pod running an app container as the sidecar UID, naming the field', async () => {
    const pod = testPod('research', { containers: [{ name: 'agent' }, { name: 'sneaky', securityContext: { runAsUser: 61337 } }] });
    const body = await post(review({ object: pod }));
    expect(body.response).toEqual({
      uid: expect.any(String),
      allowed: false,
      status: {
        code: 403,
        reason: 'Forbidden',
        message: "airlock: pod refused: spec.containers[1].securityContext.runAsUser: 61337 is the Airlock sidecar's UID; an app container must not run as it",
      },
    });
  });

  it("refuses a pod whose sandbox's socket group is airlock-tools' group, which injection would give every container", async () => {
    const body = await post(review({ object: testPod('tools-group') }));
    expect(body.response.allowed).toBe(false);
    expect(body.response.status?.message).toBe(
      "airlock: pod refused: metadata.labels[airlock.dev/sandbox]: AgentSandbox tools-group sets spec.socket.group 61338, the group of Airlock's airlock-tools container, which injection would give every container; choose another group",
    );
  });

  it('refuses a pod naming a sandbox that does not exist', async () => {
    const body = await post(review({ object: testPod('nope') }));
    expect(body.response.allowed).toBe(false);
    expect(body.response.status).toEqual({
      code: 403,
      reason: 'Forbidden',
      message: 'airlock: pod refused: metadata.labels[airlock.dev/sandbox]: AgentSandbox "nope" does not exist in namespace agents',
    });
  });

  it("refuses a pod whose sandbox's credentials Secret is someone else's (the sidecar would run with its config and keys), and one it cannot check", async () => {
    const owners = new Map<string, string | Error>([['airlock-research-credentials', 'someone-else']]);
    let lookups = 0;
    const guarded = buildWebhookApp({
      lookupSandbox,
      settings,
      foreignCredentials: async (_namespace, name, uid) => {
        lookups += 1;
        const owner = owners.get(name);
        if (owner instanceof Error) throw owner;
        return owner !== undefined && owner !== uid;
      },
    });
    try {
      const decide = async () => (await postJson<AdmissionReviewResponse>(guarded, '/mutate', review())).body.response;
      expect(await decide()).toMatchObject({
        allowed: false,
        status: { code: 403, message: expect.stringContaining("Secret airlock-research-credentials exists and is not AgentSandbox research's") },
      });
      owners.set('airlock-research-credentials', new Error('list secrets: connection refused'));
      expect(await decide()).toMatchObject({ allowed: false, status: { code: 500, message: expect.stringContaining('could not look up Secret agents/airlock-research-credentials') } });
      // None yet (a pod applied with its sandbox), or the sandbox's own: injected.
      owners.delete('airlock-research-credentials');
      expect(await decide()).toMatchObject({ allowed: true, patchType: 'JSONPatch' });
      // Whatever the Secret's owner reference claims (anyone creating it may write one), a sandbox
      // whose config could not be written gets no pods.
      const stuck = testSandbox('research');
      stuck.status = { conditions: [{ type: 'ConfigRendered', status: 'False', reason: 'WriteFailed', message: 'Secret airlock-research-credentials could not be written: 422 Invalid', lastTransitionTime: '2026-11-28T00:00:00Z' }] } as never;
      sandboxes.set('agents/research', stuck);
      expect(await decide()).toMatchObject({ allowed: false, status: { code: 403, message: expect.stringContaining('AgentSandbox research could not write its config (WriteFailed') } });
      // Judged from the sandbox in hand, before the Secret's lookup (an API call on a cache miss):
      // none is made, and a lookup that would fail does not turn the refusal into a 500.
      owners.set('airlock-research-credentials', new Error('list secrets: connection refused'));
      const before = lookups;
      expect(await decide()).toMatchObject({ allowed: false, status: { code: 403, message: expect.stringContaining('AgentSandbox research could not write its config (WriteFailed') } });
      expect(lookups).toBe(before);
    } finally {
      sandboxes.set('agents/research', testSandbox('research'));
      await guarded.close();
    }
  });

  it('refuses, rather than admits without the airlock, when the lookup fails', async () => {
    const body = await post(review({ object: testPod('broken') }));
    expect(body.response.allowed).toBe(false);
    expect(body.response.status?.code).toBe(500);
    expect(body.response.status?.message).toContain('could not look up AgentSandbox agents/broken: informer cache not synced');
  });

  it('refuses a pod object that is not a pod, naming the field', async () => {
    const body = await post(review({ object: { metadata: { labels: { 'airlock.dev/sandbox': 'research' } }, spec: {} } }));
    expect(body.response.allowed).toBe(false);
    expect(body.response.status?.code).toBe(400);
    expect(body.response.status?.message).toMatch(/^airlock: object\.spec\.containers: /);
  });

  it('checks ephemeral containers added to a sandbox pod, and hardens the ones it admits', async () => {
    const injected = injectPod(testPod(), testSandbox('research'), settings).pod;
    const debugging = (securityContext: object) => ({ ...injected, spec: { ...injected.spec!, ephemeralContainers: [{ name: 'debugger', image: 'busybox', securityContext }] } });
    const refused = await post(review({ operation: 'UPDATE', subResource: 'ephemeralcontainers', object: debugging({ privileged: true }), oldObject: injected }));
    expect(refused.response.allowed).toBe(false);
    expect(refused.response.status?.message).toContain('spec.ephemeralContainers[0].securityContext.privileged');
    const fine = await post(review({ operation: 'UPDATE', subResource: 'ephemeralcontainers', object: debugging({ runAsUser: 1000 }), oldObject: injected }));
    expect(fine.response).toMatchObject({ allowed: true, patchType: 'JSONPatch' });
    const stored = applyPodPatch(debugging({ runAsUser: 1000 }) as V1Pod, decode(fine.response.patch));
    expect(stored.spec?.ephemeralContainers?.[0]?.securityContext).toEqual({
      runAsUser: 1000,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['NET_ADMIN', 'NET_RAW', 'SETUID', 'SETGID'] },
    });
  });

  it('refuses removing the sandbox label of an injected pod, naming the label', async () => {
    const injected = injectPod(testPod(), testSandbox('research'), settings).pod;
    const unlabelled = { ...injected, metadata: { ...injected.metadata, labels: {} } };
    const body = await post(review({ operation: 'UPDATE', object: unlabelled, oldObject: injected }));
    expect(body.response.status).toEqual({
      code: 403,
      reason: 'Forbidden',
      message: 'airlock: pod refused: metadata.labels[airlock.dev/sandbox]: cannot be removed: the pod was created for AgentSandbox "research"; delete it and create a new one',
    });
  });

  it('refuses a service account token the pod projects itself when its sandbox gives none', async () => {
    const vault = testPod('research', { volumes: [{ name: 'vault-token', projected: { sources: [{ serviceAccountToken: { audience: 'vault', path: 'token' } }] } }] });
    expect((await post(review({ object: vault }))).response.status?.message).toBe(
      'airlock: pod refused: spec.volumes[0].projected.sources[0].serviceAccountToken: AgentSandbox research gives its pods no service account token (spec.isolation.automountServiceAccountToken is false): a token is a credential the agent could send out',
    );
  });

  it("refuses a Secret the namespace's providers use, however an app or debug container references it", async () => {
    const env = testPod('research', { containers: [{ name: 'agent', envFrom: [{ secretRef: { name: 'openai-keys' } }] }] });
    expect((await post(review({ object: env }))).response.status?.message).toBe(
      'airlock: pod refused: spec.containers[0].envFrom[0].secretRef.name: Secret openai-keys holds keys a ModelProvider or MCPBackend of this namespace uses; they reach agents only through the Airlock sidecar',
    );
    const projected = testPod('research', { volumes: [{ name: 'keys', projected: { sources: [{ secret: { name: 'openai-keys' } }] } }] });
    expect((await post(review({ object: projected }))).response.status?.message).toContain('spec.volumes[0].projected.sources[0].secret.name: Secret openai-keys holds keys');
    // Another namespace's providers do not make the name special here.
    expect((await post(review({ object: { ...env, metadata: { ...env.metadata, namespace: 'other' } }, namespace: 'other' }))).response.status?.message).toContain('does not exist in namespace other');
    const injected = injectPod(testPod(), testSandbox('research'), settings).pod;
    const debugging = { ...injected, spec: { ...injected.spec!, ephemeralContainers: [{ name: 'debugger', image: 'busybox', env: [{ name: 'K', valueFrom: { secretKeyRef: { name: 'openai-keys', key: 'primary' } } }] }] } };
    const debug = await post(review({ operation: 'UPDATE', subResource: 'ephemeralcontainers', object: debugging, oldObject: injected }));
    expect(debug.response.status?.message).toContain('spec.ephemeralContainers[0].env[0].valueFrom.secretKeyRef.name: Secret openai-keys holds keys');
  });

  it('refuses an empty sandbox label with a 400 naming the label, without looking anything up', async () => {
    lookupSandbox.mockClear();
    const body = await post(review({ object: testPod('') }));
    expect(body.response.status).toEqual({
      code: 400,
      reason: 'BadRequest',
      message: 'airlock: pod refused: metadata.labels[airlock.dev/sandbox]: "" is not the name of an AgentSandbox (a lowercase DNS subdomain name)',
    });
    expect(lookupSandbox).not.toHaveBeenCalled();
  });

  it('refuses a sandbox whose sidecar image the chart does not allow', async () => {
    sandboxes.set('agents/custom', testSandbox('custom', { providers: ['openai'], sidecar: { image: 'evil.example/sidecar:1' } }));
    const body = await post(review({ object: testPod('custom') }));
    expect(body.response.status?.message).toBe(
      'airlock: pod refused: metadata.labels[airlock.dev/sandbox]: AgentSandbox custom names spec.sidecar.image evil.example/sidecar:1, which is not one of the sidecar images the chart allows (sidecar.allowedImages)',
    );
  });

  it('answers 400 to a body that is not an AdmissionReview v1', async () => {
    const res = await postJson<{ error: string }>(app, '/mutate', { ...review(), apiVersion: 'admission.k8s.io/v1beta1' });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: expect.stringMatching(/^not an admission\.k8s\.io\/v1 AdmissionReview: apiVersion: /) });
  });

  it('refuses a body with a __proto__ or constructor.prototype key, in any spelling, as fastify\'s parser did', async () => {
    const text = JSON.stringify(review());
    const bodies = [
      text.replace('"request":{', '"request":{"__proto__":{"operation":"DELETE"},'),
      text.replace('"request":{', '"request":{"\\u005f_proto__":{"x":1},'),
      text.replace('"request":{', '"request":{"constructor":{"prototype":{"x":1}},'),
    ];
    for (const body of bodies) {
      const res = await postJson<{ error: string }>(app, '/mutate', Buffer.from(body));
      expect(res.status, body.slice(0, 120)).toBe(400);
      expect(res.body.error).toMatch(/^not an admission\.k8s\.io\/v1 AdmissionReview: the body holds a "(__proto__|constructor\.prototype)" key$/);
    }
    // A "constructor" whose value has no prototype (an annotation) is a pod like any other.
    const pod = testPod();
    pod.metadata!.annotations = { constructor: 'x' };
    expect((await post(review({ object: pod }))).response.allowed).toBe(true);
  });

  it('accepts pods larger than a 1 MiB body limit (fastify\'s default, which the webhook once had)', async () => {
    const pod = testPod();
    pod.metadata!.annotations = { 'example.com/blob': 'x'.repeat(1_500_000) };
    const body = await post(review({ object: pod }));
    expect(body.response.allowed).toBe(true);
  });
});
