/**
 * Webhook TLS the operator manages: CA and serving certificate in a Secret, the CA patched into
 * the MutatingWebhookConfiguration, and a serving certificate near expiry renewed and served
 * without a restart. A fresh install answers labelled pods from the moment a replica reports
 * Ready, on every replica, the leader or not, with the chart's default check interval.
 */
import { connect } from 'node:tls';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { inject } from 'vitest';
import { Kube } from '../../../operator/src/kube/client.js';
import { Settings } from '../../../operator/src/settings.js';
import { createCertificateAuthority, issueCertificate, parseCertificate } from '../../../operator/src/tls/certificates.js';
import { WebhookTls, type ServingCertificate } from '../../../operator/src/tls/manager.js';
import { buildWebhookApp, injectionSettings, serve, type WebhookServer } from '../../../operator/src/webhook/index.js';
import { freshNamespace } from './crds.js';
import { kubectl } from './kubectl.js';
import { captureLogger, freePort, registerWebhook, startTestOperator, until, type TestOperator } from './operator-harness.js';
import { installCrds } from './crds.js';

let namespace: string;
let server: WebhookServer;
const configName = `airlock-tls-${Math.random().toString(36).slice(2, 8)}`;

beforeAll(async () => {
  namespace = await freshNamespace('tls');
});

afterAll(async () => {
  await server?.close();
  await kubectl().run(['delete', 'mutatingwebhookconfiguration', configName]);
});

/** The serial of the certificate a TLS server presents. */
function servedSerial(port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca, servername: 'localhost', checkServerIdentity: () => undefined }, () => {
      resolve(socket.getPeerCertificate().serialNumber);
      socket.end();
    });
    socket.on('error', reject);
  });
}

it('creates the CA and serving certificate, patches the caBundle, and renews before expiry without a restart', async () => {
  const kc = new KubeConfig();
  kc.loadFromString(inject('kubeconfig'));
  const { log } = captureLogger();
  // A one-day certificate renewed two days before expiry: every check renews it.
  const settings = Settings.parse({ namespace, webhookConfigName: configName, webhookExtraNames: '127.0.0.1', certValidityDays: 1, certRenewBeforeDays: 2, certCheckIntervalMs: 200 });
  const tls = new WebhookTls(new Kube(kc), settings, log, () => true);
  const first = await tls.load();
  expect(parseCertificate(first.certPem)).toMatchObject({ dnsNames: expect.arrayContaining([`airlock-webhook.${namespace}.svc`]), ipAddresses: ['127.0.0.1'] });
  const secret = JSON.parse(await kubectl().ok(['get', 'secret', 'airlock-webhook-tls', '-n', namespace, '-o', 'json']));
  expect(Object.keys(secret.data).sort()).toEqual(['ca.crt', 'ca.key', 'tls.crt', 'tls.key']);

  const app = buildWebhookApp({ lookupSandbox: async () => undefined, settings: injectionSettings({ sidecarImage: 'x' }) });
  server = await serve({ app, certPem: first.certPem, keyPem: first.keyPem, port: 0, host: '127.0.0.1' });
  await registerWebhook(kc, configName, server.port, namespace);
  const served: ServingCertificate[] = [];
  tls.start((next) => {
    server.setCertificate(next.certPem, next.keyPem);
    served.push(next);
  });
  const before = await servedSerial(server.port, first.caPem);
  await expect.poll(() => served.length, { timeout: 10_000 }).toBeGreaterThan(0);
  const after = await servedSerial(server.port, first.caPem);
  expect(after).not.toBe(before);
  expect(served.at(-1)!.caPem).toBe(first.caPem);
  await expect
    .poll(async () => Buffer.from(await kubectl().ok(['get', 'mutatingwebhookconfiguration', configName, '-o', 'jsonpath={.webhooks[0].clientConfig.caBundle}']), 'base64').toString(), { timeout: 10_000 })
    .toBe(first.caPem);
  tls.stop();
});


it('a fresh install answers labelled pods as soon as a replica is Ready, on every replica (no periodic-only caBundle patch)', async () => {
  const kc = new KubeConfig();
  kc.loadFromString(inject('kubeconfig'));
  await installCrds();
  const [nsA, nsB, opNs] = [await freshNamespace('fresh-a'), await freshNamespace('fresh-b'), await freshNamespace('fresh-system')];
  for (const ns of [nsA, nsB]) {
    await kubectl().ok(['apply', '-n', ns, '-f', '-'], 'apiVersion: airlock.dev/v1alpha1\nkind: AgentSandbox\nmetadata: { name: agent }\nspec: { providers: [none-yet], isolation: { network: none } }\n');
  }
  // As helm installs it: the webhook configurations exist, without a caBundle, before any replica runs.
  const [portA, portB] = [await freePort(), await freePort()];
  const [configA, configB] = [`airlock-fresh-a-${nsA}`, `airlock-fresh-b-${nsB}`];
  await registerWebhook(kc, configA, portA, nsA);
  await registerWebhook(kc, configB, portB, nsB);
  const replicas: TestOperator[] = [];
  try {
    // The chart's check interval (60 s): nothing here may wait for a periodic check.
    const common = { watchNamespace: `${nsA},${nsB}`, namespace: opNs, certCheckIntervalMs: 60_000 };
    replicas.push(await startTestOperator(kc, { ...common, identity: 'fresh-a', webhookPort: portA, webhookConfigName: configA }));
    await until(() => replicas[0]!.operator.isLeader, 'replica a to lead', 20_000);
    replicas.push(await startTestOperator(kc, { ...common, identity: 'fresh-b', webhookPort: portB, webhookConfigName: configB }));
    expect(replicas[1]!.operator.isLeader).toBe(false);
    for (const [replica, ns] of [[replicas[0]!, nsA], [replicas[1]!, nsB]] as const) {
      // What the kubelet's readiness probe does, then what the first user does: one pod, no retry.
      await until(async () => (await fetch(`http://127.0.0.1:${replica.operator.healthPort}/readyz`)).status === 200, `${replica.settings.identity} to report Ready`, 30_000);
      const pod = JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'first', labels: { 'airlock.dev/sandbox': 'agent' } }, spec: { containers: [{ name: 'agent', image: 'agent:1' }] } });
      const created = await kubectl().run(['create', '--dry-run=server', '-n', ns, '-f', '-', '-o', 'json'], pod);
      expect(created.stderr).toBe('');
      expect(JSON.parse(created.stdout).metadata.annotations['airlock.dev/injected']).toBeDefined();
    }
  } finally {
    for (const replica of replicas) await replica.operator.stop();
    await kubectl().run(['delete', 'mutatingwebhookconfiguration', configA, configB]);
  }
});

it("replaces a TLS Secret it did not make (cert-manager's, after tls.mode moved to self), which it could never renew", async () => {
  const kc = new KubeConfig();
  kc.loadFromString(inject('kubeconfig'));
  const { log, lines } = captureLogger();
  const ns = await freshNamespace('tls-switch');
  const name = `airlock-switch-${Math.random().toString(36).slice(2, 8)}`;
  // What cert-manager leaves: its CA's certificate, the serving pair, no CA key, its annotations.
  const ca = await createCertificateAuthority({ commonName: 'gate-webhook-ca', validityDays: 3650 });
  const serving = await issueCertificate(ca, { commonName: `airlock-webhook.${ns}.svc`, dnsNames: [`airlock-webhook.${ns}.svc`], usage: 'server', validityDays: 90 });
  const b64 = (text: string) => Buffer.from(text).toString('base64');
  const foreign = { apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/tls', metadata: { name: 'airlock-webhook-tls', annotations: { 'cert-manager.io/certificate-name': 'gate-webhook' } }, data: { 'ca.crt': b64(ca.certPem), 'tls.crt': b64(serving.certPem), 'tls.key': b64(serving.keyPem) } };
  await kubectl().ok(['apply', '-n', ns, '-f', '-'], JSON.stringify(foreign));
  await registerWebhook(kc, name, await freePort(), ns);
  try {
    const settings = Settings.parse({ namespace: ns, webhookConfigName: name, webhookExtraNames: '127.0.0.1' });
    const tls = new WebhookTls(new Kube(kc), settings, log, () => true);
    // Before: served as it was, and the first renewal failed on the missing CA key, for ever.
    const loaded = await tls.load();
    expect(loaded.caPem).not.toBe(ca.certPem);
    const secret = JSON.parse(await kubectl().ok(['get', 'secret', 'airlock-webhook-tls', '-n', ns, '-o', 'json']));
    expect(Object.keys(secret.data).sort()).toEqual(['ca.crt', 'ca.key', 'tls.crt', 'tls.key']);
    expect(secret.metadata.annotations ?? {}).toEqual({});
    expect(Buffer.from(secret.data['ca.crt'], 'base64').toString()).toBe(loaded.caPem);
    expect(lines.join('\n')).toContain('held no CA key');
    // Renewing works from here: the CA key is the operator's.
    expect(await tls.syncCaBundle(loaded.caPem)).toBe(true);
  } finally {
    await kubectl().run(['delete', 'mutatingwebhookconfiguration', name]);
  }
});

