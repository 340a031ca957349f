/**
 * Webhook TLS the operator manages: CA and serving certificate in a Secret, the CA patched into
 * the MutatingWebhookConfiguration, and a serving certificate near expiry renewed and served
 * without a restart.
 */
import { connect } from 'node:tls';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { inject } from 'vitest';
import { Kube } from '../../../operator/src/kube/client.js';
import { Settings } from '../../../operator/src/settings.js';
import { parseCertificate } from '../../../operator/src/tls/certificates.js';
import { WebhookTls, type ServingCertificate } from '../../../operator/src/tls/manager.js';
import { buildWebhookApp, injectionSettings, serve, type WebhookServer } from '../../../operator/src/webhook/index.js';
import { freshNamespace } from './crds.js';
import { kubectl } from './kubectl.js';
import { captureLogger, registerWebhook } from './operator-harness.js';

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
