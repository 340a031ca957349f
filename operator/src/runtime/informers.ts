/**
 * The operator's informers: list+watch caches of the kinds it reads. client-node's ListWatch
 * re-lists and re-watches after errors with its own backoff; here each informer also reports
 * whether it has synced, and every change becomes queue keys through the handlers. Secrets are
 * listed by label only (see kube/credentials.ts).
 */
import { backoffDelay } from '@airlock/sidecar/backoff';
import {
  CoreV1Api,
  CustomObjectsApi,
  ListWatch,
  NetworkingV1Api,
  Watch,
  type Informer,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  type ObjectCache,
  type V1ConfigMap,
  type V1Namespace,
  type V1NetworkPolicy,
  type V1Pod,
  type V1Secret,
} from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { GROUP, SANDBOX_LABEL, VERSION, type AgentSandbox, type MCPBackend, type ModelProvider } from '../api/index.js';
import { CREDENTIAL_SELECTOR, MANAGED_SELECTOR } from '../kube/credentials.js';

type Handler<T> = (object: T, verb: 'add' | 'update' | 'delete') => void;

/** Where one informer lists and watches: a path and the matching list call. */
export interface Source<T extends KubernetesObject> {
  path: string;
  list: () => Promise<KubernetesListObject<T>>;
  /** The watch's field selector, the one the list uses (one Namespace by name). */
  fieldSelector?: string;
}

/**
 * One list+watch. client-node's ListWatch re-watches after a watch times out or expires (410),
 * but stops for good on any other error (a failed list, a 429 while storage initialises, a
 * dropped connection); this wrapper restarts it with exponential backoff, and counts it synced
 * only once a list and watch went through.
 */
class Restarting<T extends KubernetesObject> {
  synced = false;
  private stopped = true;
  private errors = 0;
  private failures = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  readonly informer: Informer<T> & ObjectCache<T>;

  constructor(name: string, kubeConfig: KubeConfig, source: Source<T>, log: Logger, labelSelector?: string) {
    this.informer = new ListWatch<T>(source.path, new Watch(kubeConfig), source.list, false, labelSelector, source.fieldSelector);
    this.informer.on('error', (err) => {
      this.errors += 1;
      this.synced = false;
      if (this.stopped) return;
      this.failures += 1;
      const delay = backoffDelay(this.failures, { baseMs: 250, maxMs: 30_000 });
      log.warn({ informer: name, path: source.path, err: String(err).split('\n')[0], retryInMs: delay }, 'list/watch failed; restarting the informer');
      clearTimeout(this.restartTimer);
      this.restartTimer = setTimeout(() => void this.run(), delay);
      this.restartTimer.unref();
    });
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    await this.informer.stop();
  }

  private async run(): Promise<void> {
    if (this.stopped) return;
    const errorsBefore = this.errors;
    // Resolves once the list and the watch request went through, or after an error was reported.
    await this.informer.start().catch(() => undefined);
    if (this.errors === errorsBefore && !this.stopped) {
      this.synced = true;
      this.failures = 0;
    }
  }
}

/**
 * One kind's cache: a single cluster-wide list+watch, or one per watched namespace (so a
 * namespaced Role suffices), seen as one cache.
 */
export class Watched<T extends KubernetesObject> {
  private readonly parts: Restarting<T>[];

  constructor(
    readonly name: string,
    kubeConfig: KubeConfig,
    sources: Source<T>[],
    log: Logger,
    labelSelector?: string,
  ) {
    this.parts = sources.map((source) => new Restarting(name, kubeConfig, source, log, labelSelector));
  }

  /** Calls `handler` on every add, update and delete. */
  on(handler: Handler<T>): void {
    for (const { informer } of this.parts) {
      informer.on('add', (o) => handler(o, 'add'));
      informer.on('update', (o) => handler(o, 'update'));
      informer.on('delete', (o) => handler(o, 'delete'));
    }
  }

  /** The object by name; `namespace` undefined for a cluster-scoped kind. */
  get(namespace: string | undefined, name: string): T | undefined {
    for (const { informer } of this.parts) {
      const found = informer.get(name, namespace);
      if (found) return found;
    }
    return undefined;
  }

  list(namespace?: string): readonly T[] {
    return this.parts.flatMap(({ informer }) => informer.list(namespace));
  }

  get hasSynced(): boolean {
    return this.parts.every((p) => p.synced);
  }

  async start(): Promise<void> {
    await Promise.all(this.parts.map((p) => p.start()));
  }

  async stop(): Promise<void> {
    await Promise.all(this.parts.map((p) => p.stop()));
  }
}

/** Every informer the operator runs. */
export class Caches {
  readonly providers: Watched<ModelProvider & KubernetesObject>;
  readonly backends: Watched<MCPBackend & KubernetesObject>;
  readonly sandboxes: Watched<AgentSandbox & KubernetesObject>;
  readonly secrets: Watched<V1Secret>;
  readonly pods: Watched<V1Pod>;
  readonly configMaps: Watched<V1ConfigMap>;
  readonly networkPolicies: Watched<V1NetworkPolicy>;
  /**
   * The watched namespaces' Namespace objects (their Pod Security labels): every Namespace, or
   * with `namespaces` each by name (a field selector, so RBAC may name them).
   */
  readonly namespaces: Watched<V1Namespace>;

  /**
   * Credential Secrets (opted in by their owners) and the credentials Secrets the operator
   * rendered; two label-selected informers, so unrelated Secrets are never listed.
   */
  readonly rendered: Watched<V1Secret>;

  /**
   * @param namespaces watch these namespaces only, each with its own list+watch (a namespaced
   * Role in each suffices); every namespace when empty.
   */
  constructor(kubeConfig: KubeConfig, log: Logger, namespaces: readonly string[] = []) {
    const custom = kubeConfig.makeApiClient(CustomObjectsApi);
    const core = kubeConfig.makeApiClient(CoreV1Api);
    const networking = kubeConfig.makeApiClient(NetworkingV1Api);
    const scopes: (string | undefined)[] = namespaces.length > 0 ? [...namespaces] : [undefined];
    const sources = <T extends KubernetesObject>(base: string, resource: string, list: (namespace: string | undefined) => Promise<unknown>): Source<T>[] =>
      scopes.map((namespace) => ({ path: `${base}${namespace ? `/namespaces/${namespace}` : ''}/${resource}`, list: () => list(namespace) as Promise<KubernetesListObject<T>> }));
    const airlock = <T extends KubernetesObject>(plural: string) =>
      new Watched<T>(
        plural,
        kubeConfig,
        sources(`/apis/${GROUP}/${VERSION}`, plural, (namespace) =>
          namespace ? custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural }) : custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural }),
        ),
        log,
      );
    const secrets = (labelSelector: string) =>
      sources<V1Secret>('/api/v1', 'secrets', (namespace) => (namespace ? core.listNamespacedSecret({ namespace, labelSelector }) : core.listSecretForAllNamespaces({ labelSelector })));
    this.providers = airlock('modelproviders');
    this.backends = airlock('mcpbackends');
    this.sandboxes = airlock('agentsandboxes');
    this.secrets = new Watched('secrets', kubeConfig, secrets(CREDENTIAL_SELECTOR), log, CREDENTIAL_SELECTOR);
    this.rendered = new Watched('rendered-secrets', kubeConfig, secrets(MANAGED_SELECTOR), log, MANAGED_SELECTOR);
    this.pods = new Watched(
      'pods',
      kubeConfig,
      sources<V1Pod>('/api/v1', 'pods', (namespace) =>
        namespace ? core.listNamespacedPod({ namespace, labelSelector: SANDBOX_LABEL }) : core.listPodForAllNamespaces({ labelSelector: SANDBOX_LABEL }),
      ),
      log,
      SANDBOX_LABEL,
    );
    this.configMaps = new Watched(
      'configmaps',
      kubeConfig,
      sources<V1ConfigMap>('/api/v1', 'configmaps', (namespace) =>
        namespace ? core.listNamespacedConfigMap({ namespace, labelSelector: MANAGED_SELECTOR }) : core.listConfigMapForAllNamespaces({ labelSelector: MANAGED_SELECTOR }),
      ),
      log,
      MANAGED_SELECTOR,
    );
    this.networkPolicies = new Watched(
      'networkpolicies',
      kubeConfig,
      sources<V1NetworkPolicy>('/apis/networking.k8s.io/v1', 'networkpolicies', (namespace) =>
        namespace
          ? networking.listNamespacedNetworkPolicy({ namespace, labelSelector: MANAGED_SELECTOR })
          : networking.listNetworkPolicyForAllNamespaces({ labelSelector: MANAGED_SELECTOR }),
      ),
      log,
      MANAGED_SELECTOR,
    );
    this.namespaces = new Watched(
      'namespaces',
      kubeConfig,
      scopes.map((namespace) => {
        const fieldSelector = namespace ? `metadata.name=${namespace}` : undefined;
        return { path: '/api/v1/namespaces', list: () => core.listNamespace({ fieldSelector }) as Promise<KubernetesListObject<V1Namespace>>, fieldSelector };
      }),
      log,
    );
  }

  private get all(): Watched<KubernetesObject>[] {
    return [this.providers, this.backends, this.sandboxes, this.secrets, this.rendered, this.pods, this.configMaps, this.networkPolicies, this.namespaces] as Watched<KubernetesObject>[];
  }

  get hasSynced(): boolean {
    return this.all.every((w) => w.hasSynced);
  }

  async start(): Promise<void> {
    await Promise.all(this.all.map((w) => w.start()));
  }

  async stop(): Promise<void> {
    await Promise.all(this.all.map((w) => w.stop()));
  }
}
