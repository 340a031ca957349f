/**
 * The AdmissionReview (admission.k8s.io/v1) contract of the mutating webhook, and the decision
 * for one review: which requests are injected, refused or let through untouched.
 */
import type { V1Pod } from '@kubernetes/client-node';
import type { FastifyBaseLogger } from 'fastify';
import { z } from 'zod';
import type { AgentSandbox } from '../api/index.js';
import { SANDBOX_LABEL } from '../api/index.js';
import { injectPod, podName } from './inject.js';
import { podPatch } from './patch.js';
import type { InjectionSettings } from './settings.js';
import { formatRefusal, validatePod, type Refusal } from './validate.js';

const named = z.looseObject({ name: z.string().min(1) });

/**
 * The pod as the webhook reads it. Deliberately loose: fields this operator does not know
 * (newer Kubernetes versions) must survive, since the patch is a diff against this very object.
 */
const PodObject = z.looseObject({
  metadata: z
    .looseObject({
      name: z.string().optional(),
      generateName: z.string().optional(),
      namespace: z.string().optional(),
      labels: z.record(z.string(), z.string()).optional(),
      annotations: z.record(z.string(), z.string()).optional(),
    })
    .optional(),
  spec: z.looseObject({
    containers: z.array(named),
    initContainers: z.array(named).optional(),
    ephemeralContainers: z.array(named).optional(),
    volumes: z.array(named).optional(),
  }),
});

const GroupVersionKind = z.looseObject({ group: z.string(), version: z.string(), kind: z.string() });

/** An `admission.k8s.io/v1` AdmissionReview request as the API server sends it. */
export const AdmissionReviewRequest = z.looseObject({
  apiVersion: z.literal('admission.k8s.io/v1'),
  kind: z.literal('AdmissionReview'),
  request: z.looseObject({
    uid: z.string().min(1),
    kind: GroupVersionKind,
    resource: z.looseObject({ group: z.string(), version: z.string(), resource: z.string() }),
    subResource: z.string().optional(),
    name: z.string().optional(),
    namespace: z.string().optional(),
    operation: z.enum(['CREATE', 'UPDATE', 'DELETE', 'CONNECT']),
    object: z.unknown().optional(),
    dryRun: z.boolean().optional(),
  }),
});
export type AdmissionReviewRequest = z.infer<typeof AdmissionReviewRequest>;

/** The `response` of an AdmissionReview. */
export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  patchType?: 'JSONPatch';
  /** Base64 of the JSON patch. */
  patch?: string;
  status?: { code: number; reason?: string; message: string };
}

/** An AdmissionReview carrying a response, as the webhook answers. */
export interface AdmissionReviewResponse {
  apiVersion: 'admission.k8s.io/v1';
  kind: 'AdmissionReview';
  response: AdmissionResponse;
}

/** Finds an AgentSandbox (parsed, defaults applied) by namespace and name; undefined when none exists. */
export type SandboxLookup = (namespace: string, name: string) => Promise<AgentSandbox | undefined>;

/** What {@link admit} needs besides the review. */
export interface AdmissionDeps {
  lookupSandbox: SandboxLookup;
  settings: InjectionSettings;
  logger: FastifyBaseLogger;
}

/**
 * Decides one review. Injects Pod CREATEs that carry the sandbox label; checks ephemeral
 * containers added to such pods (`kubectl debug`), which could otherwise run privileged or as
 * the sidecar's UID; lets everything else through unchanged. Dry-run requests are injected like
 * any other: injection has no side effects, and a dry run should show what would be stored.
 */
export async function admit(review: AdmissionReviewRequest, deps: AdmissionDeps): Promise<AdmissionReviewResponse> {
  const request = review.request;
  const answer = (response: Omit<AdmissionResponse, 'uid'>): AdmissionReviewResponse => ({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    response: { uid: request.uid, ...response },
  });
  const isPod = request.kind.group === '' && request.kind.kind === 'Pod';
  const injecting = isPod && request.operation === 'CREATE' && !request.subResource;
  const debugging = isPod && request.operation === 'UPDATE' && request.subResource === 'ephemeralcontainers';
  if (!injecting && !debugging) return answer({ allowed: true });

  const parsed = PodObject.safeParse(request.object);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = ['object', ...(issue?.path ?? []).map(String)].join('.');
    return answer({ allowed: false, status: { code: 400, reason: 'BadRequest', message: `airlock: ${where}: ${issue?.message ?? 'not a pod'}` } });
  }
  const pod = parsed.data as V1Pod;
  const sandboxName = pod.metadata?.labels?.[SANDBOX_LABEL];
  // The webhook's objectSelector should only send labelled pods; anything else is not ours.
  if (sandboxName === undefined) return answer({ allowed: true });

  // Pods created with generateName have no name yet, and the object may omit its namespace:
  // the request's namespace is the authoritative one.
  const namespace = request.namespace ?? pod.metadata?.namespace;
  const log = deps.logger.child({ namespace, pod: podName(pod), sandbox: sandboxName, uid: request.uid, dryRun: request.dryRun ?? false });
  const refuse = (refusals: Refusal[], code = 403): AdmissionReviewResponse => {
    const message = `airlock: pod refused: ${refusals.map(formatRefusal).join('; ')}`;
    log.info({ refusals }, 'pod refused');
    return answer({ allowed: false, status: { code, reason: code === 403 ? 'Forbidden' : 'InternalError', message } });
  };

  if (debugging) {
    const refusals = validatePod(pod, deps.settings).filter((r) => r.path.startsWith('spec.ephemeralContainers'));
    return refusals.length > 0 ? refuse(refusals) : answer({ allowed: true });
  }
  if (namespace === undefined) return refuse([{ path: 'metadata.namespace', message: 'the request names no namespace' }], 400);

  const refusals = validatePod(pod, deps.settings);
  if (refusals.length > 0) return refuse(refusals);

  let sandbox: AgentSandbox | undefined;
  try {
    sandbox = await deps.lookupSandbox(namespace, sandboxName);
  } catch (err) {
    log.error({ err }, 'AgentSandbox lookup failed');
    const message = err instanceof Error ? err.message : String(err);
    return refuse([{ path: `metadata.labels[${SANDBOX_LABEL}]`, message: `could not look up AgentSandbox ${namespace}/${sandboxName}: ${message}` }], 500);
  }
  if (!sandbox) {
    return refuse([{ path: `metadata.labels[${SANDBOX_LABEL}]`, message: `AgentSandbox "${sandboxName}" does not exist in namespace ${namespace}` }]);
  }

  const { pod: mutated, annotation } = injectPod(pod, sandbox, deps.settings);
  const patch = podPatch(pod, mutated);
  log.info({ firewall: annotation.firewall, sidecar: annotation.sidecar, containers: annotation.containers, operations: patch.length }, 'pod injected');
  if (patch.length === 0) return answer({ allowed: true });
  return answer({ allowed: true, patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(patch)).toString('base64') });
}
