/**
 * The operator's informers: list+watch caches of the kinds it reads. client-node's ListWatch
 * re-lists and re-watches after errors with its own backoff; here each informer also reports
 * whether it has synced, and every change becomes queue keys through the handlers.
 */
import {
  CoreV1Api,
  CustomObjectsApi,
  NetworkingV1Api,
  makeInformer,
  type Informer,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  type ObjectCache,
  type V1ConfigMap,
  type V1NetworkPolicy,
  type V1Pod,
  type V1Secret,
} from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { GROUP, SANDBOX_LABEL, VERSION, type AgentSandbox, type MCPBackend, type ModelProvider } from '../api/index.js';

/** Label on everything the operator creates. */
export const MANAGED_BY = { 'app.kubernetes.io/managed-by': 'airlock-operator' } as const;

type Handler<T> = (object: T, verb: 'add' | 'update' | 'delete') => void;

/**
 * One informer. client-node's ListWatch re-watches after a watch times out or expires (410), but
 * stops for good on any other error (a failed list, a 429 while storage initialises, a dropped
 * connection); this wrapper restarts it with exponential backoff, and counts it synced only once
 * a list and watch went through.
 */
export class Watched<T extends KubernetesObject> {
  private synced = false;
  private stopped = true;
  private errors = 0;
  private failures = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private readonly informer: Informer<T> & ObjectCache<T>;

  constructor(
    readonly name: string,
    kubeConfig: KubeConfig,
    path: string,
    list: () => Promise<KubernetesListObject<T>>,
    private readonly log: Logger,
    labelSelector?: string,
  ) {
    this.informer = makeInformer<T>(kubeConfig, path, list, labelSelector);
    this.informer.on('error', (err) => {
      this.errors += 1;
      this.synced = false;
      if (this.stopped) return;
      this.failures += 1;
      const delay = Math.min(30_000, 250 * 2 ** Math.min(this.failures - 1, 8));
      log.warn({ informer: name, err: String(err).split('\n')[0], retryInMs: delay }, 'list/watch failed; restarting the informer');
      clearTimeout(this.restartTimer);
      this.restartTimer = setTimeout(() => void this.run(), delay);
      this.restartTimer.unref();
    });
  }

  /** Calls `handler` on every add, update and delete. */
  on(handler: Handler<T>): void {
    this.informer.on('add', (o) => handler(o, 'add'));
    this.informer.on('update', (o) => handler(o, 'update'));
    this.informer.on('delete', (o) => handler(o, 'delete'));
  }

  get(namespace: string, name: string): T | undefined {
    return this.informer.get(name, namespace);
  }

  list(namespace?: string): readonly T[] {
    return this.informer.list(namespace);
  }

  get hasSynced(): boolean {
    return this.synced;
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
   * @param namespace watch one namespace only (like WATCH_NAMESPACE in other operators); all
   * namespaces when undefined.
   */
  constructor(kubeConfig: KubeConfig, log: Logger, namespace?: string) {
    const custom = kubeConfig.makeApiClient(CustomObjectsApi);
    const core = kubeConfig.makeApiClient(CoreV1Api);
    const networking = kubeConfig.makeApiClient(NetworkingV1Api);
    const scoped = (group: string, resource: string) => `${group}${namespace ? `/namespaces/${namespace}` : ''}/${resource}`;
    const airlock = <T extends KubernetesObject>(plural: string) =>
      new Watched<T>(
        plural,
        kubeConfig,
        scoped(`/apis/${GROUP}/${VERSION}`, plural),
        () =>
          (namespace
            ? custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural })
            : custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural })) as Promise<KubernetesListObject<T>>,
        log,
      );
    const managed = Object.entries(MANAGED_BY).map(([k, v]) => `${k}=${v}`).join(',');
    this.providers = airlock('modelproviders');
    this.backends = airlock('mcpbackends');
    this.sandboxes = airlock('agentsandboxes');
    // Every Secret of the watched namespaces: a provider may name any of them, and rotating one
    // must reach the sandboxes within seconds.
    this.secrets = new Watched('secrets', kubeConfig, scoped('/api/v1', 'secrets'), () => (namespace ? core.listNamespacedSecret({ namespace }) : core.listSecretForAllNamespaces()), log);
    this.pods = new Watched(
      'pods',
      kubeConfig,
      scoped('/api/v1', 'pods'),
      () => (namespace ? core.listNamespacedPod({ namespace, labelSelector: SANDBOX_LABEL }) : core.listPodForAllNamespaces({ labelSelector: SANDBOX_LABEL })),
      log,
      SANDBOX_LABEL,
    );
    this.configMaps = new Watched(
      'configmaps',
      kubeConfig,
      scoped('/api/v1', 'configmaps'),
      () => (namespace ? core.listNamespacedConfigMap({ namespace, labelSelector: managed }) : core.listConfigMapForAllNamespaces({ labelSelector: managed })),
      log,
      managed,
    );
    this.networkPolicies = new Watched(
      'networkpolicies',
      kubeConfig,
      scoped('/apis/networking.k8s.io/v1', 'networkpolicies'),
      () =>
        namespace
          ? networking.listNamespacedNetworkPolicy({ namespace, labelSelector: managed })
          : networking.listNetworkPolicyForAllNamespaces({ labelSelector: managed }),
      log,
      managed,
    );
  }

  private get all(): Watched<KubernetesObject>[] {
    return [this.providers, this.backends, this.sandboxes, this.secrets, this.pods, this.configMaps, this.networkPolicies] as Watched<KubernetesObject>[];
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
