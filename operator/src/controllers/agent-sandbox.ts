/**
 * AgentSandbox: resolves its providers and backends, renders the sidecar config and only the keys
 * it uses into Secret airlock-<sandbox>-credentials, where sidecars read them (ADR 29), and a copy
 * of the config for people into ConfigMap airlock-<sandbox> (both owned by the sandbox), renders
 * the NetworkPolicy, and reports configHash and injectedPods.
 */
import type { V1ConfigMap, V1Namespace, V1OwnerReference, V1Pod, V1Secret } from '@kubernetes/client-node';
import { ZodError } from 'zod';
import { API_VERSION, SANDBOX_LABEL, type AgentSandbox, type AgentSandboxStatus, type MCPBackend, type ModelProvider } from '../api/index.js';
import { findCondition, setConditions, type ConditionInput } from '../kube/conditions.js';
import { renderNetworkPolicy, sandboxObjectName } from '../render/network-policy.js';
import { MissingSecretError, renderSidecarConfig, UnfitSecretError } from '../render/sidecar-config.js';
import { SEAL_FILE, sealFiles } from '@airlock/sidecar/seal';
import { MANAGED_BY } from '../kube/credentials.js';
import { carriesSidecar } from '../webhook/lifecycle.js';
import { podDrift } from '../webhook/drift.js';
import { credentialsSecretNameFor as credentialsSecretName } from '../webhook/settings.js';
import { credentialSecret, forgetStatus, sameJson, statusNow, writeStatus, type ControllerContext } from './context.js';
import { backendSecretProblems } from './mcp-backend.js';
import { keyProblems } from './model-provider.js';
import { secretFiles } from '../tls/seal-key.js';
import { newUsageToken } from '../usage/token.js';
import type { ReconcileResult } from '../runtime/queue.js';
import { controlledBy, deleteRendered, RenderedObjectRefused, writeAll, writeRendered } from './rendered-objects.js';

interface Resolved<T> {
  /** Found, with their Secrets: rendered into the config. */
  usable: T[];
  /** Of those, the ones not reporting Ready=False (unreachable, discovery failed). */
  ready: number;
  problems: string[];
  /** Whether one is left out because sandbox pods reach its Secrets. */
  exposed: boolean;
}

function resolve<T extends ModelProvider | MCPBackend>(names: readonly string[] | undefined, kind: string, get: (name: string) => T | undefined, secretProblems: (o: T) => { missing: string[]; exposed: string[] }): Resolved<T> {
  const usable: T[] = [];
  const problems: string[] = [];
  let ready = 0;
  let exposed = false;
  for (const name of names ?? []) {
    const object = get(name);
    if (!object) {
      problems.push(`${kind} ${name} not found`);
      continue;
    }
    const secrets = secretProblems(object);
    const missing = [...secrets.missing, ...secrets.exposed];
    exposed ||= secrets.exposed.length > 0;
    if (missing.length > 0) {
      problems.push(`${kind} ${name}: ${missing.join('; ')}`);
      continue;
    }
    // Still rendered (an outage may be brief, and the sidecar fails over), but not counted ready.
    usable.push(object);
    const condition = findCondition(object.status?.conditions, 'Ready');
    if (condition?.status === 'False') problems.push(`${kind} ${name} not Ready: ${condition.message}`);
    else ready += 1;
  }
  return { usable, ready, problems, exposed };
}

/** How often a sandbox whose object names are taken looks again (the caches do not see objects not labelled as the operator's). */
const NAME_CONFLICT_RECHECK_MS = 10_000;

const SIDECAR_IMAGE_ALLOWED = 'SidecarImageAllowed';
const SOCKET_GROUP_ALLOWED = 'SocketGroupAllowed';
const POD_SECURITY_ALLOWED = 'PodSecurityAllowed';

/** Conditions a sandbox carries only while False: dropped once what they name is put right. */
const ONLY_WHEN_FALSE = new Set([SIDECAR_IMAGE_ALLOWED, SOCKET_GROUP_ALLOWED, POD_SECURITY_ALLOWED]);

export async function reconcileAgentSandbox(ctx: ControllerContext, namespace: string, name: string): Promise<ReconcileResult | void> {
  const sandbox = ctx.caches.sandboxes.get(namespace, name);
  if (!sandbox) {
    // Owned objects go with it through owner references; a token minted for a Secret the cache
    // never showed would otherwise stay in memory until the operator restarts.
    ctx.memos.delete(usageTokenMemo(namespace, name));
    forgetStatus(ctx, 'AgentSandbox', namespace, name);
    return;
  }
  const current = statusNow(ctx, 'AgentSandbox', sandbox) ?? {};
  const providers = resolve(sandbox.spec.providers, 'ModelProvider', (n) => ctx.caches.providers.get(namespace, n), (p) => keyProblems(ctx, p));
  const backends = resolve(sandbox.spec.mcpBackends, 'MCPBackend', (n) => ctx.caches.backends.get(namespace, n), (b) => backendSecretProblems(ctx, b));
  const conditions: ConditionInput[] = [
    providers.problems.length === 0
      ? { type: 'ProvidersReady', status: 'True', reason: 'Resolved', message: `${providers.usable.length} providers resolved` }
      : { type: 'ProvidersReady', status: 'False', reason: providers.exposed ? 'CredentialsExposed' : 'ProviderNotReady', message: providers.problems.join('; ') },
    backends.problems.length === 0
      ? { type: 'BackendsReady', status: 'True', reason: 'Resolved', message: `${backends.usable.length} MCP backends resolved` }
      : { type: 'BackendsReady', status: 'False', reason: backends.exposed ? 'CredentialsExposed' : 'BackendNotReady', message: backends.problems.join('; ') },
  ];
  // A sandbox that names a sidecar image the installation no longer allows (an upgrade moved
  // sidecar.image on) gets every new pod refused by the webhook: say so here, before pods fail.
  const image = sandbox.spec.sidecar?.image;
  const allowed = ctx.settings.allowedSidecarImages.length > 0 ? ctx.settings.allowedSidecarImages : [ctx.settings.sidecarImage];
  if (image !== undefined && !allowed.includes(image)) {
    conditions.push({
      type: SIDECAR_IMAGE_ALLOWED,
      status: 'False',
      reason: 'ImageNotAllowed',
      message: `spec.sidecar.image ${image} is not one of the sidecar images this installation allows (the chart's sidecar.allowedImages): the webhook refuses new pods of this sandbox; name an allowed image or remove spec.sidecar.image`,
    });
  }

  const socketGroup = socketGroupCondition(sandbox, ctx.settings.toolsUid);
  if (socketGroup) conditions.push(socketGroup);
  const podSecurity = podSecurityCondition(sandbox, ctx.caches.namespaces.get(undefined, namespace));
  if (podSecurity) conditions.push(podSecurity);

  let configHash = current.configHash;
  let refused: RenderedObjectRefused | undefined;
  let unfit: UnfitSecretError | undefined;
  try {
    const otlp = ctx.settings.otlpEndpoint ? { endpoint: ctx.settings.otlpEndpoint, headers: ctx.settings.otlpHeaders, secretHeaders: (await ctx.collectorHeaders.get()).headers } : undefined;
    const liveSecret = ctx.caches.rendered.get(namespace, credentialsSecretName(name));
    // A Secret of the name that is not the sandbox's is never written, and its token never used.
    const ownSecret = controlledBy(liveSecret, sandbox.metadata.uid!) ? liveSecret : undefined;
    const usage = ctx.settings.usageUrl ? { baseUrl: ctx.settings.usageUrl, intervalMs: ctx.settings.usageSyncMs, token: usageToken(ctx, namespace, name, ownSecret) } : undefined;
    const rendered = renderSidecarConfig({
      sandbox,
      providers: providers.usable,
      backends: backends.usable,
      secret: (n) => credentialSecret(ctx, namespace, n),
      otlp,
      captureMessageContent: ctx.settings.captureMessageContent,
      usage,
      admin: { host: ctx.settings.sidecarAdminHost, tools: ctx.settings.sidecarAdminTools },
    });
    const owner = ownerOf(sandbox);
    const labels = { ...MANAGED_BY, [SANDBOX_LABEL]: name };
    const configMap: V1ConfigMap = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: sandboxObjectName(name), namespace, labels, ownerReferences: [owner] },
      data: { 'config.yaml': rendered.yaml },
    };
    const secret: V1Secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'Opaque',
      metadata: { name: credentialsSecretName(name), namespace, labels, ownerReferences: [owner] },
      data: sealed(ctx, namespace, name, rendered.credentials),
    };
    const ownedBy = { name, uid: sandbox.metadata.uid! };
    const usagePort = ctx.settings.usageUrl ? Number(new URL(ctx.settings.usageUrl).port || 80) : undefined;
    const policy = renderNetworkPolicy(sandbox, providers.usable, backends.usable, { namespace: ctx.settings.namespace, usagePort, otlpEndpoint: ctx.settings.otlpEndpoint }, ctx.settings.sidecarMetricsFrom);
    const livePolicy = ctx.caches.networkPolicies.get(namespace, sandboxObjectName(name));
    if (policy) policy.metadata = { ...policy.metadata, labels, ownerReferences: [owner] };
    await writeAll([
      async () => {
        // Credentials first: a sidecar that sees the new config must find the keys it names.
        await writeRendered(ctx.kube, ownedBy, { desired: secret, claim: { ...secret, data: undefined }, live: liveSecret, current: (live) => sameJson(live.data ?? {}, secret.data) && sameJson(live.metadata?.labels, labels) });
        await writeRendered(ctx.kube, ownedBy, {
          desired: configMap,
          claim: { ...configMap, data: undefined },
          live: ctx.caches.configMaps.get(namespace, configMap.metadata!.name!),
          current: (live) => live.data?.['config.yaml'] === rendered.yaml,
          // Data and binaryData may not share a key, nor an immutable ConfigMap change: a ConfigMap
          // edited so would keep the editor's config against every apply.
          stuck: (live) => live.immutable === true || Object.keys(live.binaryData ?? {}).length > 0,
        });
      },
      () => (policy ? writeRendered(ctx.kube, ownedBy, { desired: policy, live: livePolicy, current: (live) => sameJson(live.spec, policy.spec) }) : deleteRendered(ctx.kube, ownedBy, livePolicy)),
    ]);
    configHash = rendered.hash;
    conditions.push({ type: 'ConfigRendered', status: 'True', reason: 'Rendered', message: `ConfigMap ${configMap.metadata!.name} and Secret ${secret.metadata!.name} are current` });
  } catch (err) {
    if (err instanceof RenderedObjectRefused) {
      refused = err;
      conditions.push({ type: 'ConfigRendered', status: 'False', reason: err.reason, message: err.message });
    } else if (err instanceof UnfitSecretError) {
      unfit = err;
      conditions.push({ type: 'ConfigRendered', status: 'False', reason: 'SecretValueRefused', message: err.message });
    } else {
      if (!(err instanceof MissingSecretError) && !(err instanceof ZodError)) throw err;
      const message = err instanceof ZodError ? `the rendered config is invalid: ${err.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}` : err.message;
      conditions.push({ type: 'ConfigRendered', status: 'False', reason: 'RenderFailed', message });
    }
  }

  const notReady = conditions.filter((c) => c.status !== 'True');
  // Nothing the sandbox names can serve an agent: say so first, unless pods reach a key (the
  // more urgent news: someone has to delete them).
  const nothingUsable = providers.ready + backends.ready === 0;
  const exposed = providers.exposed || backends.exposed;
  conditions.push(
    notReady.length === 0
      ? { type: 'Ready', status: 'True', reason: 'Ready', message: 'sandbox ready for agent pods' }
      : { type: 'Ready', status: 'False', reason: exposed ? 'CredentialsExposed' : nothingUsable ? 'NothingUsable' : notReady[0]!.reason, message: `${nothingUsable ? 'no provider or MCP backend it names is usable: ' : ''}${notReady.map((c) => c.message).join('; ')}` },
  );
  const pods = ctx.caches
    .pods
    .list(namespace)
    // The pod spec, not the annotation: anyone creating a pod can write an annotation.
    .filter((p) => p.metadata?.labels?.[SANDBOX_LABEL] === name && carriesSidecar(p) && !['Succeeded', 'Failed'].includes(p.status?.phase ?? ''));
  // Not part of Ready: new pods get the current isolation; this is about the ones already running.
  const upToDate = podsUpToDate(pods, sandbox, { sidecarImage: ctx.settings.sidecarImage, sealKey: ctx.seal.publicKey });
  conditions.push(upToDate.condition);
  const reported = new Set(conditions.map((c) => c.type));
  const kept = current.conditions?.filter((c) => reported.has(c.type) || !ONLY_WHEN_FALSE.has(c.type));
  const status: AgentSandboxStatus = {
    observedGeneration: sandbox.metadata.generation,
    readyProviders: `${providers.ready}/${sandbox.spec.providers?.length ?? 0}`,
    readyBackends: `${backends.ready}/${sandbox.spec.mcpBackends?.length ?? 0}`,
    injectedPods: pods.length,
    outdatedPods: upToDate.outdated,
    ...(configHash ? { configHash } : {}),
    conditions: setConditions(kept, conditions, sandbox.metadata.generation),
  };
  if (!sameJson(current, status)) {
    await writeStatus(ctx, 'AgentSandbox', 'agentsandboxes', sandbox, status);
    // Once per config: the status the change is compared with is the one last written.
    if (status.configHash !== undefined && status.configHash !== current.configHash) {
      await ctx.kube.event(sandbox, 'Normal', 'ConfigRendered', `sidecar config ${status.configHash.slice(0, 12)} rendered into ConfigMap ${sandboxObjectName(name)}`);
    }
    const ready = findCondition(status.conditions, 'Ready')!;
    const readyChanged = findCondition(current.conditions, 'Ready')?.status !== ready.status;
    if (readyChanged) {
      await ctx.kube.event(sandbox, ready.status === 'True' ? 'Normal' : 'Warning', ready.reason, ready.message);
    }
    // Pods falling behind, and behind in another way (IsolationWider after PodsOutdated), and caught up again.
    const podsNow = findCondition(status.conditions, 'PodsUpToDate')!;
    const podsBefore = findCondition(current.conditions, 'PodsUpToDate');
    if (podsNow.status === 'False' ? podsBefore?.reason !== podsNow.reason : podsBefore?.status === 'False') {
      await ctx.kube.event(sandbox, podsNow.status === 'True' ? 'Normal' : 'Warning', podsNow.reason, podsNow.message);
    }
    const groupNow = findCondition(status.conditions, SOCKET_GROUP_ALLOWED);
    if (groupNow && groupNow.message !== findCondition(current.conditions, SOCKET_GROUP_ALLOWED)?.message) {
      await ctx.kube.event(sandbox, 'Warning', groupNow.reason, groupNow.message);
    }
    // Unless the Ready Event just said it.
    const admissionNow = findCondition(status.conditions, POD_SECURITY_ALLOWED);
    if (admissionNow && admissionNow.message !== findCondition(current.conditions, POD_SECURITY_ALLOWED)?.message && !(readyChanged && ready.reason === admissionNow.reason)) {
      await ctx.kube.event(sandbox, 'Warning', admissionNow.reason, admissionNow.message);
    }
    // A name taken or a write refused: said once when it starts or changes, not on each retry.
    const renderedNow = findCondition(status.conditions, 'ConfigRendered');
    const renderedBefore = findCondition(current.conditions, 'ConfigRendered');
    const renderedChanged = renderedBefore?.reason !== renderedNow?.reason || renderedBefore?.message !== renderedNow?.message;
    if (refused && renderedChanged) {
      await ctx.kube.event(sandbox, 'Warning', refused.reason, refused.message);
    }
    // The Secret's owner has to act (a binary key in an env variable): said once, naming the Secret
    // and key, unless the Ready Event just said it.
    if (unfit && renderedChanged && !(readyChanged && ready.message.includes(unfit.message))) await ctx.kube.event(sandbox, 'Warning', 'SecretValueRefused', unfit.message);
  }
  // The API server's refusal is retried with backoff (and logged); a taken name is looked at
  // again now and then, since the caches do not see the object that takes it.
  if (refused?.reason === 'WriteFailed') throw refused;
  if (refused?.reason === 'NameConflict') return { requeueAfterMs: NAME_CONFLICT_RECHECK_MS };
}

/**
 * A socket group that is airlock-tools' (the chart's tools UID, also its GID): injection gives it
 * to every container, so the webhook refuses every pod of the sandbox (P6). Said here, where the
 * sandbox's author looks, rather than only in a pod's refusal. The sidecar's group is allowed: it
 * owns the socket, and is the default.
 */
function socketGroupCondition(sandbox: AgentSandbox, toolsUid: number): ConditionInput | undefined {
  const group = sandbox.spec.socket?.group;
  if (group !== toolsUid) return undefined;
  return {
    type: SOCKET_GROUP_ALLOWED,
    status: 'False',
    reason: 'SocketGroupReserved',
    message: `spec.socket.group ${group} is the group of Airlock's airlock-tools container (the installation's tools UID), which injection would give every container, opening to the agent what stdio MCP servers share with their group: the webhook refuses new pods of this sandbox; choose another group, or remove spec.socket.group to use the sidecar's`,
  };
}

/** The namespace label Pod Security admission enforces a level by. */
const POD_SECURITY_ENFORCE = 'pod-security.kubernetes.io/enforce';

/**
 * Whether Pod Security admission refuses the pods of this sandbox, from its namespace's enforce
 * label. The firewall isolation injects airlock-firewall (root, NET_ADMIN, NET_RAW), which
 * baseline and restricted refuse whatever the agent is; the containers every isolation injects
 * pass restricted, so what else a level refuses is the agent's own (docs/install.md §3). A
 * namespace without the label gets the cluster's default level, which the API does not show.
 */
function podSecurityCondition(sandbox: AgentSandbox, namespace: V1Namespace | undefined): ConditionInput | undefined {
  const level = namespace?.metadata?.labels?.[POD_SECURITY_ENFORCE];
  const network = sandbox.spec.isolation?.network ?? 'firewall';
  if (network !== 'firewall' || (level !== 'baseline' && level !== 'restricted')) return undefined;
  return {
    type: POD_SECURITY_ALLOWED,
    status: 'False',
    reason: 'FirewallRefused',
    message: `namespace ${namespace!.metadata!.name} enforces Pod Security ${level} (label ${POD_SECURITY_ENFORCE}), which refuses the airlock-firewall init container of isolation.network firewall (root, NET_ADMIN, NET_RAW): every pod of this sandbox is refused there; label the namespace ${POD_SECURITY_ENFORCE}=privileged, or set isolation.network to networkpolicy`,
  };
}

/** Pods named in the PodsUpToDate message; the count says how many more. */
const NAMED_PODS = 5;

/**
 * Whether the sandbox's running pods hold the isolation and sidecar image it gives now. The
 * firewall, its destinations and the token are set when a pod starts: narrowing them in the
 * sandbox reaches only pods started after, so the ones before are named until restarted.
 */
function podsUpToDate(pods: readonly V1Pod[], sandbox: AgentSandbox, settings: Parameters<typeof podDrift>[2]): { outdated: number; condition: ConditionInput } {
  const wider = new Map<string, string[]>();
  const other = new Map<string, string[]>();
  for (const pod of pods) {
    const drift = podDrift(pod, sandbox, settings);
    const podName = pod.metadata?.name ?? '';
    if (drift.wider.length > 0) wider.set(podName, drift.wider);
    else if (drift.other.length > 0) other.set(podName, drift.other);
  }
  const outdated = wider.size + other.size;
  if (outdated === 0) return { outdated, condition: { type: 'PodsUpToDate', status: 'True', reason: 'UpToDate', message: `${pods.length} pods run with the sandbox's current isolation and sidecar image` } };
  const describe = (group: Map<string, string[]>, what: string): string => {
    const names = [...group.keys()].sort();
    const differences = [...new Set([...group.values()].flat())].sort();
    const shown = differences.slice(0, 8).join(', ') + (differences.length > 8 ? ` and ${differences.length - 8} more` : '');
    return `${names.length} pods ${what} (${shown}): ${names.slice(0, NAMED_PODS).join(', ')}${names.length > NAMED_PODS ? ` and ${names.length - NAMED_PODS} more` : ''}`;
  };
  const parts = [
    ...(wider.size > 0 ? [describe(wider, 'still hold isolation the sandbox no longer grants')] : []),
    ...(other.size > 0 ? [describe(other, 'were started with other isolation or sidecar image')] : []),
  ];
  return {
    outdated,
    condition: {
      type: 'PodsUpToDate',
      status: 'False',
      reason: wider.size > 0 ? 'IsolationWider' : 'PodsOutdated',
      message: `${parts.join('; ')}. The firewall, its destinations, the service account token and the image are set when a pod starts: restart these pods (e.g. kubectl rollout restart) to apply the sandbox's; providers, models, MCP backends and limits already reach them`,
    },
  };
}

function ownerOf(sandbox: AgentSandbox): V1OwnerReference {
  return { apiVersion: API_VERSION, kind: 'AgentSandbox', name: sandbox.metadata.name, uid: sandbox.metadata.uid!, controller: true };
}

const usageTokenMemo = (namespace: string, name: string) => `usage-token/${namespace}/${name}`;

/**
 * The sandbox's usage token: the one its credentials Secret holds (sealed by this operator), so a re-render (and every
 * replica's route) keeps it; a new random one when the Secret has none. Remembered here until the
 * cache shows the Secret written, so a reconcile before the watch catches up does not mint another.
 */
function usageToken(ctx: ControllerContext, namespace: string, name: string, live: V1Secret | undefined): string {
  const memo = usageTokenMemo(namespace, name);
  // Only from a Secret this operator sealed: one written by someone else (an owner reference can be
  // forged) would have the operator adopt, seal and answer to a token they chose.
  const held = ctx.sealedTokens.tokenOf(live, { namespace, sandbox: name });
  if (held !== undefined) {
    ctx.memos.delete(memo);
    return held;
  }
  const token = (ctx.memos.get(memo) as string | undefined) ?? newUsageToken();
  ctx.memos.set(memo, token);
  return token;
}

/**
 * The credentials Secret's data with the operator's seal added (ADR 30): the sidecars of this
 * sandbox use the config and keys only as sealed here, so a Secret someone else wrote or patched
 * in its place is refused by them. Ed25519 signs the same data the same way, so a re-render that
 * changes nothing writes nothing.
 */
function sealed(ctx: ControllerContext, namespace: string, sandbox: string, data: Record<string, string>): Record<string, string> {
  return { ...data, [SEAL_FILE]: Buffer.from(sealFiles({ namespace, sandbox }, secretFiles(data), ctx.seal.privateKey)).toString('base64') };
}
