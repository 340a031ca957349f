/**
 * MCPBackend: for HTTP backends the operator connects, lists the tools and records each tool's
 * name, sha256 and approval state, with a condition message telling a human how to approve.
 * stdio backends run inside each sandbox pod, so only the sidecar can see their tools.
 */
import { MAX_STATUS_DEFINITIONS, type MCPBackend, type MCPBackendStatus } from '../api/index.js';
import { approvalMessage, definitionStates, discoverTools, inList, toolStates } from '../discovery/index.js';
import { findCondition, setConditions, type ConditionInput } from '../kube/conditions.js';
import type { ReconcileResult } from '../runtime/queue.js';
import { backendSecretRefs } from '../kube/credentials.js';
import { announce, credentialSecret, forgetStatus, exposedCondition, exposedSecretRefs, keyOf, missingSecretRefs, refreshMemo, sameJson, secretValue, statusNow, writeStatus, type ControllerContext } from './context.js';

/** How often HTTP backends are listed again to notice changed tools (rug pulls). */
const DISCOVERY_INTERVAL_MS = 5 * 60_000;

/** The longest a discovery may take, whatever the backend's `timeouts.connectMs` (up to 300 s, the sidecar's to use). */
const MAX_DISCOVERY_MS = 60_000;

interface Memo {
  at: number;
  fingerprint: string;
  status: Pick<MCPBackendStatus, 'tools' | 'prompts' | 'resources' | 'toolCount' | 'pendingCount'>;
  condition: ConditionInput;
}

/** Why a backend's Secret references may not be used: `missing` (absent, no consent), `exposed` (sandbox pods reach them). */
export function backendSecretProblems(ctx: ControllerContext, backend: MCPBackend): { missing: string[]; exposed: string[] } {
  const namespace = backend.metadata.namespace ?? 'default';
  const refs = backendSecretRefs(backend);
  const use = { kind: 'MCPBackend', url: backend.spec.transport === 'stdio' ? undefined : backend.spec.url } as const;
  return { missing: missingSecretRefs(ctx, namespace, refs, use), exposed: exposedSecretRefs(ctx, namespace, refs) };
}

export async function reconcileMcpBackend(ctx: ControllerContext, namespace: string, name: string): Promise<ReconcileResult | void> {
  const backend = ctx.caches.backends.get(namespace, name);
  if (!backend) {
    ctx.memos.delete(`tools/${namespace}/${name}`);
    forgetStatus(ctx, 'MCPBackend', namespace, name);
    return;
  }
  const { missing, exposed } = backendSecretProblems(ctx, backend);
  const current = statusNow(ctx, 'MCPBackend', backend) ?? {};
  let discovered: Memo | undefined;
  const conditions: ConditionInput[] = [];
  if (missing.length > 0) {
    conditions.push({ type: 'Discovered', status: 'Unknown', reason: 'SecretMissing', message: missing.join('; ') });
  } else if (exposed.length > 0) {
    conditions.push({ type: 'Discovered', status: 'Unknown', reason: 'CredentialsExposed', message: 'not discovered with a Secret that sandbox pods can reach' });
  } else if (backend.spec.transport === 'stdio') {
    conditions.push({
      type: 'Discovered',
      status: 'Unknown',
      reason: 'DiscoveredBySidecar',
      message: 'a stdio server runs inside each sandbox pod; only the sidecar sees its tools (on its admin port at /mcp/tools when the operator runs with --sidecar-admin-tools=true)',
    });
  } else {
    discovered = await discoverOnce(ctx, backend);
    conditions.push(discovered?.condition ?? { type: 'Discovered', status: 'Unknown', reason: 'Discovering', message: "listing the server's tools, prompts and resources" });
  }
  const discoveredCondition = findCondition(conditions, 'Discovered');
  const failed = discoveredCondition?.status === 'False';
  const discovering = discoveredCondition?.reason === 'Discovering';
  conditions.push(
    exposedCondition(exposed),
    missing.length > 0
      ? { type: 'Ready', status: 'False', reason: 'SecretMissing', message: missing.join('; ') }
      : exposed.length > 0
        ? { type: 'Ready', status: 'False', reason: 'CredentialsExposed', message: exposed.join('; ') }
        : failed
        ? { type: 'Ready', status: 'False', reason: 'Unreachable', message: conditions[0]!.message }
        : discovering
        ? { type: 'Ready', status: 'Unknown', reason: 'Discovering', message: "listing the server's tools, prompts and resources" }
        : { type: 'Ready', status: 'True', reason: 'Ready', message: `${backend.spec.transport} backend ready` },
  );
  const status: MCPBackendStatus = {
    observedGeneration: backend.metadata.generation,
    ...(discovered?.status ?? { tools: current.tools, prompts: current.prompts, resources: current.resources, toolCount: current.toolCount, pendingCount: current.pendingCount }),
    conditions: setConditions(current.conditions, conditions, backend.metadata.generation),
  };
  const clean = JSON.parse(JSON.stringify(status)) as MCPBackendStatus;
  if (!sameJson(current, clean)) {
    await writeStatus(ctx, 'MCPBackend', 'mcpbackends', backend, clean, { ...clean, tools: clean.tools ?? null });
    await announce(ctx, backend, current.conditions, clean.conditions!, { CredentialsExposed: 'True' });
    if ((clean.pendingCount ?? 0) > (current.pendingCount ?? 0)) {
      await ctx.kube.event(backend, 'Warning', 'ToolsPendingApproval', `${clean.pendingCount} tools wait for approval; see the Discovered condition`);
    }
  }
  return backend.spec.transport === 'stdio' ? undefined : { requeueAfterMs: DISCOVERY_INTERVAL_MS };
}

/**
 * The backend's last discovery: the memo when it is fresh, else one run now beside the queue
 * ({@link refreshMemo}); a server slower than the wait leaves the last memo (or none) in place
 * until it is done and the backend is reconciled again.
 */
async function discoverOnce(ctx: ControllerContext, backend: MCPBackend): Promise<Memo | undefined> {
  const namespace = backend.metadata.namespace ?? 'default';
  const key = `tools/${namespace}/${backend.metadata.name}`;
  const headers: Record<string, string> = {};
  for (const h of backend.spec.headers ?? []) {
    headers[h.name] = h.secretKeyRef ? (secretValue(ctx, namespace, h.secretKeyRef) ?? '') : (h.value ?? '');
  }
  const versions = (backend.spec.headers ?? []).map((h) => (h.secretKeyRef ? credentialSecret(ctx, namespace, h.secretKeyRef.name)?.metadata?.resourceVersion : ''));
  const fingerprint = `${backend.metadata.generation}/${versions.join(',')}`;
  const memo = ctx.memos.get(key) as Memo | undefined;
  if (memo && memo.fingerprint === fingerprint && Date.now() - memo.at < DISCOVERY_INTERVAL_MS / 2) return memo;

  return refreshMemo(ctx, key, namespace, keyOf('MCPBackend', namespace, backend.metadata.name), async () => {
    const timeoutMs = Math.min(backend.spec.timeouts.connectMs, MAX_DISCOVERY_MS);
    return discoveryMemo(backend, await discoverTools({ transport: backend.spec.transport as 'streamable-http' | 'sse', url: backend.spec.url!, headers, timeoutMs }), fingerprint);
  });
}

/** What one discovery found, as the status shows it under the backend's approval. */
function discoveryMemo(backend: MCPBackend, result: Awaited<ReturnType<typeof discoverTools>>, fingerprint: string): Memo {
  const namespace = backend.metadata.namespace ?? 'default';
  let next: Memo;
  if (!result.ok) {
    next = { at: Date.now(), fingerprint, status: {}, condition: { type: 'Discovered', status: 'False', reason: 'DiscoveryFailed', message: result.reason } };
  } else {
    const approval = backend.spec.approval;
    const tools = toolStates(result.tools, approval);
    // Prompts and resources are pinned like tools (docs/adr/0009); resources and templates share a list.
    const prompts = definitionStates('prompt', result.prompts, approval);
    const listed = [...definitionStates('resource', result.resources, approval), ...definitionStates('resourceTemplate', result.resourceTemplates, approval)];
    const all = [...tools, ...inList('prompt', prompts), ...inList('resource', listed)];
    const pending = all.filter((t) => t.state !== 'approved').length;
    // Resources and templates share a list, which holds as many as each of theirs: a longer one made
    // the API server refuse the whole status, conditions included, on every retry.
    const resources = listed.slice(0, MAX_STATUS_DEFINITIONS);
    const cut =
      (listed.length > resources.length ? ` The backend lists ${listed.length} resources and resource templates; status.resources shows the first ${MAX_STATUS_DEFINITIONS}.` : '') +
      (result.cut ?? []).map((why) => ` ${why[0]!.toUpperCase()}${why.slice(1)}.`).join('');
    next = {
      at: Date.now(),
      fingerprint,
      status: { tools, prompts, resources, toolCount: tools.length, pendingCount: pending },
      condition: {
        type: 'Discovered',
        status: 'True',
        reason: pending > 0 ? 'ToolsPendingApproval' : 'ToolsApproved',
        message: approvalMessage(all, { name: backend.metadata.name, namespace, approval }) + cut,
      },
    };
  }
  return next;
}
