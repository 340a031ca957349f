/**
 * The AdmissionReview (admission.k8s.io/v1) contract of the mutating webhook, and the decision
 * for one review: which requests are injected, refused or let through untouched.
 */
import type { V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { AgentSandbox } from '../api/index.js';
import { SANDBOX_LABEL } from '../api/index.js';
import { findCondition } from '../kube/conditions.js';
import { injectPod, podName } from './inject.js';
import { decideUpdate } from './lifecycle.js';
import { podPatch } from './patch.js';
import { sidecarImage } from './render.js';
import type { InjectionSettings } from './settings.js';
import { formatRefusal, sandboxLabelRefusals, secretGuard, tokenRefusals, validatePod, type Refusal } from './validate.js';

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
    oldObject: z.unknown().optional(),
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

/** The names of the Secrets a namespace's ModelProviders and MCPBackends reference. */
export type ReferencedSecrets = (namespace: string) => ReadonlySet<string>;

/**
 * Whether a Secret of this name exists in the namespace that the sandbox of this uid does not
 * control (ADR 29: the sidecar reads its config and keys from it).
 */
export type ForeignCredentials = (namespace: string, secretName: string, sandboxUID: string) => Promise<boolean>;

/** What {@link admit} needs besides the review. */
export interface AdmissionDeps {
  lookupSandbox: SandboxLookup;
  /** Checks the sandbox's credentials Secret before a pod mounts it; not checked when omitted. */
  foreignCredentials?: ForeignCredentials;
  /** Secrets no app container of a sandbox pod may reach besides the credentials Secrets; none when omitted. */
  referencedSecrets?: ReferencedSecrets;
  settings: InjectionSettings;
  logger: Logger;
}

/** Subresources of a pod whose UPDATE can change what the webhook guards (none: the pod itself). */
const GUARDED_SUBRESOURCES = new Set([undefined, '', 'ephemeralcontainers', 'resize']);

/** The answer for a body that is not a pod: 400, naming the field. */
function parsePod(object: unknown, field: 'object' | 'oldObject'): { pod: V1Pod } | { error: string } {
  const parsed = PodObject.safeParse(object);
  if (parsed.success) return { pod: parsed.data as V1Pod };
  const issue = parsed.error.issues[0];
  return { error: `airlock: ${[field, ...(issue?.path ?? []).map(String)].join('.')}: ${issue?.message ?? 'not a pod'}` };
}

/**
 * Decides one review. Injects Pod CREATEs that carry the sandbox label; on UPDATEs of such pods
 * (the pod, `ephemeralcontainers` for `kubectl debug`, `resize`) keeps the label and what
 * injection owns unchanged and hardens new ephemeral containers (lifecycle.ts); lets everything
 * else through unchanged. Dry-run requests are decided like any other: there are no side effects,
 * and a dry run should show what would be stored.
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
  const updating = isPod && request.operation === 'UPDATE' && GUARDED_SUBRESOURCES.has(request.subResource);
  if (!injecting && !updating) return answer({ allowed: true });

  const parsed = parsePod(request.object, 'object');
  if ('error' in parsed) return answer({ allowed: false, status: { code: 400, reason: 'BadRequest', message: parsed.error } });
  const pod = parsed.pod;
  const before = updating ? parsePod(request.oldObject, 'oldObject') : undefined;
  if (before && 'error' in before) return answer({ allowed: false, status: { code: 400, reason: 'BadRequest', message: before.error } });
  const sandboxName = pod.metadata?.labels?.[SANDBOX_LABEL];

  // Pods created with generateName have no name yet, and the object may omit its namespace:
  // the request's namespace is the authoritative one.
  const namespace = request.namespace ?? pod.metadata?.namespace;
  const log = deps.logger.child({ namespace, pod: request.name ?? podName(pod), sandbox: sandboxName, uid: request.uid, operation: request.operation, subResource: request.subResource, dryRun: request.dryRun ?? false });
  const refuse = (refusals: Refusal[], code = 403): AdmissionReviewResponse => {
    const message = `airlock: pod refused: ${refusals.map(formatRefusal).join('; ')}`;
    log.info({ refusals }, 'pod refused');
    const reason = code === 403 ? 'Forbidden' : code === 400 ? 'BadRequest' : 'InternalError';
    return answer({ allowed: false, status: { code, reason, message } });
  };
  const patched = (original: V1Pod, mutated: V1Pod): AdmissionReviewResponse => {
    const patch = podPatch(original, mutated);
    if (patch.length === 0) return answer({ allowed: true });
    return answer({ allowed: true, patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(patch)).toString('base64') });
  };

  const guard = secretGuard(deps.settings, namespace === undefined ? undefined : deps.referencedSecrets?.(namespace));
  if (before) {
    const decision = decideUpdate(before.pod, pod, deps.settings, guard);
    if (decision.refusals.length > 0) return refuse(decision.refusals);
    if (decision.mutated) log.info({ ephemeralContainers: (pod.spec?.ephemeralContainers ?? []).map((c) => c.name) }, 'ephemeral containers hardened');
    return decision.mutated ? patched(pod, decision.mutated) : answer({ allowed: true });
  }

  // The webhook's objectSelector should only send labelled pods; anything else is not ours.
  if (sandboxName === undefined) return answer({ allowed: true });
  const labelRefusals = sandboxLabelRefusals(sandboxName);
  if (labelRefusals.length > 0) return refuse(labelRefusals, 400);
  if (namespace === undefined) return refuse([{ path: 'metadata.namespace', message: 'the request names no namespace' }], 400);

  const refusals = validatePod(pod, deps.settings, guard);
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
  const image = sidecarImage(sandbox, deps.settings);
  if (!deps.settings.allowedSidecarImages.includes(image)) {
    return refuse([{ path: `metadata.labels[${SANDBOX_LABEL}]`, message: `AgentSandbox ${sandboxName} names spec.sidecar.image ${image}, which is not one of the sidecar images the chart allows (sidecar.allowedImages)` }]);
  }

  const tokens = tokenRefusals(pod, sandbox);
  if (tokens.length > 0) return refuse(tokens);
  // Injection gives every container the socket's group: the tools group would open what stdio
  // servers share with their group to the agent (validate.ts, podGroupRefusals).
  if (sandbox.spec.socket?.group === deps.settings.toolsUID) {
    return refuse([{ path: `metadata.labels[${SANDBOX_LABEL}]`, message: `AgentSandbox ${sandboxName} sets spec.socket.group ${deps.settings.toolsUID}, the group of Airlock's airlock-tools container, which injection would give every container; choose another group` }]);
  }
  // The operator could not write the sandbox's objects (a name taken, a write refused): the Secret
  // under its name may hold someone else's config, whatever its owner reference claims.
  // Judged first: it is a look at the sandbox in hand, and the Secret's check may cost an API call.
  const rendered = findCondition(sandbox.status?.conditions, 'ConfigRendered');
  if (rendered?.status === 'False' && (rendered.reason === 'NameConflict' || rendered.reason === 'WriteFailed')) {
    return refuse([{ path: `metadata.labels[${SANDBOX_LABEL}]`, message: `AgentSandbox ${sandboxName} could not write its config (${rendered.reason}: ${rendered.message}); its pods start once it can` }]);
  }
  // A Secret under the sandbox's credentials name that someone else made (the operator leaves it
  // alone: NameConflict) would be the sidecar's config and keys: no pod mounts it.
  const credentials = deps.settings.credentialsSecretName(sandboxName);
  let foreign: boolean;
  try {
    foreign = deps.foreignCredentials !== undefined && (await deps.foreignCredentials(namespace, credentials, sandbox.metadata.uid ?? ''));
  } catch (err) {
    log.error({ err }, 'credentials Secret lookup failed');
    return refuse([{ path: `metadata.labels[${SANDBOX_LABEL}]`, message: `could not look up Secret ${namespace}/${credentials}: ${err instanceof Error ? err.message : String(err)}` }], 500);
  }
  if (foreign) {
    return refuse([{ path: `metadata.labels[${SANDBOX_LABEL}]`, message: `Secret ${credentials} exists and is not AgentSandbox ${sandboxName}'s (it has no controller owner reference to it): the sidecar would run with the config and keys in it. Rename the sandbox, or remove that Secret` }]);
  }

  const { pod: mutated, annotation } = injectPod(pod, sandbox, deps.settings);
  log.info({ firewall: annotation.firewall, sidecar: annotation.sidecar, containers: annotation.containers }, 'pod injected');
  return patched(pod, mutated);
}
