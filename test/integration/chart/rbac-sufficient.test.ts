/**
 * The chart's RBAC is sufficient: the chart's ServiceAccount, roles and bindings are applied as
 * rendered, and operator replicas run in-process with a TokenRequest token for that
 * ServiceAccount and the Deployment's own flags. Watching every namespace as in production, they
 * elect a leader, create the webhook TLS Secret, patch the CA into the chart's
 * MutatingWebhookConfiguration, reconcile the NOTES.txt example plus an MCPBackend into
 * ConfigMap, credentials Secret, NetworkPolicy, status and Events, follow a key rotation, delete
 * a NetworkPolicy, make an immutable ConfigMap again, hand over the Lease and renew the
 * certificate, all without a single 403. Then
 * the same for a release that watches a list of namespaces (operator.watchNamespaces) with
 * namespaced Roles and a read of those Namespace objects only.
 *
 * On a control plane of its own (see install.ts): this operator watches every namespace.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { startOperator, type Operator } from '../../../operator/src/operator.js';
import { readSettings } from '../../../operator/src/settings.js';
import type { Kubectl } from '../../controlplane/kubectl.js';
import { only, renderNotes, type Manifest } from '../../helm/helm.js';
import { captureLogger, until } from '../kube/operator-harness.js';
import { agentSandbox, backendFixture, providerFixture } from '../kube/fixtures.js';
import { startHttpBackend, type HttpBackend } from '../mcp/http-backends.js';
import { installChart, operatorCommandLine, SETUP_TIMEOUT_MS, startChartCluster, type ChartCluster } from './install.js';

const release = 'airlock';
const namespace = 'airlock-system';
/** Where users put their sandboxes: a namespace the chart knows nothing about. */
const team = 'team-a';
const mcpToken = 'mcp-token-rbac-0123456789abcdef';

let cluster: ChartCluster;
let kubectl: Kubectl;
let backend: HttpBackend;

interface Replica {
  operator: Operator;
  logs: string[];
  identity: string;
  stopped: boolean;
}
/** Every replica started, stopped or not: all their logs are checked for refusals. */
const replicas: Replica[] = [];
const running = () => replicas.filter((r) => !r.stopped);

async function stopReplica(replica: Replica): Promise<void> {
  if (replica.stopped) return;
  replica.stopped = true;
  await replica.operator.stop();
}

beforeAll(async () => {
  cluster = await startChartCluster();
  kubectl = cluster.kubectl;
  backend = await startHttpBackend({ token: mcpToken });
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  for (const replica of replicas) await stopReplica(replica);
  await backend?.close();
  await cluster?.controlPlane.stop();
});

/**
 * Starts one operator replica as the chart's Deployment starts it: its args and pod env through
 * the operator's own parser, with a token of the chart's ServiceAccount.
 * Only where a pod differs from a test process are flags appended (the last one wins): loopback,
 * free ports, and seconds instead of minutes for leader election and certificate checks.
 */
async function startReplica(objects: Manifest[], podName: string, extraArgs: string[] = []): Promise<Replica> {
  const serviceAccount = only(objects, 'ServiceAccount').metadata;
  const token = await cluster.controlPlane.tokenFor(serviceAccount.namespace!, serviceAccount.name);
  const testArgs = ['--webhook-host=127.0.0.1', '--webhook-port=0', '--health-host=127.0.0.1', '--health-port=0', '--lease-duration-seconds=4', '--renew-deadline-ms=3000', '--retry-period-ms=500', '--cert-check-interval-ms=500'];
  const pod = operatorCommandLine(objects, podName);
  const settings = readSettings([...pod.args, ...testArgs, ...extraArgs], pod.env);
  const { log, lines } = captureLogger();
  const operator = await startOperator({ kubeConfig: cluster.controlPlane.kubeConfigForToken(token), settings, log });
  const replica = { operator, logs: lines, identity: settings.identity, stopped: false };
  replicas.push(replica);
  return replica;
}

const getJson = async (args: string[]) => {
  const result = await kubectl.run(['get', ...args, '-o', 'json']);
  return result.code === 0 ? JSON.parse(result.stdout) : undefined;
};
const condition = async (kind: string, name: string, type: string, ns = team) =>
  ((await getJson([kind, name, '-n', ns]))?.status?.conditions ?? []).find((c: { type: string }) => c.type === type) as { status: string; reason: string; message: string } | undefined;
const apply = (yaml: string, ns = team) => kubectl.ok(['apply', '-n', ns, '-f', '-'], yaml);

/** Log lines that show the API server refusing the operator, shortened to what was refused. */
const refusals = (replica: Replica) =>
  replica.logs
    .filter((line) => /\b403\b|forbidden/i.test(line))
    .map((line) => {
      const entry = JSON.parse(line) as { msg?: string; key?: string; informer?: string; err?: string };
      const err = (entry.err ?? '').replace(/\\/g, '');
      const refused = /"message":"(.*?)","reason"/.exec(err)?.[1] ?? err;
      return `${replica.identity}: ${entry.msg} (${entry.key ?? entry.informer ?? ''}): ${refused}`;
    });

describe('watching every namespace (the default)', () => {
  let objects: Manifest[];
  const leaseHolder = async () => (await getJson(['lease', 'airlock-operator', '-n', namespace]))?.spec?.holderIdentity as string | undefined;
  const tlsSecret = () => getJson(['secret', 'airlock-webhook-tls', '-n', namespace]);

  beforeAll(async () => {
    objects = await installChart(kubectl, { release, namespace });
    await kubectl.ok(['create', 'namespace', team]);
  });

  afterAll(async () => {
    for (const replica of running()) await stopReplica(replica);
  });

  it('two replicas start with the ServiceAccount token, one takes the Lease, both become ready', async () => {
    const first = await startReplica(objects, 'airlock-5d8f7c9b6-aaaaa');
    const second = await startReplica(objects, 'airlock-5d8f7c9b6-bbbbb');
    await until(() => first.operator.isLeader || second.operator.isLeader, 'a replica to take the Lease', 20_000);
    expect([first.operator.isLeader, second.operator.isLeader].filter(Boolean)).toHaveLength(1);
    expect(await leaseHolder()).toBe(first.operator.isLeader ? first.identity : second.identity);
    for (const replica of [first, second]) {
      // Ready means every informer listed and watched its kind cluster-wide.
      await expect.poll(async () => (await fetch(`http://127.0.0.1:${replica.operator.healthPort}/readyz`)).status, { timeout: 20_000 }).toBe(200);
    }
  });

  it("creates the webhook TLS Secret and patches its CA into the chart's MutatingWebhookConfiguration", async () => {
    const [first, second] = replicas as [Replica, Replica];
    expect(second.operator.caPem).toBe(first.operator.caPem);
    const caBundle = Buffer.from(first.operator.caPem).toString('base64');
    const caBundles = async () => ((await getJson(['mutatingwebhookconfiguration', release]))?.webhooks ?? []).map((w: { clientConfig: { caBundle?: string } }) => w.clientConfig.caBundle);
    await expect.poll(caBundles, { timeout: 15_000 }).toEqual([caBundle]);
    expect(Object.keys((await tlsSecret()).data).sort()).toEqual(['ca.crt', 'ca.key', 'tls.crt', 'tls.key']);
  });

  it("reconciles the NOTES.txt example and an MCPBackend in a namespace of the user's", async () => {
    const notes = await renderNotes({ release, namespace });
    // The manifests NOTES.txt tells the user to pipe into kubectl apply, as printed.
    const examples = [...notes.matchAll(/<<'EOF'\n([\s\S]*?)\n\s*EOF/g)].map((m) => m[1]!.replace(/^ {2}/gm, ''));
    expect(examples.map((yaml) => parseAllDocuments(yaml)[0]!.toJS().kind)).toEqual(['ModelProvider', 'AgentSandbox']);
    await kubectl.ok(['create', 'secret', 'generic', 'openai-keys', '-n', team, '--from-literal=primary=sk-rbac-test-000000000000000001']);
    // As NOTES.txt says: the Secret's owner opts it in.
    await kubectl.ok(['label', 'secret', 'openai-keys', '-n', team, 'airlock.dev/credential=true']);
    for (const yaml of examples) await apply(yaml);
    await apply(
      backendFixture(
        { name: 'tools', url: backend.url, authorization: { secret: 'mcp-token', key: 'token', value: `Bearer ${mcpToken}` } },
        agentSandbox('researcher', ['openai'], { mcpBackends: ['tools'] }),
      ),
    );
    await expect.poll(() => condition('mp', 'openai', 'Ready'), { timeout: 20_000 }).toMatchObject({ status: 'True' });
    await expect.poll(() => condition('mcpb', 'tools', 'Discovered'), { timeout: 20_000 }).toMatchObject({ status: 'True' });
    for (const sandbox of ['my-agent', 'researcher']) {
      await expect.poll(() => condition('asbx', sandbox, 'Ready'), { timeout: 20_000 }).toMatchObject({ status: 'True' });
      expect(await getJson(['configmap', `airlock-${sandbox}`, '-n', team])).toBeDefined();
      expect(await getJson(['networkpolicy', `airlock-${sandbox}`, '-n', team])).toBeDefined();
    }
    // The sidecar's config (ADR 29) and the operator's seal over the Secret (ADR 30, with the key in a Secret of the operator's namespace the chart lets it read), the provider key and the MCP header, each from the user's Secret, each with the origin it is for, and the sandbox's usage token.
    expect(Object.keys((await getJson(['secret', 'airlock-researcher-credentials', '-n', team])).data).sort()).toEqual([
      'config.seal',
      'config.yaml',
      'mcp.tools.header.0',
      'mcp.tools.header.0.origin',
      'provider.openai.0',
      'provider.openai.0.origin',
      'usage.token',
    ]);
    // Every replica, leader or not, answers the sandbox's usage to its token only (from its cache of rendered Secrets).
    const token = Buffer.from((await getJson(['secret', 'airlock-researcher-credentials', '-n', team])).data['usage.token'], 'base64').toString();
    for (const replica of replicas) {
      const usage = (authorization?: string) => fetch(`http://127.0.0.1:${replica.operator.healthPort}/usage/${team}/researcher`, authorization ? { headers: { authorization } } : {});
      expect([(await usage(`Bearer ${token}`)).status, (await usage()).status]).toEqual([200, 401]);
    }
    // Events are best effort in the operator (a refused one is not logged), so look for them.
    const events = (await getJson(['events', '-n', team])).items as { source?: { component?: string }; involvedObject: { kind: string } }[];
    const kinds = new Set(events.filter((e) => e.source?.component === 'airlock-operator').map((e) => e.involvedObject.kind));
    expect([...kinds].sort()).toEqual(['AgentSandbox', 'MCPBackend', 'ModelProvider']);
  });

  it('follows a key rotation and deletes the NetworkPolicy when isolation becomes none', async () => {
    const rotated = await kubectl.ok(['create', 'secret', 'generic', 'openai-keys', '-n', team, '--from-literal=primary=sk-rbac-rotated-00000000000000002', '--dry-run=client', '-o', 'yaml']);
    await apply(rotated);
    const credential = async () => Buffer.from((await getJson(['secret', 'airlock-my-agent-credentials', '-n', team])).data['provider.openai.0'], 'base64').toString();
    await expect.poll(credential, { timeout: 15_000 }).toBe('sk-rbac-rotated-00000000000000002');
    expect(await getJson(['networkpolicy', 'airlock-my-agent', '-n', team])).toBeDefined();
    await apply(`apiVersion: airlock.dev/v1alpha1
kind: AgentSandbox
metadata: { name: my-agent }
spec:
  providers: [openai]
  isolation: { network: none }
`);
    await expect.poll(async () => (await kubectl.run(['get', 'networkpolicy', 'airlock-my-agent', '-n', team])).code, { timeout: 15_000 }).not.toBe(0);
  });

  it('makes a sandbox ConfigMap someone made immutable again', async () => {
    const uid = async () => (await getJson(['configmap', 'airlock-researcher', '-n', team])).metadata.uid as string;
    const before = await uid();
    await kubectl.ok(['patch', 'configmap', 'airlock-researcher', '-n', team, '--type', 'merge', '-p', JSON.stringify({ immutable: true })]);
    await expect.poll(async () => (await getJson(['configmap', 'airlock-researcher', '-n', team]))?.metadata.uid, { timeout: 15_000 }).not.toBe(before);
    expect((await getJson(['configmap', 'airlock-researcher', '-n', team])).immutable).toBeUndefined();
  });

  it('hands the Lease over on shutdown, and the new leader renews the certificate', async () => {
    const before = (await tlsSecret()).data['tls.crt'];
    // A replica that finds every certificate due for renewal: as leader it must update the Secret.
    const renewing = await startReplica(objects, 'airlock-5d8f7c9b6-ccccc', ['--cert-renew-before-days=3650']);
    for (const other of running().filter((r) => r !== renewing)) await stopReplica(other);
    await until(() => renewing.operator.isLeader, 'the third replica to take the Lease', 20_000);
    expect(await leaseHolder()).toBe(renewing.identity);
    await expect.poll(async () => (await tlsSecret()).data['tls.crt'], { timeout: 15_000 }).not.toBe(before);
    expect(renewing.logs.some((line) => line.includes('webhook serving certificate renewed'))).toBe(true);
  });
});

describe('watching a list of namespaces (operator.watchNamespaces) with namespaced Roles and a read of those Namespaces only', () => {
  const scopedTeams = ['team-b', 'team-c'];
  let objects: Manifest[];

  beforeAll(async () => {
    // The cluster-wide replicas are gone: whatever happens in team-b and team-c now is this release's doing.
    expect(running()).toEqual([]);
    for (const ns of scopedTeams) await kubectl.ok(['create', 'namespace', ns]);
    objects = await installChart(kubectl, { release: 'scoped', namespace: 'scoped-system', values: { fullnameOverride: 'scoped', operator: { watchNamespaces: scopedTeams } } });
  });

  it('reconciles a sandbox in each of its namespaces', async () => {
    const replica = await startReplica(objects, 'scoped-7c9b6d8f5-aaaaa');
    await until(() => replica.operator.isLeader, 'the scoped replica to take the Lease', 20_000);
    for (const scopedTeam of scopedTeams) {
      await apply(
        providerFixture({ name: 'openai', type: 'openai', models: ['gpt-4o-mini'], key: { secret: 'openai-keys', key: 'primary', value: 'sk-rbac-scoped-000000000000000003' } }, agentSandbox('scoped-agent', ['openai'])),
        scopedTeam,
      );
    }
    for (const scopedTeam of scopedTeams) {
      await expect.poll(() => condition('asbx', 'scoped-agent', 'Ready', scopedTeam), { timeout: 20_000 }).toMatchObject({ status: 'True' });
      expect(await getJson(['configmap', 'airlock-scoped-agent', '-n', scopedTeam])).toBeDefined();
      expect(await getJson(['networkpolicy', 'airlock-scoped-agent', '-n', scopedTeam])).toBeDefined();
    }
    // Its namespace's Pod Security label, read through the rule that names the listed Namespaces.
    await kubectl.ok(['label', 'namespace', 'team-c', 'pod-security.kubernetes.io/enforce=baseline']);
    await expect.poll(() => condition('asbx', 'scoped-agent', 'PodSecurityAllowed', 'team-c'), { timeout: 20_000 }).toMatchObject({ status: 'False', reason: 'FirewallRefused' });
    expect(await condition('asbx', 'scoped-agent', 'PodSecurityAllowed', 'team-b')).toBeUndefined();
    const caBundle = Buffer.from(replica.operator.caPem).toString('base64');
    await expect.poll(async () => (await getJson(['mutatingwebhookconfiguration', 'scoped'])).webhooks[0].clientConfig.caBundle, { timeout: 15_000 }).toBe(caBundle);
    await stopReplica(replica);
  });
});

describe('every replica', () => {
  it('was never refused by the API server', () => {
    expect(replicas).toHaveLength(4);
    expect(replicas.flatMap(refusals)).toEqual([]);
  });
});
