import type { KubernetesObject } from '@kubernetes/client-node';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { AgentSandbox } from '../api/index.js';
import type { Kube } from '../kube/client.js';
import type { Caches } from '../runtime/informers.js';
import type { OutsideCalls } from '../runtime/outside-calls.js';
import { readSettings } from '../settings.js';
import type { CredentialRejections } from '../usage/rejections.js';
import { reconcileAgentSandbox } from './agent-sandbox.js';
import type { ControllerContext } from './context.js';

/** An informer cache that holds `objects` by namespace/name (and nothing for the other kinds). */
const cache = (objects: Map<string, KubernetesObject>) => ({
  get: (namespace: string, name: string) => objects.get(`${namespace}/${name}`),
  list: () => [],
});

describe('reconciling an AgentSandbox', () => {
  it('forgets the usage token it minted when the sandbox is deleted before the cache shows its Secret', async () => {
    const sandboxes = new Map<string, KubernetesObject>();
    const empty = cache(new Map());
    const caches = { sandboxes: cache(sandboxes), providers: empty, backends: empty, secrets: empty, rendered: empty, pods: empty, configMaps: empty, networkPolicies: empty } as unknown as Caches;
    const applied: KubernetesObject[] = [];
    const kube = { apply: async (o: KubernetesObject) => void applied.push(o), event: async () => {}, patchStatus: async () => {}, deleteIfExists: async () => {} } as unknown as Kube;
    const ctx: ControllerContext = {
      kube,
      caches,
      settings: readSettings(['--usage-url', 'http://airlock-metrics.airlock-system.svc:8081'], { POD_NAMESPACE: 'airlock-system', POD_NAME: 'airlock-0' }),
      log: pino({ level: 'silent' }),
      enqueue: () => {},
      memos: new Map(),
      outside: {} as OutsideCalls,
      rejections: {} as CredentialRejections,
    };
    const sandbox = AgentSandbox.parse({ apiVersion: 'airlock.dev/v1alpha1', kind: 'AgentSandbox', metadata: { name: 'agents', namespace: 'team-a', uid: 'u-1', generation: 1 }, spec: { providers: ['oa'] } });
    sandboxes.set('team-a/agents', sandbox);

    // The Secret is written but the watch has not brought it back: the token is remembered meanwhile.
    await reconcileAgentSandbox(ctx, 'team-a', 'agents');
    expect(applied.map((o) => o.kind)).toContain('Secret');
    expect(ctx.memos.size).toBe(1);

    sandboxes.delete('team-a/agents');
    await reconcileAgentSandbox(ctx, 'team-a', 'agents');
    // Before: the entry stayed until the operator restarted, one per sandbox deleted so.
    expect(ctx.memos.size).toBe(0);
  });
});
