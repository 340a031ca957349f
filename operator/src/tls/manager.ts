/**
 * Webhook TLS the operator manages itself: a CA and a serving certificate in one Secret, the CA
 * patched into the MutatingWebhookConfiguration's caBundle, the serving certificate renewed
 * before it expires and hot-swapped into the running server. With cert-manager the certificate
 * comes from mounted files instead, and cert-manager's cainjector owns the caBundle.
 *
 * Every replica, not only the leader, makes sure the caBundle holds its CA as soon as it starts,
 * and reports ready only once it does: the webhook fails closed, so a replica the API server
 * cannot verify must not count as ready (the Deployment's rollout waits on it).
 */
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { AdmissionregistrationV1Api, type V1Secret } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { isNotFound, type Kube } from '../kube/client.js';
import type { Settings } from '../settings.js';
import { createCertificateAuthority, issueCertificate, parseCertificate } from './certificates.js';

export interface ServingCertificate {
  certPem: string;
  keyPem: string;
  caPem: string;
}

const DAY_MS = 86_400_000;

export class WebhookTls {
  private readonly admission: AdmissionregistrationV1Api;
  private timer: NodeJS.Timeout | undefined;
  private current: ServingCertificate | undefined;
  private caBundleInPlace = false;

  constructor(
    private readonly kube: Kube,
    private readonly settings: Settings,
    private readonly log: Logger,
    private readonly isLeader: () => boolean,
  ) {
    this.admission = kube.kubeConfig.makeApiClient(AdmissionregistrationV1Api);
  }

  /** The names the serving certificate must cover. */
  get names(): string[] {
    const { webhookService: svc, namespace: ns } = this.settings;
    return [svc, `${svc}.${ns}`, `${svc}.${ns}.svc`, `${svc}.${ns}.svc.cluster.local`, ...this.settings.webhookExtraNames];
  }

  /** Loads (creating or renewing when needed) the serving certificate. */
  async load(): Promise<ServingCertificate> {
    this.current = this.settings.tlsMode === 'cert-manager' ? await this.fromFiles() : await this.fromSecret();
    return this.current;
  }

  /**
   * Whether the webhook can be verified by the API server: the serving certificate is loaded
   * and (self mode) the configuration's caBundle holds this CA. With cert-manager, the mounted
   * certificate suffices; its cainjector fills in the caBundle.
   */
  get ready(): boolean {
    return this.current !== undefined && (this.settings.tlsMode !== 'self' || this.caBundleInPlace);
  }

  /**
   * Keeps the certificate and caBundle current: at once, then every certCheckIntervalMs — or
   * every second while the caBundle is not in place yet (the configuration may be applied after
   * the operator starts). Calls `onChange` with a renewed certificate.
   */
  start(onChange: (cert: ServingCertificate) => void): void {
    const tick = async () => {
      try {
        const before = this.current?.certPem;
        const next = await this.load();
        if (next.certPem !== before) onChange(next);
        if (this.settings.tlsMode === 'self') this.caBundleInPlace = await this.syncCaBundle(next.caPem);
      } catch (err) {
        this.caBundleInPlace = false;
        this.log.warn({ err: String(err) }, 'webhook certificate check failed; retrying');
      }
      this.timer = setTimeout(() => void tick(), this.ready ? this.settings.certCheckIntervalMs : Math.min(1_000, this.settings.certCheckIntervalMs));
      this.timer.unref();
    };
    void tick();
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  /**
   * Patches the CA into every webhook of the configuration unless it is there already; true once
   * it is. Any replica may do it: replicas share the CA, and a conflicting write by another
   * replica is retried on the fresh object.
   */
  async syncCaBundle(caPem: string): Promise<boolean> {
    const caBundle = Buffer.from(caPem).toString('base64');
    for (let attempt = 0; attempt < 5; attempt++) {
      let config;
      try {
        config = await this.admission.readMutatingWebhookConfiguration({ name: this.settings.webhookConfigName });
      } catch (err) {
        if (!isNotFound(err)) throw err;
        this.log.debug({ name: this.settings.webhookConfigName }, 'MutatingWebhookConfiguration not found yet');
        return false;
      }
      const webhooks = config.webhooks ?? [];
      if (webhooks.length > 0 && webhooks.every((w) => w.clientConfig.caBundle === caBundle)) return true;
      for (const webhook of webhooks) webhook.clientConfig.caBundle = caBundle;
      try {
        // resourceVersion makes this a compare-and-swap with other replicas.
        await this.admission.replaceMutatingWebhookConfiguration({ name: this.settings.webhookConfigName, body: config });
        this.log.info({ name: this.settings.webhookConfigName }, 'caBundle patched into the webhook configuration');
        return webhooks.length > 0;
      } catch (err) {
        if ((err as { code?: number }).code !== 409) throw err;
      }
    }
    return false;
  }

  private async fromFiles(): Promise<ServingCertificate> {
    const [certPem, keyPem] = await Promise.all([readFile(this.settings.tlsCertFile!, 'utf8'), readFile(this.settings.tlsKeyFile!, 'utf8')]);
    return { certPem, keyPem, caPem: '' };
  }

  private async fromSecret(): Promise<ServingCertificate> {
    const { namespace, tlsSecret } = this.settings;
    let secret = await this.read();
    if (!secret) secret = await this.create();
    let data = decode(secret);
    // A Secret without the CA's key was not made here: cert-manager's, left by a switch of tls.mode
    // from cert-manager to self. Its certificate could never be renewed (nothing renews it now),
    // and on expiry every sandbox pod would be refused: the leader replaces it with its own.
    if (!data.caKeyPem && this.isLeader()) {
      secret = await this.replaceForeign(secret);
      data = decode(secret);
    }
    if (this.isLeader() && this.needsRenewal(data)) {
      const renewed = await this.issue(data.caPem, data.caKeyPem);
      secret.data = { ...secret.data, ...encode({ ...data, ...renewed }) };
      // resourceVersion makes this a compare-and-swap with other replicas.
      await this.kube.core.replaceNamespacedSecret({ namespace, name: tlsSecret, body: secret });
      this.log.info({ notAfter: parseCertificate(renewed.certPem).notAfter }, 'webhook serving certificate renewed');
      return { certPem: renewed.certPem, keyPem: renewed.keyPem, caPem: data.caPem };
    }
    return { certPem: data.certPem, keyPem: data.keyPem, caPem: data.caPem };
  }

  private needsRenewal(data: ReturnType<typeof decode>): boolean {
    const cert = parseCertificate(data.certPem);
    const renewAt = cert.notAfter.getTime() - this.settings.certRenewBeforeDays * DAY_MS;
    const covered = this.names.every((n) => (isIP(n) ? cert.ipAddresses.includes(n) : cert.dnsNames.includes(n)));
    return Date.now() >= renewAt || !covered;
  }

  private async issue(caPem: string, caKeyPem: string) {
    const names = this.names;
    const cert = await issueCertificate(
      { certPem: caPem, keyPem: caKeyPem },
      {
        commonName: `${this.settings.webhookService}.${this.settings.namespace}.svc`,
        dnsNames: names.filter((n) => !isIP(n)),
        ipAddresses: names.filter((n) => isIP(n)),
        usage: 'server',
        validityDays: this.settings.certValidityDays,
      },
    );
    return { certPem: cert.certPem, keyPem: cert.keyPem };
  }

  private async read(): Promise<V1Secret | undefined> {
    try {
      return await this.kube.core.readNamespacedSecret({ namespace: this.settings.namespace, name: this.settings.tlsSecret });
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** A new CA and serving certificate, as the Secret the operator keeps them in. */
  private async fresh(): Promise<V1Secret> {
    const ca = await createCertificateAuthority({ commonName: 'airlock-webhook-ca', validityDays: 3650 });
    const serving = await this.issue(ca.certPem, ca.keyPem);
    return {
      metadata: { name: this.settings.tlsSecret, namespace: this.settings.namespace, labels: { 'app.kubernetes.io/managed-by': 'airlock-operator' } },
      type: 'kubernetes.io/tls',
      data: encode({ caPem: ca.certPem, caKeyPem: ca.keyPem, ...serving }),
    };
  }

  /** Replaces a Secret the operator did not make with its own (its annotations and keys go with it). */
  private async replaceForeign(foreign: V1Secret): Promise<V1Secret> {
    const body = await this.fresh();
    // resourceVersion: a compare-and-swap, should another writer touch it meanwhile.
    body.metadata!.resourceVersion = foreign.metadata?.resourceVersion;
    const replaced = await this.kube.core.replaceNamespacedSecret({ namespace: this.settings.namespace, name: this.settings.tlsSecret, body });
    this.log.info({ secret: this.settings.tlsSecret }, 'the webhook TLS Secret held no CA key (another issuer made it, e.g. cert-manager before tls.mode was switched to self): replaced with a CA and certificate of the operator');
    return replaced;
  }

  private async create(): Promise<V1Secret> {
    const body = await this.fresh();
    try {
      return await this.kube.core.createNamespacedSecret({ namespace: this.settings.namespace, body });
    } catch (err) {
      // Another replica created it first: use theirs.
      if ((err as { code?: number }).code === 409) return (await this.read())!;
      throw err;
    }
  }
}

function decode(secret: V1Secret) {
  const get = (key: string) => Buffer.from(secret.data?.[key] ?? '', 'base64').toString('utf8');
  return { caPem: get('ca.crt'), caKeyPem: get('ca.key'), certPem: get('tls.crt'), keyPem: get('tls.key') };
}

function encode(data: { caPem: string; caKeyPem: string; certPem: string; keyPem: string }): Record<string, string> {
  const b64 = (text: string) => Buffer.from(text).toString('base64');
  return { 'ca.crt': b64(data.caPem), 'ca.key': b64(data.caKeyPem), 'tls.crt': b64(data.certPem), 'tls.key': b64(data.keyPem) };
}
