import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubernetesObject, V1Secret } from '@kubernetes/client-node';
import pino from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { AgentSandbox } from '../api/index.js';
import type { Kube } from '../kube/client.js';
import type { Caches } from '../runtime/informers.js';
import type { OutsideCalls } from '../runtime/outside-calls.js';
import { readSettings } from '../settings.js';
import { MountedSecretHeaders, readSecretHeaders } from '../telemetry/otlp-headers.js';
import { newSealKey, sealedByOperator } from '../tls/seal-key.js';
import { SealedTokens } from '../usage/sealed-token.js';
import type { CredentialRejections } from '../usage/rejections.js';
import { secretVolume } from '../../../test/integration/sidecar/harness.js';
import { reconcileAgentSandbox } from './agent-sandbox.js';
import type { ControllerContext } from './context.js';

/** An informer cache that holds `objects` by namespace/name (and nothing for the other kinds). */
const cache = (objects: Map<string, KubernetesObject>) => ({
  get: (namespace: string, name: string) => objects.get(`${namespace}/${name}`),
  list: () => [],
});

/** A context over `sandboxes` whose writes, Events and status patches land in `written`. */
function fakeContext(sandboxes: Map<string, KubernetesObject>, argv: string[], written: unknown[]): ControllerContext {
  const empty = cache(new Map());
  const caches = { sandboxes: cache(sandboxes), providers: empty, backends: empty, secrets: empty, rendered: empty, pods: empty, configMaps: empty, networkPolicies: empty, namespaces: empty } as unknown as Caches;
  const record = async (...args: unknown[]) => void written.push(args);
  // A create claims the name; what the sandbox renders is the apply after it.
  const create = async (o: KubernetesObject) => ({ ...o, metadata: { ...o.metadata, uid: 'created' } });
  const kube = { apply: async (o: KubernetesObject) => void written.push(o), create, event: record, patchStatus: record, deleteIfExists: async () => {} } as unknown as Kube;
  const settings = readSettings(argv, { POD_NAMESPACE: 'airlock-system', POD_NAME: 'airlock-0' });
  const seal = newSealKey();
  return {
    kube,
    caches,
    settings,
    log: pino({ level: 'silent' }),
    enqueue: () => {},
    memos: new Map(),
    outside: {} as OutsideCalls,
    rejections: {} as CredentialRejections,
    collectorHeaders: new MountedSecretHeaders(settings.otlpHeadersDir),
    seal,
    sealedTokens: new SealedTokens((secret, subject) => sealedByOperator(secret, subject, seal) !== undefined),
  };
}

describe('reconciling an AgentSandbox', () => {
  it("gives its sidecars the collector's secret headers in the credentials Secret only: not the ConfigMap, an Event or the status", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'airlock-otlp-'));
    try {
      const volume = await secretVolume(join(dir, 'otlp-headers'));
      const token = 'Bearer otlp-a41c9e07d25b';
      await volume.publish({ Authorization: token });
      const written: unknown[] = [];
      const sandboxes = new Map<string, KubernetesObject>([['team-a/agents', AgentSandbox.parse({ apiVersion: 'airlock.dev/v1alpha1', kind: 'AgentSandbox', metadata: { name: 'agents', namespace: 'team-a', uid: 'u-1', generation: 1 }, spec: {} })]]);
      await reconcileAgentSandbox(fakeContext(sandboxes, ['--otlp-endpoint', 'http://collector:4318', '--otlp-headers-dir', volume.path], written), 'team-a', 'agents');
      const secret = written.find((o) => (o as KubernetesObject).kind === 'Secret') as V1Secret;
      expect(Object.values(secret.data ?? {})).toContain(Buffer.from(token).toString('base64'));
      const rest = JSON.stringify(written.filter((o) => o !== secret));
      expect(rest).toContain('ConfigMap');
      expect(rest).toContain('otlp.header.0');
      expect(rest).not.toContain('otlp-a41c9e07d25b');
      expect(rest).not.toContain(Buffer.from(token).toString('base64'));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('renders a rotated collector header after the watch on its mount fires, and reads an unchanged mount once, not on every reconcile', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'airlock-otlp-'));
    try {
      const volume = await secretVolume(join(dir, 'otlp-headers'));
      await volume.publish({ Authorization: 'Bearer otlp-first-7d2a' });
      const written: unknown[] = [];
      const sandboxes = new Map<string, KubernetesObject>([['team-a/agents', AgentSandbox.parse({ apiVersion: 'airlock.dev/v1alpha1', kind: 'AgentSandbox', metadata: { name: 'agents', namespace: 'team-a', uid: 'u-1', generation: 1 }, spec: {} })]]);
      const ctx = fakeContext(sandboxes, ['--otlp-endpoint', 'http://collector:4318', '--otlp-headers-dir', volume.path], written);
      const read = vi.fn(readSecretHeaders);
      ctx.collectorHeaders = new MountedSecretHeaders(volume.path, read);
      const stop = ctx.collectorHeaders.watch(
        () => undefined,
        (err) => {
          throw err;
        },
      );
      /** The credentials Secret a reconcile writes: does it carry `token`? */
      const rendersToken = async (token: string) => {
        written.length = 0;
        await reconcileAgentSandbox(ctx, 'team-a', 'agents');
        const secret = written.find((o) => (o as KubernetesObject).kind === 'Secret') as V1Secret;
        return Object.values(secret.data ?? {}).includes(Buffer.from(token).toString('base64'));
      };
      try {
        for (let i = 0; i < 3; i++) expect(await rendersToken('Bearer otlp-first-7d2a')).toBe(true);
        expect(read).toHaveBeenCalledTimes(1);

        // The kubelet's swap: a new timestamped directory, then the ..data link moved to it.
        await volume.publish({ Authorization: 'Bearer otlp-rotated-51c0' });
        await vi.waitFor(async () => expect(await rendersToken('Bearer otlp-rotated-51c0')).toBe(true), { timeout: 10_000 });
      } finally {
        stop();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('forgets the usage token it minted when the sandbox is deleted before the cache shows its Secret', async () => {
    const sandboxes = new Map<string, KubernetesObject>();
    const applied: unknown[] = [];
    const ctx = fakeContext(sandboxes, ['--usage-url', 'http://airlock-metrics.airlock-system.svc:8081'], applied);
    const sandbox = AgentSandbox.parse({ apiVersion: 'airlock.dev/v1alpha1', kind: 'AgentSandbox', metadata: { name: 'agents', namespace: 'team-a', uid: 'u-1', generation: 1 }, spec: { providers: ['oa'] } });
    sandboxes.set('team-a/agents', sandbox);

    // The Secret is written but the watch has not brought it back: the token (and the status written) are remembered meanwhile.
    await reconcileAgentSandbox(ctx, 'team-a', 'agents');
    expect(applied.map((o) => (o as KubernetesObject).kind)).toContain('Secret');
    expect([...ctx.memos.keys()].sort()).toEqual(['status/AgentSandbox/team-a/agents', 'usage-token/team-a/agents']);

    sandboxes.delete('team-a/agents');
    await reconcileAgentSandbox(ctx, 'team-a', 'agents');
    // Before: the entry stayed until the operator restarted, one per sandbox deleted so.
    expect(ctx.memos.size).toBe(0);
  });

  it('records one ConfigRendered Event per config, though the cache still shows the sandbox as before its status was written', async () => {
    const sandboxes = new Map<string, KubernetesObject>();
    const written: unknown[] = [];
    const ctx = fakeContext(sandboxes, [], written);
    const sandbox = AgentSandbox.parse({ apiVersion: 'airlock.dev/v1alpha1', kind: 'AgentSandbox', metadata: { name: 'agents', namespace: 'team-a', uid: 'u-1', generation: 1, resourceVersion: '10' }, spec: { providers: ['oa'] } });
    sandboxes.set('team-a/agents', sandbox);
    const rendered = () => written.filter((w) => Array.isArray(w) && w[2] === 'ConfigRendered').length;

    // The ConfigMap's and Secret's watch events queue it again before the status patch is seen.
    await reconcileAgentSandbox(ctx, 'team-a', 'agents');
    await reconcileAgentSandbox(ctx, 'team-a', 'agents');
    expect(rendered()).toBe(1);

    // A spec change that renders another config is a new version, with the status as written.
    const status = (written.filter((w) => Array.isArray(w) && w[0] === 'agentsandboxes').at(-1) as unknown[])[3];
    sandboxes.set('team-a/agents', AgentSandbox.parse({ ...sandbox, metadata: { ...sandbox.metadata, generation: 2, resourceVersion: '12' }, spec: { providers: ['oa'], models: { allow: ['gpt-*'] } }, status }));
    await reconcileAgentSandbox(ctx, 'team-a', 'agents');
    await reconcileAgentSandbox(ctx, 'team-a', 'agents');
    expect(rendered()).toBe(2);
  });
});
