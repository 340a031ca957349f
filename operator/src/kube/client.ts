/**
 * The operator's view of the API server: typed clients made once, server-side apply with one
 * field manager, status patches through the status subresource, and Events.
 */
import {
  CoreV1Api,
  CustomObjectsApi,
  KubernetesObjectApi,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type KubernetesObject,
} from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { GROUP, VERSION, type AgentSandbox } from '../api/index.js';

/** The field manager of everything the operator writes. */
export const FIELD_MANAGER = 'airlock-operator';

export type AirlockPlural = 'modelproviders' | 'mcpbackends' | 'agentsandboxes';

export class Kube {
  readonly core: CoreV1Api;
  readonly custom: CustomObjectsApi;
  readonly objects: KubernetesObjectApi;

  constructor(
    readonly kubeConfig: KubeConfig,
    private readonly log?: Logger,
  ) {
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    this.custom = kubeConfig.makeApiClient(CustomObjectsApi);
    this.objects = KubernetesObjectApi.makeApiClient(kubeConfig);
  }

  /** Server-side apply: the object as the operator wants it; fields it stops setting are removed. */
  apply<T extends KubernetesObject>(object: T): Promise<T> {
    return this.objects.patch(object, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
  }

  /** Creates an object (POST): a 409 when one of its name exists, whoever made it. */
  create<T extends KubernetesObject>(object: T): Promise<T> {
    return this.objects.create(object, undefined, undefined, FIELD_MANAGER);
  }

  /**
   * The object of this kind, namespace and name as the API server holds it now, or undefined.
   * A list by name, not a get: the operator's role lists these kinds and gets none of them.
   */
  /** A JSON merge patch of `object` (its apiVersion, kind and name say which; a `metadata.uid` in it must match, or the API server refuses). */
  async mergePatch<T extends KubernetesObject>(object: T): Promise<T> {
    return this.objects.patch(object, undefined, undefined, FIELD_MANAGER, undefined, PatchStrategy.MergePatch);
  }

  async findByName<T extends KubernetesObject>(object: T): Promise<T | undefined> {
    const { name, namespace } = object.metadata ?? {};
    const list = await this.objects.list<T>(object.apiVersion!, object.kind!, namespace, undefined, undefined, undefined, `metadata.name=${name}`);
    return list.items[0];
  }

  /**
   * Deletes an object, ignoring one that is already gone; given `uid`, only that object (a
   * precondition): one made again under its name in the meantime is left alone.
   */
  async deleteIfExists(object: KubernetesObject, uid?: string): Promise<void> {
    try {
      await this.objects.delete(object, undefined, undefined, undefined, undefined, undefined, uid === undefined ? undefined : { preconditions: { uid } });
    } catch (err) {
      if (!isNotFound(err) && !(uid !== undefined && isConflict(err))) throw err;
    }
  }

  /** Writes an Airlock object's status (merge patch on the status subresource). */
  async patchStatus(plural: AirlockPlural, namespace: string, name: string, status: object): Promise<void> {
    await this.custom.patchNamespacedCustomObjectStatus(
      { group: GROUP, version: VERSION, namespace, plural, name, body: { status }, fieldManager: FIELD_MANAGER },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
  }

  /** Reads an AgentSandbox from the API server; undefined when it does not exist. */
  async readSandbox(namespace: string, name: string): Promise<AgentSandbox | undefined> {
    try {
      return (await this.custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: 'agentsandboxes', name })) as AgentSandbox;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** Records an Event on an object, as `kubectl describe` shows them. Never throws. */
  async event(involved: KubernetesObject, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const namespace = involved.metadata?.namespace ?? 'default';
    const now = new Date();
    try {
      await this.core.createNamespacedEvent({
        namespace,
        body: {
          metadata: { generateName: `${involved.metadata?.name ?? 'airlock'}.`, namespace },
          involvedObject: {
            apiVersion: involved.apiVersion,
            kind: involved.kind,
            name: involved.metadata?.name,
            namespace,
            uid: involved.metadata?.uid,
            resourceVersion: involved.metadata?.resourceVersion,
          },
          type,
          reason,
          message,
          source: { component: FIELD_MANAGER },
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
          reportingComponent: FIELD_MANAGER,
        },
      });
    } catch (err) {
      // Events are best effort; a failed one must not fail the reconcile, but it is worth a line.
      this.log?.debug({ reason, code: (err as { code?: number }).code }, 'could not record an Event');
    }
  }
}

/** Whether an API error is a 404. */
export function isNotFound(err: unknown): boolean {
  return (err as { code?: number }).code === 404;
}

/** Whether an API error is a 409: the name is taken, or a precondition (uid) did not hold. */
export function isConflict(err: unknown): boolean {
  return (err as { code?: number }).code === 409;
}
