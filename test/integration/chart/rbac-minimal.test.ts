/**
 * The chart's RBAC is minimal: asked with a token of the chart's ServiceAccount, the API server
 * says it may do what the chart's roles list and what every authenticated user may, nothing
 * else (SelfSubjectRulesReview), and refuses the verbs an attacker holding that token would want
 * first (SelfSubjectAccessReview, as `kubectl auth can-i` asks). rbac-sufficient.test.ts shows
 * the operator needs no more.
 *
 * On a control plane of its own (see install.ts).
 */
import { AuthorizationV1Api, type V1ResourceAttributes } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { only, type Manifest } from '../../helm/helm.js';
import { chartClusterForFile, installChart } from './install.js';

const namespace = 'airlock-system';
const team = 'team-a';

const chartCluster = chartClusterForFile();

type Rule = { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] };

/** Rules as sorted `verb group/resource[/name]` lines, so two rule lists compare by what they grant. */
const grants = (rules: Rule[]): string[] =>
  [
    ...new Set(
      rules.flatMap((rule) =>
        rule.apiGroups.flatMap((group) =>
          rule.resources.flatMap((resource) => rule.verbs.flatMap((verb) => (rule.resourceNames?.length ? rule.resourceNames : ['*']).map((name) => `${verb} ${group || 'core'}/${resource}/${name}`))),
        ),
      ),
    ),
  ].sort();

/** What system:basic-user grants every authenticated user: asking about oneself. */
const SELF_REVIEWS: Rule[] = [
  { apiGroups: ['authorization.k8s.io'], resources: ['selfsubjectaccessreviews', 'selfsubjectrulesreviews'], verbs: ['create'] },
  { apiGroups: ['authentication.k8s.io'], resources: ['selfsubjectreviews'], verbs: ['create'] },
];

/** Authorization as the chart's ServiceAccount, with a TokenRequest token. */
async function asServiceAccount(objects: Manifest[]) {
  const serviceAccount = only(objects, 'ServiceAccount').metadata;
  const token = await chartCluster().controlPlane.tokenFor(serviceAccount.namespace!, serviceAccount.name);
  const api = chartCluster().controlPlane.kubeConfigForToken(token).makeApiClient(AuthorizationV1Api);
  return {
    async rulesIn(ns: string): Promise<string[]> {
      const review = await api.createSelfSubjectRulesReview({ body: { spec: { namespace: ns } } });
      expect(review.status?.incomplete).toBe(false);
      return grants((review.status?.resourceRules ?? []) as Rule[]);
    },
    async can(attributes: V1ResourceAttributes): Promise<boolean> {
      const review = await api.createSelfSubjectAccessReview({ body: { spec: { resourceAttributes: attributes } } });
      return review.status?.allowed ?? false;
    },
  };
}

describe('the default install (all namespaces, self-managed TLS)', () => {
  let objects: Manifest[];
  let sa: Awaited<ReturnType<typeof asServiceAccount>>;

  beforeAll(async () => {
    objects = await installChart(chartCluster().kubectl, { release: 'airlock', namespace });
    await chartCluster().kubectl.ok(['create', 'namespace', team]);
    sa = await asServiceAccount(objects);
  });

  it("may do exactly what the chart's roles say, plus asking about itself", async () => {
    const clusterWide = rulesOfKind(objects, 'ClusterRole');
    expect(await sa.rulesIn(team)).toEqual(grants([...SELF_REVIEWS, ...clusterWide]));
    expect(await sa.rulesIn(namespace)).toEqual(grants([...SELF_REVIEWS, ...clusterWide, ...rulesOfKind(objects, 'Role')]));
  });

  // What a stolen operator token must not be good for, each beside the closest thing the
  // operator may do (so a denial cannot pass because the review itself is broken).
  const groups: { what: string; checks: [V1ResourceAttributes, boolean][] }[] = [
    {
      what: "get a user's Secret by name (its informer lists them; nothing reads one by one)",
      checks: [
        [{ verb: 'get', resource: 'secrets', namespace: team, name: 'openai-keys' }, false],
      ],
    },
    {
      what: "update or delete a user's Secret",
      checks: [
        [{ verb: 'update', resource: 'secrets', namespace: team, name: 'openai-keys' }, false],
        [{ verb: 'delete', resource: 'secrets', namespace: team, name: 'openai-keys' }, false],
      ],
    },
    {
      what: 'delete any Secret, even its own TLS Secret',
      checks: [
        [{ verb: 'delete', resource: 'secrets', namespace, name: 'airlock-webhook-tls' }, false],
      ],
    },
    {
      what: 'update a Secret in its namespace other than the webhook TLS Secret',
      checks: [
        [{ verb: 'update', resource: 'secrets', namespace, name: 'other' }, false],
        [{ verb: 'update', resource: 'secrets', namespace, name: 'airlock-webhook-tls' }, true],
      ],
    },
    {
      what: 'read a Secret of its namespace other than its own, or change its seal key (running sidecars hold its public half)',
      checks: [
        [{ verb: 'get', resource: 'secrets', namespace, name: 'other' }, false],
        [{ verb: 'get', resource: 'secrets', namespace, name: 'airlock-config-seal' }, true],
        [{ verb: 'update', resource: 'secrets', namespace, name: 'airlock-config-seal' }, false],
        [{ verb: 'patch', resource: 'secrets', namespace, name: 'airlock-config-seal' }, true],
      ],
    },
    {
      what: 'create, change, delete or exec into pods',
      checks: [
        [{ verb: 'create', resource: 'pods', namespace: team }, false],
        [{ verb: 'patch', resource: 'pods', namespace: team }, false],
        [{ verb: 'delete', resource: 'pods', namespace: team }, false],
        [{ verb: 'create', resource: 'pods', subresource: 'exec', namespace: team }, false],
        [{ verb: 'patch', resource: 'pods', subresource: 'ephemeralcontainers', namespace: team }, false],
        [{ verb: 'list', resource: 'pods', namespace: team }, true],
      ],
    },
    {
      what: 'touch another webhook configuration, or create or delete one',
      checks: [
        [{ verb: 'update', group: 'admissionregistration.k8s.io', resource: 'mutatingwebhookconfigurations', name: 'other-webhook' }, false],
        [{ verb: 'get', group: 'admissionregistration.k8s.io', resource: 'mutatingwebhookconfigurations', name: 'other-webhook' }, false],
        [{ verb: 'list', group: 'admissionregistration.k8s.io', resource: 'mutatingwebhookconfigurations' }, false],
        [{ verb: 'create', group: 'admissionregistration.k8s.io', resource: 'mutatingwebhookconfigurations' }, false],
        [{ verb: 'delete', group: 'admissionregistration.k8s.io', resource: 'mutatingwebhookconfigurations', name: 'airlock' }, false],
        [{ verb: 'update', group: 'admissionregistration.k8s.io', resource: 'validatingwebhookconfigurations', name: 'airlock' }, false],
        [{ verb: 'update', group: 'admissionregistration.k8s.io', resource: 'mutatingwebhookconfigurations', name: 'airlock' }, true],
      ],
    },
    {
      what: 'escalate: bind or edit roles, impersonate, mint tokens',
      checks: [
        [{ verb: 'create', group: 'rbac.authorization.k8s.io', resource: 'clusterrolebindings' }, false],
        [{ verb: 'create', group: 'rbac.authorization.k8s.io', resource: 'rolebindings', namespace: team }, false],
        [{ verb: 'bind', group: 'rbac.authorization.k8s.io', resource: 'clusterroles', name: 'cluster-admin' }, false],
        [{ verb: 'escalate', group: 'rbac.authorization.k8s.io', resource: 'clusterroles', name: 'airlock-operator' }, false],
        [{ verb: 'update', group: 'rbac.authorization.k8s.io', resource: 'roles', namespace, name: 'airlock-operator' }, false],
        [{ verb: 'impersonate', resource: 'serviceaccounts', namespace: team }, false],
        [{ verb: 'create', resource: 'serviceaccounts', subresource: 'token', namespace, name: 'airlock' }, false],
      ],
    },
    {
      what: "change an Airlock resource's spec, create or delete one (only status is its to write)",
      checks: [
        [{ verb: 'update', group: 'airlock.dev', resource: 'agentsandboxes', namespace: team }, false],
        [{ verb: 'patch', group: 'airlock.dev', resource: 'agentsandboxes', namespace: team }, false],
        [{ verb: 'delete', group: 'airlock.dev', resource: 'modelproviders', namespace: team }, false],
        [{ verb: 'create', group: 'airlock.dev', resource: 'mcpbackends', namespace: team }, false],
        [{ verb: 'patch', group: 'airlock.dev', resource: 'agentsandboxes', subresource: 'status', namespace: team }, true],
      ],
    },
    {
      // Garbage collection deletes them; the operator deletes one only to make its own again
      // (an editor made it immutable), naming its uid: RBAC cannot say that.
      what: 'update ConfigMaps',
      checks: [
        [{ verb: 'update', resource: 'configmaps', namespace: team }, false],
        [{ verb: 'delete', resource: 'configmaps', namespace: team }, true],
      ],
    },
    {
      what: 'take over another Lease, or any Lease outside its namespace',
      checks: [
        [{ verb: 'update', group: 'coordination.k8s.io', resource: 'leases', namespace, name: 'other-controller' }, false],
        [{ verb: 'create', group: 'coordination.k8s.io', resource: 'leases', namespace: team }, false],
        [{ verb: 'delete', group: 'coordination.k8s.io', resource: 'leases', namespace, name: 'airlock-operator' }, false],
        [{ verb: 'update', group: 'coordination.k8s.io', resource: 'leases', namespace, name: 'airlock-operator' }, true],
      ],
    },
    {
      what: 'touch CRDs or nodes, change namespaces (it reads their Pod Security labels), or delete Events',
      checks: [
        [{ verb: 'update', group: 'apiextensions.k8s.io', resource: 'customresourcedefinitions', name: 'agentsandboxes.airlock.dev' }, false],
        [{ verb: 'list', resource: 'nodes' }, false],
        [{ verb: 'delete', resource: 'namespaces', name: team }, false],
        [{ verb: 'patch', resource: 'namespaces', name: team }, false],
        [{ verb: 'update', resource: 'namespaces', name: team }, false],
        [{ verb: 'watch', resource: 'namespaces' }, true],
        [{ verb: 'delete', resource: 'events', namespace: team }, false],
      ],
    },
  ];

  for (const { what, checks } of groups) {
    describe(`cannot ${what}`, () => {
      for (const [attributes, allowed] of checks) {
        it(`${describeAttributes(attributes)}: ${allowed ? 'allowed' : 'denied'}`, async () => {
          expect(await sa.can(attributes)).toBe(allowed);
        });
      }
    });
  }
});

describe('operator.watchNamespaces: namespaced Roles only', () => {
  it('self TLS: no cluster-wide Secret, ConfigMap, NetworkPolicy or Pod rights; reconcile rights in each listed namespace', async () => {
    for (const ns of ['team-d', 'team-e']) await chartCluster().kubectl.ok(['create', 'namespace', ns]);
    const objects = await installChart(chartCluster().kubectl, { release: 'listed', namespace: 'listed-system', values: { fullnameOverride: 'listed', operator: { watchNamespaces: ['team-d', 'team-e'] } } });
    const sa = await asServiceAccount(objects);
    for (const resource of ['secrets', 'configmaps', 'pods']) {
      expect(await sa.can({ verb: 'list', resource }), `list ${resource} cluster-wide`).toBe(false);
      expect(await sa.can({ verb: 'watch', resource }), `watch ${resource} cluster-wide`).toBe(false);
    }
    expect(await sa.can({ verb: 'create', group: 'networking.k8s.io', resource: 'networkpolicies' })).toBe(false);
    expect(await sa.can({ verb: 'list', resource: 'secrets', namespace: 'kube-system' })).toBe(false);
    expect(await sa.can({ verb: 'list', resource: 'secrets', namespace: team })).toBe(false);
    for (const ns of ['team-d', 'team-e']) {
      expect(await sa.can({ verb: 'list', resource: 'secrets', namespace: ns })).toBe(true);
      expect(await sa.can({ verb: 'get', resource: 'secrets', namespace: ns, name: 'anything' })).toBe(false);
      expect(await sa.can({ verb: 'delete', group: 'networking.k8s.io', resource: 'networkpolicies', namespace: ns })).toBe(true);
    }
    // Cluster-scoped: the listed Namespaces' labels (Pod Security) and its own webhook configuration's caBundle.
    expect(rulesOfKind(objects, 'ClusterRole')).toEqual([
      { apiGroups: [''], resources: ['namespaces'], resourceNames: ['team-d', 'team-e'], verbs: ['list', 'watch'] },
      { apiGroups: ['admissionregistration.k8s.io'], resources: ['mutatingwebhookconfigurations'], resourceNames: ['listed'], verbs: ['get', 'update'] },
    ]);
    expect(await sa.can({ verb: 'watch', resource: 'namespaces', name: 'team-d' })).toBe(true);
    expect(await sa.can({ verb: 'watch', resource: 'namespaces', name: 'team-f' })).toBe(false);
    expect(await sa.can({ verb: 'list', resource: 'namespaces' })).toBe(false);
    expect(await sa.rulesIn('team-f')).toEqual(grants([...SELF_REVIEWS, ...rulesOfKind(objects, 'ClusterRole')]));
  });

  it('with cert-manager: reads and writes nothing outside the watched namespaces, and no webhook configuration or TLS Secret', async () => {
    await chartCluster().kubectl.ok(['create', 'namespace', 'team-b']);
    const objects = await installChart(chartCluster().kubectl, { release: 'scoped', namespace: 'scoped-system', values: { fullnameOverride: 'scoped', operator: { watchNamespaces: ['team-b'] }, tls: { mode: 'cert-manager' } } });
    const sa = await asServiceAccount(objects);
    // Cluster-wide, the operator reads the watched Namespace objects (Pod Security labels) and nothing else;
    // the other cluster roles are the namespace users', bound by no one here.
    expect(objects.filter((o) => o.kind.startsWith('Cluster')).map((o) => `${o.kind}/${o.metadata.name}`)).toEqual(['ClusterRole/scoped-operator', 'ClusterRole/scoped-view', 'ClusterRole/scoped-edit', 'ClusterRoleBinding/scoped-operator']);
    expect(rulesOfKind(objects, 'ClusterRole')).toEqual([{ apiGroups: [''], resources: ['namespaces'], resourceNames: ['team-b'], verbs: ['list', 'watch'] }]);
    expect(await sa.can({ verb: 'list', resource: 'namespaces', name: 'team-c' })).toBe(false);
    expect(await sa.can({ verb: 'list', resource: 'secrets', namespace: 'team-b' })).toBe(true);
    expect(await sa.can({ verb: 'list', resource: 'secrets', namespace: team })).toBe(false);
    expect(await sa.can({ verb: 'list', resource: 'secrets' })).toBe(false);
    expect(await sa.can({ verb: 'watch', resource: 'pods' })).toBe(false);
    expect(await sa.can({ verb: 'create', resource: 'configmaps', namespace: team })).toBe(false);
    // cainjector patches the caBundle; the operator's own webhook configuration is out of its reach.
    expect(only(objects, 'MutatingWebhookConfiguration').metadata.name).toBe('scoped');
    expect(await sa.can({ verb: 'update', group: 'admissionregistration.k8s.io', resource: 'mutatingwebhookconfigurations', name: 'scoped' })).toBe(false);
    expect(await sa.can({ verb: 'get', resource: 'secrets', namespace: 'scoped-system', name: 'scoped-webhook-tls' })).toBe(false);
    // Its seal key (ADR 30), made at its first start and read by every replica, in either TLS mode.
    expect(await sa.can({ verb: 'get', resource: 'secrets', namespace: 'scoped-system', name: 'scoped-config-seal' })).toBe(true);
    expect(await sa.can({ verb: 'create', resource: 'secrets', namespace: 'scoped-system' })).toBe(true);
    expect(await sa.rulesIn('team-c')).toEqual(grants([...SELF_REVIEWS, ...rulesOfKind(objects, 'ClusterRole')]));
  });
});

/** The rules of the operator's roles of `kind` (the chart's user-facing airlock-view and airlock-edit are bound to no one by it). */
function rulesOfKind(objects: Manifest[], kind: 'ClusterRole' | 'Role'): Rule[] {
  return objects.filter((o) => o.kind === kind && o.metadata.name.endsWith('-operator')).flatMap((o) => o.rules as Rule[]);
}

/** `kubectl auth can-i` style: `verb resource[/subresource][/name] [-n namespace]`. */
function describeAttributes(a: V1ResourceAttributes): string {
  const resource = [a.group ? `${a.resource}.${a.group}` : a.resource, a.subresource].filter(Boolean).join('/');
  return `${a.verb} ${resource}${a.name ? ` ${a.name}` : ''}${a.namespace ? ` -n ${a.namespace}` : ''}`;
}
