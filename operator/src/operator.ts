/**
 * The operator process: informers on every replica (the webhook reads the sandbox cache), the
 * work queue and reconcilers only on the leader, the webhook and its TLS, and a health port.
 */
import type { KubeConfig, KubernetesObject, V1Secret } from '@kubernetes/client-node';
import { HttpApp, JSON_UTF8, PLAIN_ANSWERS, plainError, writeJson, type Handler } from '@airlock/sidecar/http';
import type { Registry } from 'prom-client';
import type { Logger } from 'pino';
import { SANDBOX_LABEL, type AgentSandbox, type MCPBackend, type ModelProvider } from './api/index.js';
import { reconcileAgentSandbox } from './controllers/agent-sandbox.js';
import { keyOf, parseKey, secretsReachedBy, type ControllerContext } from './controllers/context.js';
import { reconcileMcpBackend } from './controllers/mcp-backend.js';
import { reconcileModelProvider } from './controllers/model-provider.js';
import { Kube } from './kube/client.js';
import { backendSecretRefs, providerSecretRefs, referencedSecretNames } from './kube/credentials.js';
import { Caches } from './runtime/informers.js';
import { LeaderElector } from './runtime/leader.js';
import { WorkQueue } from './runtime/queue.js';
import type { Settings } from './settings.js';
import { OperatorMetrics } from './telemetry/metrics.js';
import { inSpan, objectAttributes } from './telemetry/spans.js';
import { MountedSecretHeaders } from './telemetry/otlp-headers.js';
import { sandboxPods, sharesNow, UsageCollector } from './usage/collector.js';
import { CredentialRejections } from './usage/rejections.js';
import { usageRoute, type UsageSource } from './usage/route.js';
import { SealedTokens } from './usage/sealed-token.js';
import { parseCertificate } from './tls/certificates.js';
import { WebhookTls } from './tls/manager.js';
import { loadSealKey, sealedByOperator } from './tls/seal-key.js';
import { buildWebhookApp, injectionSettings, serve, type WebhookServer } from './webhook/index.js';
import { credentialsSecretNameFor } from './webhook/settings.js';
import { OutsideCalls } from './runtime/outside-calls.js';
import { controlledBy } from './controllers/rendered-objects.js';

export interface Operator {
  readonly isLeader: boolean;
  /** Ports actually bound (useful when settings say 0). */
  webhookPort: number;
  healthPort: number;
  /** The webhook CA (PEM), for a test's caBundle. */
  caPem: string;
  /** Resolves when the leader's queue has nothing to do. */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

export interface OperatorOptions {
  kubeConfig: KubeConfig;
  settings: Settings;
  log: Logger;
  /** Tests only: the port the usage collector reads sidecars on (several sidecars share loopback). */
  sidecarAdminPort?: number;
  /** The collector's headers mount, shared with the operator's own exporter; one of `settings.otlpHeadersDir` when not given. */
  collectorHeaders?: MountedSecretHeaders;
}

export async function startOperator({ kubeConfig, settings, log, sidecarAdminPort, collectorHeaders = new MountedSecretHeaders(settings.otlpHeadersDir) }: OperatorOptions): Promise<Operator> {
  const kube = new Kube(kubeConfig, log);
  const caches = new Caches(kubeConfig, log, settings.watchNamespaces);
  const metrics = new OperatorMetrics();
  const rejections = new CredentialRejections();
  let queue: WorkQueue | undefined;
  // Twice the reconcile workers, one at a time per namespace (runtime/outside-calls.ts).
  const outside = new OutsideCalls({ concurrency: settings.concurrency * 2, perNamespace: 1 });
  // Before anything renders or injects: every credentials Secret is sealed with it, and every
  // injected sidecar checks the seal with its public half (ADR 30).
  const seal = await loadSealKey(kube, settings.namespace, settings.sealSecret, log);
  // The token of a Secret this operator sealed only (ADR 30): not one someone else wrote there.
  // Its seal is judged once per version of the Secret, not on every reconcile or usage request.
  const sealedTokens = new SealedTokens((secret, subject) => sealedByOperator(secret, subject, seal) !== undefined);
  caches.rendered.on((secret, verb) => {
    if (verb === 'delete') sealedTokens.forget(secret);
  });
  const ctx: ControllerContext = { kube, caches, settings, log, enqueue: (key) => queue?.add(key), memos: new Map(), outside, rejections, collectorHeaders, seal, sealedTokens };
  const usage = new UsageCollector({
    caches,
    kube,
    log,
    metrics,
    intervalMs: settings.usageSyncMs,
    ...(sidecarAdminPort ? { adminPort: sidecarAdminPort } : {}),
    rejections,
    onRejectionsChanged: (providers) => providers.forEach((p) => ctx.enqueue(keyOf('ModelProvider', ...(p.split('/') as [string, string])))),
  });
  const reconcile = async (key: string) => {
    const { kind, namespace, name } = parseKey(key);
    const timer = metrics.reconcileDuration.startTimer({ kind });
    try {
      const result = await inSpan(`reconcile ${kind}`, objectAttributes(kind, namespace, name), () =>
        kind === 'ModelProvider' ? reconcileModelProvider(ctx, namespace, name) : kind === 'MCPBackend' ? reconcileMcpBackend(ctx, namespace, name) : reconcileAgentSandbox(ctx, namespace, name),
      );
      metrics.reconciles.inc({ kind, result: 'ok' });
      return result;
    } catch (err) {
      metrics.reconciles.inc({ kind, result: 'error' });
      throw err;
    } finally {
      timer();
    }
  };
  const newQueue = () =>
    new WorkQueue(reconcile, {
      concurrency: settings.concurrency,
      baseDelayMs: 200,
      maxDelayMs: 60_000,
      onError: (key, err, attempt) => {
        metrics.queueRetries.inc({ kind: parseKey(key).kind });
        log.warn({ key, attempt, err: String(err) }, 'reconcile failed; retrying with backoff');
      },
    });
  const enqueueAll = () => {
    for (const p of caches.providers.list()) ctx.enqueue(keyOf('ModelProvider', ns(p), p.metadata!.name!));
    for (const b of caches.backends.list()) ctx.enqueue(keyOf('MCPBackend', ns(b), b.metadata!.name!));
    for (const s of caches.sandboxes.list()) ctx.enqueue(keyOf('AgentSandbox', ns(s), s.metadata!.name!));
  };
  wireEvents(ctx, caches);
  // A rotated headers Secret reaches sidecars as a rotated key does: through every credentials Secret.
  // The watch also tells the mount when a read it keeps is stale.
  const stopHeaderWatch =
    settings.otlpHeadersDir && settings.otlpEndpoint
      ? collectorHeaders.watch(
          () => caches.sandboxes.list().forEach((s) => ctx.enqueue(keyOf('AgentSandbox', ns(s), s.metadata!.name!))),
          (err) => log.warn({ reason: err.message }, 'a rotated collector headers Secret reaches sidecars only when their sandboxes are reconciled for another reason'),
        )
      : undefined;

  const elector = new LeaderElector(kubeConfig, {
    namespace: settings.namespace,
    name: settings.leaseName,
    identity: settings.identity,
    leaseDurationSeconds: settings.leaseDurationSeconds,
    renewDeadlineMs: settings.renewDeadlineMs,
    retryPeriodMs: settings.retryPeriodMs,
    log,
    onStartedLeading: () => {
      metrics.leader.set(1);
      usage.start();
      queue = newQueue();
      enqueueAll();
    },
    onStoppedLeading: () => {
      metrics.leader.set(0);
      void usage.stop();
      void queue?.stop();
      queue = undefined;
    },
  });

  await caches.start();
  const tls = new WebhookTls(kube, settings, log, () => elector.isLeader);
  const cert = await tls.load();
  let certificateNotAfter = parseCertificate(cert.certPem).notAfter;
  metrics.watch({ queueDepth: () => queue?.length ?? 0, certificateNotAfter: () => certificateNotAfter });
  const webhookApp = buildWebhookApp({
    // The cache first; a miss is read live, since a pod is often applied together with its sandbox.
    lookupSandbox: async (namespace, name) => (caches.sandboxes.get(namespace, name) as AgentSandbox | undefined) ?? (await kube.readSandbox(namespace, name)),
    referencedSecrets: (namespace) => referencedSecretNames(caches.providers.list(namespace) as ModelProvider[], caches.backends.list(namespace) as MCPBackend[]),
    // The cache holds only Secrets labelled as the operator's: one it does not hold is read by name.
    foreignCredentials: async (namespace, name, uid) => {
      const live = caches.rendered.get(namespace, name) ?? (await kube.findByName({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace } }));
      return live !== undefined && !controlledBy(live, uid);
    },
    settings: injectionSettings({
      sidecarImage: settings.sidecarImage,
      allowedSidecarImages: settings.allowedSidecarImages,
      sidecarUID: settings.sidecarUid,
      toolsUID: settings.toolsUid,
      nativeSidecars: settings.nativeSidecars,
      sealKey: seal.publicKey,
      ...(settings.sidecarResources ? { defaultResources: settings.sidecarResources } : {}),
      ...(settings.toolsResources ? { toolsResources: settings.toolsResources } : {}),
    }),
    logger: log,
    metrics,
  });
  const webhook: WebhookServer = await serve({ app: webhookApp, certPem: cert.certPem, keyPem: cert.keyPem, port: settings.webhookPort, host: settings.webhookHost });
  tls.start((next) => {
    webhook.setCertificate(next.certPem, next.keyPem);
    certificateNotAfter = parseCertificate(next.certPem).notAfter;
    log.info('webhook now serves the renewed certificate');
  });
  elector.start();
  // Ready only when the API server can call this replica's webhook: informers synced (the webhook
  // reads the sandbox cache) and the caBundle verifying its certificate in place.
  const health = await healthServer(settings, log, metrics.registry, () => (!caches.hasSynced ? 'informers not synced' : !tls.ready ? 'webhook caBundle not in place yet' : undefined), {
    sandbox: (namespace, name) => caches.sandboxes.get(namespace, name) as AgentSandbox | undefined,
    token: (namespace, name) => sealedTokens.tokenOf(caches.rendered.get(namespace, credentialsSecretNameFor(name)), { namespace, sandbox: name }),
    sharing: (namespace, name) => sandboxPods(caches.pods.list(namespace), name).filter(sharesNow).length,
  });

  log.info({ identity: settings.identity, webhookPort: webhook.port }, 'airlock operator started');
  let stopping: Promise<void> | undefined;
  return {
    get isLeader() {
      return elector.isLeader;
    },
    webhookPort: webhook.port,
    healthPort: health.address().port,
    caPem: cert.caPem,
    idle: () => queue?.idle() ?? Promise.resolve(),
    // Once, however often it is called (a test stops a replica to see the cluster without it, then its teardown again).
    stop: () =>
      (stopping ??= (async () => {
        tls.stop();
        stopHeaderWatch?.();
        await usage.stop();
        await elector.stop();
        await queue?.stop();
        await webhook.close();
        await webhookApp.close();
        await health.close();
        await caches.stop();
      })()),
  };
}

const ns = (o: KubernetesObject) => o.metadata?.namespace ?? 'default';

/** Maps every cache change to the keys whose reconcile depends on it. */
function wireEvents(ctx: ControllerContext, caches: Caches): void {
  const sandboxesUsing = (namespace: string, test: (s: AgentSandbox) => boolean) =>
    caches.sandboxes.list(namespace).filter((s) => test(s as AgentSandbox)).forEach((s) => ctx.enqueue(keyOf('AgentSandbox', namespace, s.metadata!.name!)));

  caches.providers.on((p) => {
    const provider = p as ModelProvider;
    ctx.enqueue(keyOf('ModelProvider', ns(p), provider.metadata.name));
    sandboxesUsing(ns(p), (s) => s.spec.providers?.includes(provider.metadata.name) ?? false);
  });
  caches.backends.on((b) => {
    const backend = b as MCPBackend;
    ctx.enqueue(keyOf('MCPBackend', ns(b), backend.metadata.name));
    sandboxesUsing(ns(b), (s) => s.spec.mcpBackends?.includes(backend.metadata.name) ?? false);
  });
  caches.sandboxes.on((s) => ctx.enqueue(keyOf('AgentSandbox', ns(s), s.metadata!.name!)));
  /** Everything that reads Secret `name`: its providers, backends and their sandboxes. */
  const secretUsers = (namespace: string, name: string) => {
    const providers = caches.providers.list(namespace).map((p) => p as ModelProvider).filter((p) => providerSecretRefs(p).some((r) => r.name === name));
    const backends = caches.backends.list(namespace).map((b) => b as MCPBackend).filter((b) => backendSecretRefs(b).some((r) => r.name === name));
    providers.forEach((p) => ctx.enqueue(keyOf('ModelProvider', namespace, p.metadata.name)));
    backends.forEach((b) => ctx.enqueue(keyOf('MCPBackend', namespace, b.metadata.name)));
    const names = new Set([...providers, ...backends].map((o) => o.metadata.name));
    sandboxesUsing(namespace, (s) => [...(s.spec.providers ?? []), ...(s.spec.mcpBackends ?? [])].some((n) => names.has(n)));
  };
  caches.secrets.on((secret: V1Secret) => secretUsers(ns(secret), secret.metadata!.name!));
  const bySandboxLabel = (o: KubernetesObject) => {
    const owner = o.metadata?.labels?.[SANDBOX_LABEL];
    if (owner) ctx.enqueue(keyOf('AgentSandbox', ns(o), owner));
  };
  caches.rendered.on(bySandboxLabel);
  caches.pods.on((pod) => {
    bySandboxLabel(pod);
    // A pod that reaches a Secret a resource names makes that Secret unusable until it is gone.
    for (const secret of secretsReachedBy(pod)) secretUsers(ns(pod), secret);
  });
  caches.configMaps.on(bySandboxLabel);
  caches.networkPolicies.on(bySandboxLabel);
  // Relabelled for Pod Security: its sandboxes say whether their pods are still admitted.
  caches.namespaces.on((namespace) => sandboxesUsing(namespace.metadata!.name!, () => true));
}

/** /healthz, /readyz (`notReady` says why not, or undefined when ready) and /metrics. */
async function healthServer(settings: Settings, log: Logger, metrics: Registry, notReady: () => string | undefined, usage: UsageSource): Promise<HttpApp> {
  const app = new HttpApp({ bodyLimit: 0, ...PLAIN_ANSWERS });
  const onError = plainError(log);
  const get = (path: string, handler: Handler) => app.router.add('GET', path, handler, { onError, body: false });
  get('/healthz', () => ({ status: 'ok' }));
  get('/readyz', (_request, res) => {
    const reason = notReady();
    writeJson(res, reason === undefined ? 200 : 503, { status: reason ?? 'ready' }, JSON_UTF8);
  });
  get('/metrics', async (_request, res) => {
    const text = await metrics.metrics();
    res.writeHead(200, { 'content-type': metrics.contentType, 'content-length': Buffer.byteLength(text) }).end(text);
  });
  usageRoute(app, usage, onError);
  await app.listen({ host: settings.healthHost, port: settings.healthPort });
  return app;
}
