/**
 * The Helm chart as `helm lint` and `helm template` see it, with default and non-default values:
 * what the rendered manifests say about the webhook, the operator's flags, its security context
 * and its RBAC. The flags go through the operator's own settings parser, so a flag the operator
 * does not know, or a name the other objects do not use, fails here.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readSettings, type Settings } from '../../operator/src/settings.js';
import { BASELINE_CAPABILITIES } from '../../operator/src/webhook/baseline.js';
import { chartDir, customValuesFile, ensureHelm, lintChart, only, renderChart, renderNotes, repoRoot, type Manifest } from './helm.js';

/** The operator's own ClusterRole (the chart also renders the namespace users' view and edit roles). */
const operatorClusterRole = (objects: Manifest[]) => only(objects.filter((o) => o.kind !== 'ClusterRole' || o.metadata.name.endsWith('-operator')), 'ClusterRole');

/** A cold helm build takes minutes; it happens once per machine. */
const BUILD_TIMEOUT_MS = 20 * 60_000;

beforeAll(async () => {
  await ensureHelm();
}, BUILD_TIMEOUT_MS);

type Container = { name: string; args: string[]; env: { name: string; value?: string; valueFrom?: unknown }[]; ports: { name: string; containerPort: number }[]; [key: string]: unknown };
type Rule = { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] };

const podSpecOf = (deployment: Manifest) => (deployment.spec as { template: { metadata: { labels: Record<string, string> }; spec: Record<string, unknown> & { containers: Container[]; volumes: { name: string; secret?: { secretName: string } }[] } } }).template;
const operatorContainer = (objects: Manifest[]) => podSpecOf(only(objects, 'Deployment')).spec.containers[0]!;
const webhookOf = (objects: Manifest[]) => (only(objects, 'MutatingWebhookConfiguration').webhooks as Record<string, unknown>[])[0]! as Record<string, unknown> & { clientConfig: { service: { name: string; namespace: string; path: string; port: number }; caBundle?: string }; namespaceSelector: { matchLabels?: Record<string, string>; matchExpressions: { key: string; operator: string; values: string[] }[] } };
const rulesOf = (object: Manifest) => object.rules as Rule[];

/**
 * The operator's settings exactly as the Deployment starts it: its args, its literal env, and
 * what the downward API puts in the pod's env.
 */
function settingsOf(objects: Manifest[], namespace: string): Settings {
  const container = operatorContainer(objects);
  const fromFieldRef = (name: string, value: string) => {
    const env = container.env.find((e) => e.name === name);
    expect(env?.valueFrom, `${name} comes from the downward API`).toBeDefined();
    return value;
  };
  const literal = Object.fromEntries(container.env.filter((e) => e.value !== undefined).map((e) => [e.name, e.value]));
  return readSettings(container.args, { ...literal, POD_NAMESPACE: fromFieldRef('POD_NAMESPACE', namespace), POD_NAME: fromFieldRef('POD_NAME', 'airlock-5d8f7c9b6-x2x7q') });
}

/** The rules that reconcile ModelProviders, MCPBackends and AgentSandboxes (cluster-wide or in one namespace). */
const RECONCILE_RULES: Rule[] = [
  { apiGroups: ['airlock.dev'], resources: ['modelproviders', 'mcpbackends'], verbs: ['list', 'watch'] },
  { apiGroups: ['airlock.dev'], resources: ['agentsandboxes'], verbs: ['get', 'list', 'watch'] },
  { apiGroups: ['airlock.dev'], resources: ['modelproviders/status', 'mcpbackends/status', 'agentsandboxes/status'], verbs: ['patch'] },
  { apiGroups: [''], resources: ['secrets'], verbs: ['list', 'watch', 'create', 'patch'] },
  { apiGroups: [''], resources: ['configmaps'], verbs: ['list', 'watch', 'create', 'patch', 'delete'] },
  { apiGroups: ['networking.k8s.io'], resources: ['networkpolicies'], verbs: ['list', 'watch', 'create', 'patch', 'delete'] },
  { apiGroups: [''], resources: ['pods'], verbs: ['list', 'watch'] },
  { apiGroups: [''], resources: ['events'], verbs: ['create'] },
];

/** Reading Namespaces' Pod Security labels: every Namespace, or the watched ones by name. */
const namespacesRule = (names?: string[]): Rule => ({ apiGroups: [''], resources: ['namespaces'], ...(names ? { resourceNames: names } : {}), verbs: ['list', 'watch'] });

describe('helm lint', () => {
  it('passes --strict with the default values and with the non-default values file', async () => {
    for (const valuesFiles of [[], [customValuesFile]]) {
      const result = await lintChart({ valuesFiles });
      expect(result.stdout + result.stderr, `helm lint ${valuesFiles.join(' ')}`).toContain('1 chart(s) linted, 0 chart(s) failed');
      expect(result.code).toBe(0);
    }
  });

  it('rejects values the schema does not know, naming the key', async () => {
    const misspelt = await lintChart({ values: { operator: { replica: 3 } } });
    expect(misspelt.code).not.toBe(0);
    expect(misspelt.stdout).toContain("at '/operator': additional properties 'replica' not allowed");
    const badMode = await lintChart({ values: { tls: { mode: 'vault' } } });
    expect(badMode.stdout).toContain("at '/tls/mode': value must be one of 'self', 'cert-manager'");
    const rootUid = await lintChart({ values: { sidecar: { uid: 0 } } });
    expect(rootUid.stdout).toContain("at '/sidecar/uid'");
  });
});

describe('the chart carries the generated CRDs', () => {
  it('has byte-identical copies of every file in crds/ (npm run generate writes both)', async () => {
    const generated = (await readdir(join(repoRoot, 'crds'))).sort();
    expect(generated.length).toBeGreaterThan(0);
    expect((await readdir(join(chartDir, 'crds'))).sort()).toEqual(generated);
    for (const name of generated) {
      const [source, copy] = await Promise.all([readFile(join(repoRoot, 'crds', name)), readFile(join(chartDir, 'crds', name))]);
      expect(copy.equals(source), `charts/airlock/crds/${name} differs from crds/${name}: copy it (cp crds/*.yaml charts/airlock/crds/)`).toBe(true);
    }
  });
});

describe('default values', () => {
  const namespace = 'airlock-system';
  let objects: Manifest[];
  let settings: Settings;

  beforeAll(async () => {
    objects = await renderChart({ release: 'airlock', namespace });
    settings = settingsOf(objects, namespace);
  });

  it('renders the operator, its RBAC, the webhook and nothing optional', () => {
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual([
      'ClusterRole/airlock-edit',
      'ClusterRole/airlock-operator',
      'ClusterRole/airlock-view',
      'ClusterRoleBinding/airlock-operator',
      'Deployment/airlock',
      'MutatingWebhookConfiguration/airlock',
      'PodDisruptionBudget/airlock',
      'Role/airlock-operator',
      'RoleBinding/airlock-operator',
      'Service/airlock-metrics',
      'Service/airlock-webhook',
      'ServiceAccount/airlock',
      'ValidatingAdmissionPolicy/airlock-credentials',
      'ValidatingAdmissionPolicy/airlock-sandbox-label',
      'ValidatingAdmissionPolicy/airlock-sandbox-namespace',
      'ValidatingAdmissionPolicy/airlock-sandbox-pod',
      'ValidatingAdmissionPolicy/airlock-sidecar-image',
      'ValidatingAdmissionPolicyBinding/airlock-credentials',
      'ValidatingAdmissionPolicyBinding/airlock-sandbox-label',
      'ValidatingAdmissionPolicyBinding/airlock-sandbox-namespace',
      'ValidatingAdmissionPolicyBinding/airlock-sandbox-pod',
      'ValidatingAdmissionPolicyBinding/airlock-sidecar-image',
    ]);
    const clusterScoped = ['MutatingWebhookConfiguration', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding'];
    for (const object of objects.filter((o) => !o.kind.startsWith('Cluster') && !clusterScoped.includes(o.kind))) {
      expect(object.metadata.namespace, `${object.kind}/${object.metadata.name}`).toBe(namespace);
    }
  });

  it('sends only pods labelled airlock.dev/sandbox to the webhook, failing closed, never in its own namespace or kube-system', () => {
    const webhook = webhookOf(objects);
    expect(webhook).toMatchObject({
      name: 'pods.airlock.dev',
      admissionReviewVersions: ['v1'],
      objectSelector: { matchExpressions: [{ key: 'airlock.dev/sandbox', operator: 'Exists' }] },
      failurePolicy: 'Fail',
      sideEffects: 'None',
      timeoutSeconds: 10,
      reinvocationPolicy: 'Never',
      clientConfig: { service: { name: 'airlock-webhook', namespace, path: '/mutate', port: 443 } },
    });
    expect(webhook.namespaceSelector).toEqual({ matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: [namespace, 'kube-system'] }] });
    expect(webhook.rules).toEqual([
      { apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['pods'], scope: 'Namespaced' },
      { apiGroups: [''], apiVersions: ['v1'], operations: ['UPDATE'], resources: ['pods/ephemeralcontainers', 'pods/resize'], scope: 'Namespaced' },
    ]);
    // The admission policies guard the same namespaces as the webhook; the one refusing sandbox pods
    // where the webhook injects nothing guards every namespace (admission-namespaces.test.ts).
    for (const binding of objects.filter((o) => o.kind === 'ValidatingAdmissionPolicyBinding')) {
      const { matchResources } = binding.spec as { matchResources?: { namespaceSelector: unknown } };
      if (binding.metadata.name === 'airlock-sandbox-namespace') expect(matchResources).toBeUndefined();
      else expect(matchResources!.namespaceSelector).toEqual(webhook.namespaceSelector);
    }
    // Updates that touch nothing the webhook guards do not wait on it (admission-pod-life.test.ts).
    expect(webhook.matchConditions).toEqual([{ name: 'guarded-fields', expression: expect.stringContaining("request.operation != 'UPDATE'") }]);
    // The operator patches the caBundle in; a rendered one would be reset by every helm upgrade.
    expect(webhook.clientConfig.caBundle).toBeUndefined();
    expect(only(objects, 'MutatingWebhookConfiguration').metadata.annotations).toBeUndefined();
  });

  it('starts the operator with flags it parses, naming the objects the chart renders', () => {
    expect(settings).toMatchObject({
      namespace,
      identity: 'airlock-5d8f7c9b6-x2x7q',
      sidecarImage: 'ghcr.io/airlock-dev/airlock-sidecar:0.1.0',
      allowedSidecarImages: ['ghcr.io/airlock-dev/airlock-sidecar:0.1.0'],
      sidecarUid: 61337,
      toolsUid: 61338,
      nativeSidecars: true,
      webhookPort: 9443,
      healthPort: 8081,
      webhookConfigName: only(objects, 'MutatingWebhookConfiguration').metadata.name,
      webhookService: webhookOf(objects).clientConfig.service.name,
      tlsMode: 'self',
      tlsSecret: 'airlock-webhook-tls',
      sealSecret: 'airlock-config-seal',
      leaseName: 'airlock-operator',
      leaseDurationSeconds: 15,
      logLevel: 'info',
    });
    expect(settings.watchNamespaces).toEqual([]);
    expect(only(objects, 'Service', settings.webhookService)).toBeDefined();
    const container = operatorContainer(objects);
    expect(container.image).toBe('ghcr.io/airlock-dev/airlock-operator:0.1.0');
    expect(JSON.parse(container.env.find((e) => e.name === 'AIRLOCK_SIDECAR_RESOURCES')!.value!)).toEqual({ requests: { cpu: '50m', memory: '96Mi' }, limits: { memory: '512Mi' } });
    expect(JSON.parse(container.env.find((e) => e.name === 'AIRLOCK_TOOLS_RESOURCES')!.value!)).toEqual({ requests: { cpu: '10m', memory: '64Mi' }, limits: { memory: '512Mi' } });
    // The operator parses both, as the webhook's injection settings use them.
    expect(settings.toolsResources).toEqual({ requests: { cpu: '10m', memory: '64Mi' }, limits: { memory: '512Mi' } });
  });

  it('runs two replicas that roll without ever dropping below two, and a PodDisruptionBudget', () => {
    const deployment = only(objects, 'Deployment');
    expect(deployment.spec).toMatchObject({ replicas: 2, strategy: { rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } } });
    const pdb = only(objects, 'PodDisruptionBudget');
    expect(pdb.spec).toEqual({ maxUnavailable: 1, selector: { matchLabels: (deployment.spec as { selector: { matchLabels: object } }).selector.matchLabels } });
  });

  it('probes /healthz and /readyz on the health port and runs restricted', () => {
    const template = podSpecOf(only(objects, 'Deployment'));
    const container = template.spec.containers[0]!;
    const portNamed = (name: string) => container.ports.find((p) => p.name === name)?.containerPort;
    expect(portNamed('health')).toBe(settings.healthPort);
    expect(portNamed('webhook')).toBe(settings.webhookPort);
    expect(container.livenessProbe).toMatchObject({ httpGet: { path: '/healthz', port: 'health' } });
    expect(container.readinessProbe).toMatchObject({ httpGet: { path: '/readyz', port: 'health' } });
    expect(template.spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } });
    expect(container.securityContext).toEqual({
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(container.resources).toEqual({ requests: { cpu: '50m', memory: '128Mi' }, limits: { memory: '512Mi' } });
    expect(template.spec.serviceAccountName).toBe(only(objects, 'ServiceAccount').metadata.name);
  });

  it('routes the webhook and metrics Services to the operator pods by port name', () => {
    const podLabels = podSpecOf(only(objects, 'Deployment')).metadata.labels;
    expect(only(objects, 'Service', 'airlock-webhook').spec).toMatchObject({ selector: podLabels, ports: [{ port: 443, targetPort: 'webhook' }] });
    expect(only(objects, 'Service', 'airlock-metrics').spec).toMatchObject({ selector: podLabels, ports: [{ port: 8081, targetPort: 'health' }] });
  });

  it('grants the reconcile rules cluster-wide, the webhook configuration by name, and the Lease and TLS Secret by name in its namespace', () => {
    const sa = only(objects, 'ServiceAccount').metadata.name;
    expect(rulesOf(operatorClusterRole(objects))).toEqual([
      ...RECONCILE_RULES,
      namespacesRule(),
      { apiGroups: ['admissionregistration.k8s.io'], resources: ['mutatingwebhookconfigurations'], resourceNames: [settings.webhookConfigName], verbs: ['get', 'update'] },
    ]);
    expect(rulesOf(only(objects, 'Role'))).toEqual([
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: [settings.leaseName], verbs: ['get', 'update'] },
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
      // The config seal key (ADR 30): read by name, made at the first start, never updated.
      { apiGroups: [''], resources: ['secrets'], resourceNames: [settings.sealSecret], verbs: ['get'] },
      { apiGroups: [''], resources: ['secrets'], resourceNames: [settings.tlsSecret], verbs: ['get', 'update'] },
      { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
    ]);
    for (const binding of [only(objects, 'ClusterRoleBinding'), only(objects, 'RoleBinding')]) {
      expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: sa, namespace }]);
    }
    expect(only(objects, 'ClusterRoleBinding').roleRef).toMatchObject({ kind: 'ClusterRole', name: 'airlock-operator' });
    expect(only(objects, 'RoleBinding').roleRef).toMatchObject({ kind: 'Role', name: 'airlock-operator' });
  });

  it('tells the user what to apply next in NOTES.txt', async () => {
    const notes = await renderNotes({ release: 'airlock', namespace });
    expect(notes).toContain('kubectl -n airlock-system rollout status deployment/airlock');
    expect(notes).toContain('kind: ModelProvider');
    expect(notes).toContain('kind: AgentSandbox');
    expect(notes).toContain('airlock.dev/sandbox: my-agent');
  });
});

describe('non-default values (cert-manager, PodMonitor, own images, UID, resources, replicas)', () => {
  const namespace = 'gate-system';
  let objects: Manifest[];
  let settings: Settings;

  beforeAll(async () => {
    objects = await renderChart({ release: 'gate', namespace, valuesFiles: [customValuesFile] });
    settings = settingsOf(objects, namespace);
  });

  it('renders the cert-manager Issuer and Certificate and the PodMonitor as well', () => {
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual([
      'Certificate/gate-webhook',
      'Certificate/gate-webhook-ca',
      'ClusterRole/gate-edit',
      'ClusterRole/gate-operator',
      'ClusterRole/gate-view',
      'ClusterRoleBinding/gate-operator',
      'Deployment/gate',
      'Issuer/gate-selfsigned',
      'Issuer/gate-webhook-ca',
      'MutatingWebhookConfiguration/gate',
      'PodDisruptionBudget/gate',
      'PodMonitor/gate',
      'Role/gate-operator',
      'RoleBinding/gate-operator',
      'Service/gate-metrics',
      'Service/gate-webhook',
      'ServiceAccount/gate',
      'ValidatingAdmissionPolicy/gate-credentials',
      'ValidatingAdmissionPolicy/gate-sandbox-label',
      'ValidatingAdmissionPolicy/gate-sandbox-namespace',
      'ValidatingAdmissionPolicy/gate-sandbox-pod',
      'ValidatingAdmissionPolicy/gate-sidecar-image',
      'ValidatingAdmissionPolicyBinding/gate-credentials',
      'ValidatingAdmissionPolicyBinding/gate-sandbox-label',
      'ValidatingAdmissionPolicyBinding/gate-sandbox-namespace',
      'ValidatingAdmissionPolicyBinding/gate-sandbox-pod',
      'ValidatingAdmissionPolicyBinding/gate-sidecar-image',
    ]);
  });

  it('passes the sidecar image, UID and resources and the operator options to the operator', () => {
    expect(settings).toMatchObject({
      namespace,
      sidecarImage: 'registry.example.com/airlock/sidecar@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef',
      allowedSidecarImages: ['registry.example.com/airlock/sidecar@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef', 'registry.example.com/airlock/sidecar:canary'],
      sidecarUid: 42424,
      toolsUid: 42425,
      nativeSidecars: false,
      healthPort: 8090,
      webhookConfigName: 'gate',
      webhookService: 'gate-webhook',
      leaseName: 'gate-operator',
      leaseDurationSeconds: 30,
      logLevel: 'debug',
      concurrency: 8,
      certCheckIntervalMs: 30_000,
    });
    const deployment = only(objects, 'Deployment');
    const template = podSpecOf(deployment);
    const container = template.spec.containers[0]!;
    expect((deployment.spec as { replicas: number }).replicas).toBe(3);
    expect(container).toMatchObject({ image: 'registry.example.com/airlock/operator:1.2.3', imagePullPolicy: 'Always', resources: { requests: { cpu: '100m', memory: '256Mi' }, limits: { cpu: '1', memory: '1Gi' } } });
    expect(JSON.parse(container.env.find((e) => e.name === 'AIRLOCK_SIDECAR_RESOURCES')!.value!)).toEqual({ requests: { cpu: '20m', memory: '64Mi' }, limits: { memory: '256Mi' } });
    expect(template.spec).toMatchObject({ imagePullSecrets: [{ name: 'registry-login' }], securityContext: { runAsUser: 10001, runAsGroup: 10001 } });
    expect(template.metadata.labels).toMatchObject({ team: 'platform' });
    expect(container.ports.find((p) => p.name === 'health')?.containerPort).toBe(8090);
  });

  it('serves the certificate cert-manager issues for the webhook Service, with the CA injected by cainjector', () => {
    expect(settings).toMatchObject({ tlsMode: 'cert-manager', tlsCertFile: '/etc/airlock/webhook-tls/tls.crt', tlsKeyFile: '/etc/airlock/webhook-tls/tls.key' });
    const certificate = only(objects, 'Certificate', 'gate-webhook');
    const spec = certificate.spec as { secretName: string; dnsNames: string[]; issuerRef: { name: string; kind: string } };
    // The API server calls <service>.<namespace>.svc; the operator's own names are the same four.
    expect(spec.dnsNames).toEqual(['gate-webhook', 'gate-webhook.gate-system', 'gate-webhook.gate-system.svc', 'gate-webhook.gate-system.svc.cluster.local']);
    // cainjector copies the serving Secret's ca.crt: the CA that signed it, which a renewal of
    // the serving certificate keeps. The chain as cert-manager resolves it: serving certificate ←
    // CA Issuer ← CA Certificate (isCA, long-lived) ← self-signed Issuer.
    const issuers = objects.filter((o) => o.kind === 'Issuer');
    const issuer = (name: string) => issuers.find((i) => i.metadata.name === name)!.spec as { ca?: { secretName: string }; selfSigned?: object };
    const caSecret = issuer(spec.issuerRef.name).ca!.secretName;
    expect(spec.issuerRef).toMatchObject({ name: 'gate-webhook-ca', kind: 'Issuer' });
    const ca = objects.find((o) => o.kind === 'Certificate' && (o.spec as { secretName: string }).secretName === caSecret)!.spec as { isCA: boolean; duration: string; issuerRef: { name: string } };
    expect(ca).toMatchObject({ isCA: true, duration: '87600h' });
    expect(issuer(ca.issuerRef.name)).toEqual({ selfSigned: {} });
    // The serving certificate itself is not self-signed (its renewal would change the caBundle).
    expect(issuer(spec.issuerRef.name).selfSigned).toBeUndefined();
    const template = podSpecOf(only(objects, 'Deployment'));
    expect(template.spec.volumes).toContainEqual({ name: 'webhook-tls', secret: { secretName: spec.secretName } });
    expect(template.spec.containers[0]!.volumeMounts).toContainEqual({ name: 'webhook-tls', mountPath: '/etc/airlock/webhook-tls', readOnly: true });
    expect(only(objects, 'MutatingWebhookConfiguration').metadata.annotations).toEqual({ 'cert-manager.io/inject-ca-from': `${namespace}/${certificate.metadata.name}` });
  });

  it('grants no TLS Secret or webhook configuration access when cert-manager owns them (the config seal key still)', () => {
    expect(rulesOf(operatorClusterRole(objects))).toEqual([...RECONCILE_RULES, namespacesRule()]);
    expect(rulesOf(only(objects, 'Role'))).toEqual([
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: ['gate-operator'], verbs: ['get', 'update'] },
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
      { apiGroups: [''], resources: ['secrets'], resourceNames: ['gate-config-seal'], verbs: ['get'] },
      { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
    ]);
  });

  it('applies the webhook options', () => {
    const webhook = webhookOf(objects);
    expect(webhook).toMatchObject({ timeoutSeconds: 5, reinvocationPolicy: 'IfNeeded', failurePolicy: 'Fail' });
    expect(webhook.namespaceSelector).toEqual({
      matchLabels: { 'airlock.dev/injection': 'enabled' },
      matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: [namespace, 'kube-system', 'monitoring'] }],
    });
  });

  it('scrapes every replica with a PodMonitor on the health port', () => {
    const podMonitor = only(objects, 'PodMonitor');
    expect(podMonitor.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(podMonitor.metadata.labels).toMatchObject({ release: 'prometheus' });
    const deployment = only(objects, 'Deployment');
    expect(podMonitor.spec).toEqual({
      selector: { matchLabels: (deployment.spec as { selector: { matchLabels: object } }).selector.matchLabels },
      namespaceSelector: { matchNames: [namespace] },
      podMetricsEndpoints: [{ port: 'health', path: '/metrics', interval: '15s' }],
    });
  });
});

describe('operator.watchNamespaces', () => {
  it('moves the reconcile rules into a Role in each namespace and injects there only', async () => {
    const objects = await renderChart({ release: 'airlock', namespace: 'airlock-system', values: { operator: { watchNamespaces: ['team-a', 'team-b'] } } });
    expect(settingsOf(objects, 'airlock-system').watchNamespaces).toEqual(['team-a', 'team-b']);
    expect(rulesOf(operatorClusterRole(objects))).toEqual([
      namespacesRule(['team-a', 'team-b']),
      { apiGroups: ['admissionregistration.k8s.io'], resources: ['mutatingwebhookconfigurations'], resourceNames: ['airlock'], verbs: ['get', 'update'] },
    ]);
    for (const team of ['team-a', 'team-b']) {
      const reconcile = objects.find((o) => o.kind === 'Role' && o.metadata.name === 'airlock-operator-reconcile' && o.metadata.namespace === team)!;
      expect(rulesOf(reconcile)).toEqual(RECONCILE_RULES);
      expect(objects.find((o) => o.kind === 'RoleBinding' && o.metadata.name === 'airlock-operator-reconcile' && o.metadata.namespace === team)).toMatchObject({
        roleRef: { kind: 'Role', name: 'airlock-operator-reconcile' },
        subjects: [{ kind: 'ServiceAccount', name: 'airlock', namespace: 'airlock-system' }],
      });
    }
    expect(webhookOf(objects).namespaceSelector.matchExpressions).toContainEqual({ key: 'kubernetes.io/metadata.name', operator: 'In', values: ['team-a', 'team-b'] });
  });

  it("grants the operator only the watched Namespaces' labels cluster-wide with cert-manager (the users' roles stay)", async () => {
    const objects = await renderChart({ values: { operator: { watchNamespaces: ['team-a'] }, tls: { mode: 'cert-manager' } } });
    expect(objects.filter((o) => o.kind.startsWith('Cluster')).map((o) => `${o.kind}/${o.metadata.name}`)).toEqual(['ClusterRole/airlock-operator', 'ClusterRole/airlock-view', 'ClusterRole/airlock-edit', 'ClusterRoleBinding/airlock-operator']);
    expect(rulesOf(operatorClusterRole(objects))).toEqual([namespacesRule(['team-a'])]);
  });
});

describe('the finished-pod policy (airlock-sandbox-pod)', () => {
  it("lets app containers add what the webhook lets them add: Pod Security baseline's capabilities less SETUID and SETGID", async () => {
    // Written twice (CEL in the chart, the webhook's baseline.ts): this keeps the two lists one.
    const objects = await renderChart({});
    const escaping = ((only(objects, 'ValidatingAdmissionPolicy', 'airlock-sandbox-pod').spec as { variables: { name: string; expression: string }[] }).variables.find((v) => v.name === 'escaping')!).expression;
    const listed = JSON.parse(/in\s+(\[[^\]]*\])\)\)\)\)/.exec(escaping)![1]!.replace(/'/g, '"')) as string[];
    expect(listed.sort()).toEqual([...BASELINE_CAPABILITIES].filter((c) => c !== 'SETUID' && c !== 'SETGID').sort());
  });
});

describe("the namespace users' roles", () => {
  const aggregation = (o: Manifest) => Object.keys(o.metadata.labels ?? {}).filter((k) => k.startsWith('rbac.authorization.k8s.io/aggregate-to-')).sort();
  const verbs = (o: Manifest) => (o.rules as { verbs: string[] }[]).flatMap((r) => r.verbs);

  it('let view, edit and admin read the three kinds; writing them joins edit and admin only when asked (it chooses where keys go)', async () => {
    const objects = await renderChart({});
    const view = only(objects, 'ClusterRole', 'airlock-view');
    const edit = only(objects, 'ClusterRole', 'airlock-edit');
    expect(aggregation(view)).toEqual(['rbac.authorization.k8s.io/aggregate-to-admin', 'rbac.authorization.k8s.io/aggregate-to-edit', 'rbac.authorization.k8s.io/aggregate-to-view']);
    expect(verbs(view)).toEqual(['get', 'list', 'watch']);
    expect(aggregation(edit)).toEqual([]);
    expect(verbs(edit)).toContain('create');
    const asked = await renderChart({ values: { rbac: { aggregateEdit: true } } });
    expect(aggregation(only(asked, 'ClusterRole', 'airlock-edit'))).toEqual(['rbac.authorization.k8s.io/aggregate-to-admin', 'rbac.authorization.k8s.io/aggregate-to-edit']);
  });
});

describe('cert-manager with an issuer of your own', () => {
  it('uses it and creates no Issuer', async () => {
    const objects = await renderChart({ values: { tls: { mode: 'cert-manager', certManager: { issuerRef: { name: 'internal-ca', kind: 'ClusterIssuer' } } } } });
    expect(objects.filter((o) => o.kind === 'Issuer')).toEqual([]);
    expect((only(objects, 'Certificate').spec as { issuerRef: object }).issuerRef).toEqual({ name: 'internal-ca', kind: 'ClusterIssuer', group: 'cert-manager.io' });
  });
});
