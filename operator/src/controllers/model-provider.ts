/**
 * ModelProvider: SecretsResolved (every named Secret and key exists — which one is missing is
 * said, never a value), an opt-in Reachable probe that lists the provider's models with one key,
 * and Ready.
 */
import { DEFAULT_BASE_URLS } from '@airlock/sidecar/config';
import type { ReconcileResult } from '../runtime/queue.js';
import { probeProvider } from '../discovery/provider-probe.js';
import { MAX_DISCOVERED_MODELS, MAX_MODEL_ID_LENGTH, type ModelProvider, type ModelProviderStatus } from '../api/index.js';
import { findCondition, setConditions, type ConditionInput } from '../kube/conditions.js';
import { providerSecretRefs } from '../kube/credentials.js';
import { announce, credentialSecret, forgetStatus, exposedCondition, exposedSecretRefs, keyOf, missingSecretRefs, refreshMemo, sameJson, secretValue, statusNow, writeStatus, type ControllerContext } from './context.js';

interface ProbeMemo {
  at: number;
  fingerprint: string;
  condition: ConditionInput;
  models: string[] | undefined;
}

/**
 * Why a provider's keys may not be used, as human-readable reasons (never a value): `missing`
 * (absent, no consent), `exposed` (sandbox pods reach the Secret).
 */
export function keyProblems(ctx: ControllerContext, provider: ModelProvider): { missing: string[]; exposed: string[] } {
  const namespace = provider.metadata.namespace ?? 'default';
  const refs = providerSecretRefs(provider);
  const use = { kind: 'ModelProvider', url: provider.spec.baseURL ?? DEFAULT_BASE_URLS[provider.spec.type] } as const;
  return { missing: missingSecretRefs(ctx, namespace, refs, use), exposed: exposedSecretRefs(ctx, namespace, refs) };
}

export async function reconcileModelProvider(ctx: ControllerContext, namespace: string, name: string): Promise<ReconcileResult | void> {
  const provider = ctx.caches.providers.get(namespace, name);
  if (!provider) {
    ctx.memos.delete(`probe/${namespace}/${name}`);
    forgetStatus(ctx, 'ModelProvider', namespace, name);
    return;
  }
  const { missing, exposed } = keyProblems(ctx, provider);
  const conditions: ConditionInput[] = [
    missing.length === 0
      ? { type: 'SecretsResolved', status: 'True', reason: 'Resolved', message: `${provider.spec.apiKeys?.length ?? 0} API keys resolved` }
      : { type: 'SecretsResolved', status: 'False', reason: 'SecretMissing', message: missing.join('; ') },
    exposedCondition(exposed),
  ];
  const probe = provider.spec.probe;
  let requeueAfterMs: number | undefined;
  let discovered: string[] | undefined;
  if (!probe?.enabled) {
    conditions.push({ type: 'Reachable', status: 'Unknown', reason: 'ProbeDisabled', message: 'set spec.probe.enabled to have the operator list the provider\'s models' });
  } else if (missing.length > 0) {
    conditions.push({ type: 'Reachable', status: 'Unknown', reason: 'SecretMissing', message: 'cannot probe without the API key' });
  } else if (exposed.length > 0) {
    conditions.push({ type: 'Reachable', status: 'Unknown', reason: 'CredentialsExposed', message: 'not probed with a key that sandbox pods can reach' });
  } else {
    const memo = await probeOnce(ctx, provider, probe.intervalSeconds * 1000);
    conditions.push(memo?.condition ?? { type: 'Reachable', status: 'Unknown', reason: 'Probing', message: "listing the provider's models" });
    discovered = memo?.models;
    requeueAfterMs = probe.intervalSeconds * 1000;
  }
  const reachable = findCondition(conditions, 'Reachable');
  const credentials = credentialsCondition(ctx, provider);
  if (credentials) conditions.push(credentials);
  conditions.push(
    missing.length > 0
      ? { type: 'Ready', status: 'False', reason: 'SecretMissing', message: missing.join('; ') }
      : exposed.length > 0
        ? { type: 'Ready', status: 'False', reason: 'CredentialsExposed', message: exposed.join('; ') }
        : credentials?.status === 'False'
          ? { type: 'Ready', status: 'False', reason: credentials.reason, message: credentials.message }
          : reachable?.status === 'False'
            ? { type: 'Ready', status: 'False', reason: 'Unreachable', message: reachable.message }
            : { type: 'Ready', status: 'True', reason: 'Ready', message: `serves ${provider.spec.models.length} models` },
  );

  const current = statusNow(ctx, 'ModelProvider', provider) ?? {};
  const status: ModelProviderStatus = {
    observedGeneration: provider.metadata.generation,
    modelCount: provider.spec.models.length,
    conditions: setConditions(current.conditions, conditions, provider.metadata.generation),
    ...(discovered ? { discoveredModels: discovered } : current.discoveredModels ? { discoveredModels: current.discoveredModels } : {}),
  };
  if (!sameJson(current, status)) {
    await writeStatus(ctx, 'ModelProvider', 'modelproviders', provider, status);
    await announce(ctx, provider, current.conditions, status.conditions!, { [CREDENTIALS_ACCEPTED]: 'False', CredentialsExposed: 'True' });
  }
  return requeueAfterMs === undefined ? undefined : { requeueAfterMs };
}

const CREDENTIALS_ACCEPTED = 'CredentialsAccepted';

/**
 * CredentialsAccepted from what the sidecars reported in the last usage round: False, naming the
 * sandboxes and pods whose sidecar saw every key refused (401) and the Secrets to rotate;
 * True once none does (a changed Secret gives the sidecars fresh keys). Undefined before the
 * leader's first round, so a new leader keeps what the status says. Names only, never a value
 * or what the provider answered.
 */
function credentialsCondition(ctx: ControllerContext, provider: ModelProvider): ConditionInput | undefined {
  const rejections = ctx.rejections.forProvider(provider.metadata.namespace ?? 'default', provider.metadata.name);
  if (rejections === undefined) return undefined;
  if (rejections.length === 0) return { type: CREDENTIALS_ACCEPTED, status: 'True', reason: 'NotRejected', message: 'no sandbox pod reports its API keys refused' };
  const bySandbox = new Map<string, string[]>();
  for (const { sandbox, pod } of rejections) bySandbox.set(sandbox, [...(bySandbox.get(sandbox) ?? []), pod]);
  const where = [...bySandbox].map(([sandbox, pods]) => `sandbox ${sandbox} (pods ${pods.join(', ')})`).join(', ');
  const secrets = [...new Set(providerSecretRefs(provider).map((r) => r.name))];
  return {
    type: CREDENTIALS_ACCEPTED,
    status: 'False',
    reason: 'CredentialsRejected',
    message: `the provider refused every API key (401) in ${where}; rotate the keys${secrets.length > 0 ? ` in Secret ${secrets.join(', ')}` : ''}: the sidecars use them again once it changes`,
  };
}

/** Probes at most once per interval per spec and key; the result is remembered in between. */
/**
 * The models a probe listed as the status can hold them: at most {@link MAX_DISCOVERED_MODELS}
 * ids of at most {@link MAX_MODEL_ID_LENGTH} characters, the condition saying how many were left
 * out. A longer list made the API server refuse the whole status, conditions included, on every
 * retry (an OpenAI-compatible gateway can list thousands).
 */
function listedModels(models: readonly string[]): Pick<ProbeMemo, 'models' | 'condition'> {
  const shown = models.filter((id) => id.length <= MAX_MODEL_ID_LENGTH).slice(0, MAX_DISCOVERED_MODELS);
  const left = models.length - shown.length;
  const message = `listed ${models.length} models${left > 0 ? `; discoveredModels shows ${shown.length} (at most ${MAX_DISCOVERED_MODELS}, of at most ${MAX_MODEL_ID_LENGTH} characters)` : ''}`;
  return { models: shown, condition: { type: 'Reachable', status: 'True', reason: 'ModelsListed', message } };
}

/** The provider's last probe: the memo when it is fresh, else one run now beside the queue (runtime/outside-calls.ts), as MCP discovery does. */
async function probeOnce(ctx: ControllerContext, provider: ModelProvider, intervalMs: number): Promise<ProbeMemo | undefined> {
  const namespace = provider.metadata.namespace ?? 'default';
  const memoKey = `probe/${namespace}/${provider.metadata.name}`;
  const first = providerSecretRefs(provider)[0];
  const apiKey = first ? secretValue(ctx, namespace, first) : undefined;
  const secret = first ? credentialSecret(ctx, namespace, first.name)?.metadata?.resourceVersion : '';
  const fingerprint = `${provider.metadata.generation}/${secret}`;
  const memo = ctx.memos.get(memoKey) as ProbeMemo | undefined;
  if (memo && memo.fingerprint === fingerprint && Date.now() - memo.at < intervalMs) return memo;
  return refreshMemo(ctx, memoKey, namespace, keyOf('ModelProvider', namespace, provider.metadata.name), async (): Promise<ProbeMemo> => {
    const result = await probeProvider({ type: provider.spec.type, baseURL: provider.spec.baseURL, apiKey, headers: provider.spec.headers ?? {}, timeoutMs: Math.min(provider.spec.timeouts.totalMs, 30_000) });
    ctx.log.debug({ provider: memoKey, ok: result.ok }, 'provider probed');
    return result.ok
      ? { at: Date.now(), fingerprint, ...listedModels(result.models) }
      : { at: Date.now(), fingerprint, models: undefined, condition: { type: 'Reachable', status: 'False', reason: 'ProbeFailed', message: result.reason } };
  });
}
