/**
 * The aggregated view of all backends: which tools exist under which names, which of them are
 * exposed, and the merged resource and prompt lists. A pure function of the backends' catalogs
 * and the config, recomputed whenever either changes.
 */
import { createHash } from 'node:crypto';
import type { Prompt, Resource, ResourceTemplate, Tool } from '@modelcontextprotocol/sdk/types.js';
import type { McpBackendConfig } from '../config/index.js';
import { compileFilter, type GlobFilter } from './filtering.js';
import type { BackendCatalog, ListKind } from './listing.js';
import { assignNames, wrapUri } from './naming.js';
import { approvalState, toolHash, type ToolApprovalState } from './pinning.js';

/** What the aggregation needs to know about one backend. */
export interface BackendSnapshot {
  config: McpBackendConfig;
  /** The latest catalog, also while the backend is down; undefined before it was ever listed. */
  catalog: BackendCatalog | undefined;
  /** Whether the backend is ready: only then do its entries reach the lists. */
  available: boolean;
}

/** One backend tool and what the gateway does with it. */
export interface ToolEntry {
  backend: string;
  /** The name the backend uses. */
  name: string;
  /** The name clients see and call: `<prefix>__<name>`. */
  prefixedName: string;
  sha256: string;
  state: ToolApprovalState;
  /** Why the tool is denied. */
  reason?: string | undefined;
  available: boolean;
  /** The definition as clients see it (prefixed name, everything else as the backend sent it). */
  tool: Tool;
}

/** One backend prompt under its gateway name. */
export interface PromptEntry {
  backend: string;
  name: string;
  prefixedName: string;
  prompt: Prompt;
}

/** The merged view of every backend. */
export interface Aggregate {
  /** Every known tool in every state, down backends included. */
  tools: ToolEntry[];
  toolsByName: Map<string, ToolEntry>;
  /** Approved tools of ready backends: what tools/list shows. */
  listedTools: Tool[];
  prompts: PromptEntry[];
  promptsByName: Map<string, PromptEntry>;
  resources: Resource[];
  resourceTemplates: ResourceTemplate[];
  /** Backend prefix → backend name. */
  prefixes: Map<string, string>;
  /** Changes exactly when the corresponding list a client sees changes. */
  fingerprints: Record<ListKind, string>;
}

const hashes = new WeakMap<Tool, string>();

/** {@link toolHash}, memoised per tool object (catalogs are immutable once listed). */
export function cachedToolHash(tool: Tool): string {
  let hash = hashes.get(tool);
  if (hash === undefined) {
    hash = toolHash(tool);
    hashes.set(tool, hash);
  }
  return hash;
}

/** Builds the aggregate. `sandbox` holds the sandbox-wide allow/deny globs over prefixed names. */
export function aggregate(backends: readonly BackendSnapshot[], sandbox: GlobFilter): Aggregate {
  const sandboxFilter = compileFilter(sandbox, 'sandbox');
  const result: Aggregate = {
    tools: [],
    toolsByName: new Map(),
    listedTools: [],
    prompts: [],
    promptsByName: new Map(),
    resources: [],
    resourceTemplates: [],
    prefixes: new Map(),
    fingerprints: { tools: '', resources: '', prompts: '' },
  };
  for (const { config, catalog, available } of backends) {
    result.prefixes.set(config.prefix, config.name);
    if (!catalog) continue;
    addTools(result, config, catalog.tools, available, sandboxFilter);
    if (!available) continue;
    const prompts = assignNames(config.prefix, catalog.prompts.map((p) => p.name));
    for (const prompt of catalog.prompts) {
      const prefixedName = prompts.names.get(prompt.name);
      if (prefixedName === undefined || result.promptsByName.has(prefixedName)) continue;
      const entry = { backend: config.name, name: prompt.name, prefixedName, prompt: { ...prompt, name: prefixedName } };
      result.prompts.push(entry);
      result.promptsByName.set(prefixedName, entry);
    }
    for (const resource of catalog.resources) result.resources.push({ ...resource, uri: wrapUri(config.prefix, resource.uri) });
    for (const template of catalog.resourceTemplates) {
      result.resourceTemplates.push({ ...template, uriTemplate: wrapUri(config.prefix, template.uriTemplate) });
    }
  }
  result.fingerprints = {
    tools: digest(result.tools.filter((e) => e.state === 'approved' && e.available).map((e) => [e.prefixedName, e.sha256])),
    resources: digest([result.resources, result.resourceTemplates]),
    prompts: digest(result.prompts.map((p) => p.prompt)),
  };
  return result;
}

function addTools(result: Aggregate, config: McpBackendConfig, tools: Tool[], available: boolean, sandboxFilter: ReturnType<typeof compileFilter>): void {
  const backendFilter = compileFilter(config.tools, `backend ${JSON.stringify(config.name)}`);
  const { names, dropped } = assignNames(config.prefix, tools.map((t) => t.name));
  for (const tool of tools) {
    const prefixedName = names.get(tool.name);
    // A backend listing one name twice gets its first definition used.
    if (prefixedName === undefined || result.toolsByName.has(prefixedName)) continue;
    const sha256 = cachedToolHash(tool);
    const verdict = backendVerdict(backendFilter(tool.name), sandboxFilter(prefixedName));
    const entry: ToolEntry = {
      backend: config.name,
      name: tool.name,
      prefixedName,
      sha256,
      state: verdict ? 'denied' : approvalState(config.approval, tool.name, sha256),
      reason: verdict,
      available,
      tool: { ...tool, name: prefixedName },
    };
    result.tools.push(entry);
    result.toolsByName.set(prefixedName, entry);
    if (entry.state === 'approved' && available) result.listedTools.push(entry.tool);
  }
  for (const name of dropped) {
    const tool = tools.find((t) => t.name === name);
    if (!tool) continue;
    result.tools.push({
      backend: config.name,
      name,
      prefixedName: '',
      sha256: cachedToolHash(tool),
      state: 'denied',
      reason: 'its rewritten name equals the name of another tool of the same backend',
      available,
      tool,
    });
  }
}

function backendVerdict(...verdicts: ReturnType<ReturnType<typeof compileFilter>>[]): string | undefined {
  for (const verdict of verdicts) if (!verdict.allowed) return verdict.reason;
  return undefined;
}

function digest(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex');
}
