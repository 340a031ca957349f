/**
 * The operator's memory does not grow with unrelated Secrets. The chart is installed (watching
 * every namespace, its RBAC), and the operator runs as a process of its own with the
 * Deployment's flags, a token of the chart's ServiceAccount and, like the kubelet would set it,
 * the chart's memory limit on a cgroup. It starts, reconciles a sandbox and answers an
 * AdmissionReview over TLS; then again with 450 unrelated ~300 KB Secrets in the cluster (the
 * size of Helm release Secrets). The resident memory of both runs is printed and compared.
 *
 * On a control plane of its own (see install.ts).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { only, repoRoot, type Manifest } from '../../helm/helm.js';
import { providerFixture } from '../kube/fixtures.js';
import { freePort, until } from '../kube/operator-harness.js';
import { runLimited, type LimitedProcess } from './memory-limit.js';
import { installChart, operatorCommandLine, SETUP_TIMEOUT_MS, startChartCluster, type ChartCluster } from './install.js';

const namespace = 'airlock-system';
const team = 'team-a';
const UNRELATED = 450;
const UNRELATED_BYTES = 300 * 1024;
/** What "does not grow" allows for: allocator and GC noise between two runs, far below 450 × 300 KB. */
const ALLOWED_GROWTH = 48 * 1024 * 1024;

let cluster: ChartCluster;
let objects: Manifest[];
let running: LimitedProcess | undefined;

beforeAll(async () => {
  cluster = await startChartCluster();
  objects = await installChart(cluster.kubectl, { release: 'airlock', namespace });
  await cluster.kubectl.ok(['create', 'namespace', team]);
  await cluster.kubectl.ok(
    ['apply', '-n', team, '-f', '-'],
    providerFixture({ name: 'openai', type: 'openai', models: ['gpt-4o-mini'], key: { secret: 'openai-keys', key: 'primary', value: 'sk-memory-test-0000000000000001' } }),
  );
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  await running?.stop();
  await cluster?.controlPlane.stop();
});


/** The chart's memory limit of the operator container, in bytes. */
function chartMemoryLimit(): number {
  const deployment = only(objects, 'Deployment') as unknown as { spec: { template: { spec: { containers: { resources: { limits: { memory: string } } }[] } } } };
  const text = deployment.spec.template.spec.containers[0]!.resources.limits.memory;
  const match = /^(\d+)(Mi|Gi)$/.exec(text);
  if (!match) throw new Error(`unexpected memory limit ${text}`);
  return Number(match[1]) * (match[2] === 'Gi' ? 1024 ** 3 : 1024 ** 2);
}

/** Posts an AdmissionReview for a labelled pod to the webhook over TLS, verified with the operator's CA. */
async function admissionReview(port: number, ca: string): Promise<{ allowed: boolean; patch?: string }> {
  const review = {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: '7f0b2e6c-0000-4000-8000-000000000001',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      operation: 'CREATE',
      namespace: team,
      userInfo: { username: 'memory-test' },
      object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'agent', namespace: team, labels: { 'airlock.dev/sandbox': 'agent' } }, spec: { containers: [{ name: 'agent', image: 'agent:1' }] } },
    },
  };
  const body = await new Promise<string>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/mutate', method: 'POST', ca, servername: 'localhost', headers: { 'content-type': 'application/json' }, checkServerIdentity: () => undefined }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve(text));
    });
    req.on('error', reject);
    req.end(JSON.stringify(review));
  });
  return (JSON.parse(body) as { response: { allowed: boolean; patch?: string } }).response;
}

/**
 * One run: the operator under the chart's limit with the Deployment's flags and the chart's
 * ServiceAccount; Ready, a sandbox reconciled, the webhook answering. Returns its resident memory.
 */
async function measuredRun(label: string): Promise<{ rss: number; peak: number }> {
  const serviceAccount = only(objects, 'ServiceAccount').metadata;
  const token = await cluster.controlPlane.tokenFor(serviceAccount.namespace!, serviceAccount.name);
  const dir = mkdtempSync(join(tmpdir(), 'airlock-memory-'));
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, cluster.controlPlane.kubeConfigForToken(token).exportConfig(), { mode: 0o600 });
  const [webhookPort, healthPort] = [await freePort(), await freePort()];
  const pod = operatorCommandLine(objects, `airlock-5d8f7c9b6-${label}`);
  const args = [...pod.args, '--webhook-host=127.0.0.1', `--webhook-port=${webhookPort}`, '--health-host=127.0.0.1', `--health-port=${healthPort}`, '--webhook-extra-names=127.0.0.1'];
  const node = [process.execPath, '--conditions=airlock-source', '--import', 'tsx', join(repoRoot, 'operator/src/main.ts'), ...args];
  running = runLimited('airlock-operator', chartMemoryLimit(), node[0]!, node.slice(1), { ...pod.env, KUBECONFIG: kubeconfig, PATH: process.env.PATH, HOME: process.env.HOME });
  const op = running;
  const alive = () => op.child.exitCode === null && op.child.signalCode === null;
  const readyz = async () => (await fetch(`http://127.0.0.1:${healthPort}/readyz`).catch(() => undefined))?.status;
  try {
    await until(async () => {
      if (!alive()) throw new Error(`the operator exited (${op.child.signalCode ?? op.child.exitCode}; OOM-killed: ${op.oomKilled()}):\n${op.output.join('').slice(-2000)}`);
      return (await readyz()) === 200;
    }, `the operator (${label}) to report Ready`, 120_000, 500);

    const sandbox = `apiVersion: airlock.dev/v1alpha1\nkind: AgentSandbox\nmetadata: { name: agent }\nspec: { providers: [openai], socket: { loopbackPort: ${4000 + Math.floor(Math.random() * 1000)} } }\n`;
    await cluster.kubectl.ok(['apply', '-n', team, '-f', '-'], sandbox);
    await until(async () => {
      const result = await cluster.kubectl.run(['get', 'asbx', 'agent', '-n', team, '-o', 'jsonpath={.status.observedGeneration}/{.metadata.generation}/{.status.conditions[?(@.type=="ConfigRendered")].status}']);
      const [observed, generation, rendered] = result.stdout.split('/');
      return observed === generation && rendered === 'True';
    }, `the sandbox to be reconciled (${label})`, 60_000, 500);

    const ca = Buffer.from(await cluster.kubectl.ok(['get', 'secret', 'airlock-webhook-tls', '-n', namespace, '-o', 'jsonpath={.data.ca\\.crt}']), 'base64').toString();
    const answer = await admissionReview(webhookPort, ca);
    expect(answer.allowed).toBe(true);
    expect(answer.patch).toBeTruthy();

    expect(alive()).toBe(true);
    expect(op.oomKilled()).toBe(false);
    return { rss: op.rss(), peak: op.peakRss() };
  } finally {
    await op.stop();
    running = undefined;
  }
}

/** Creates `count` Secrets of `bytes` random data each, shaped like Helm release Secrets. */
async function createUnrelatedSecrets(count: number, bytes: number): Promise<void> {
  await cluster.kubectl.ok(['create', 'namespace', 'releases']);
  const batch = 20;
  for (let start = 0; start < count; start += batch) {
    const docs = Array.from({ length: Math.min(batch, count - start) }, (_, i) =>
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Secret',
        type: 'helm.sh/release.v1',
        metadata: { name: `sh.helm.release.v1.app-${start + i}.v1`, labels: { owner: 'helm', name: `app-${start + i}` } },
        data: { release: randomBytes((bytes * 3) / 4).toString('base64') },
      }),
    );
    await cluster.kubectl.ok(['create', '-n', 'releases', '-f', '-'], docs.join('\n'));
  }
}

it(`starts, reconciles and serves the webhook under the chart's memory limit with ${UNRELATED} unrelated ~300 KB Secrets, using no more memory than without them`, async () => {
  const without = await measuredRun('without');
  await createUnrelatedSecrets(UNRELATED, UNRELATED_BYTES);
  const withSecrets = await measuredRun('with');
  const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;
  console.log(
    `operator resident memory under a ${mib(chartMemoryLimit())} limit: without unrelated Secrets ${mib(without.rss)} (peak ${mib(without.peak)}); ` +
      `with ${UNRELATED} × ${UNRELATED_BYTES / 1024} KB unrelated Secrets ${mib(withSecrets.rss)} (peak ${mib(withSecrets.peak)})`,
  );
  expect(withSecrets.peak - without.peak).toBeLessThan(ALLOWED_GROWTH);
  expect(withSecrets.rss - without.rss).toBeLessThan(ALLOWED_GROWTH);
}, 600_000);
