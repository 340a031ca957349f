/**
 * The aggregated view of all backends: which tools, prompts, resources and resource templates
 * exist under which names, which of them are exposed, and the merged lists. A pure function of
 * the backends' catalogs and the config, recomputed whenever either changes.
 *
 * Tools, prompts and resources go through the same two gates: the backend's allow/deny globs
 * (`tools`, `prompts`, `resources`; unset `prompts`/`resources` filters fall back to the `tools`
 * filter, so denying every tool of a backend hides everything it offers) and approval (in
 * `pinned` mode each definition must be pinned by its hash). Only approved entries of ready
 * backends are listed.
 */
import { createHash } from 'node:crypto';
import type { Prompt, Resource, ResourceTemplate, Tool } from '@modelcontextprotocol/sdk/types.js';
import type { McpBackendConfig } from '../config/index.js';
import { compileFilter, type FilterVerdict, type GlobFilter, type NameFilter } from './filtering.js';
import type { BackendCatalog, ListKind } from './listing.js';
import { assignNames, BUILTIN_BACKEND, BUILTIN_PREFIX, exposedName, MAX_LISTED_NAME_LENGTH, MAX_URI_LENGTH, wrapUri } from './naming.js';
import { approvalState, definitionHash, servedDefinition, type PinnedKind, type ToolApprovalState } from './pinning.js';

/** What the aggregation needs to know about one backend. */
export interface BackendSnapshot {
  config: McpBackendConfig;
  /** The latest catalog, also while the backend is down; undefined before it was ever listed. */
  catalog: BackendCatalog | undefined;
  /** Whether the backend is ready: only then do its entries reach the lists. */
  available: boolean;
}

/** What every entry records: where it comes from, its hash and whether it is exposed. */
interface EntryBase {
  backend: string;
  sha256: string;
  state: ToolApprovalState;
  /** Why the entry is denied. */
  reason?: string | undefined;
  /** Whether its backend is ready (entries of down backends keep their last definition). */
  available: boolean;
}

/** One backend tool and what the gateway does with it. */
export interface ToolEntry extends EntryBase {
  /** The name the backend uses. */
  name: string;
  /** The name clients see and call: `<prefix>__<name>`. */
  prefixedName: string;
  /** The definition as clients see it (prefixed name, the hashed fields as the backend sent them). */
  tool: Tool;
}

/** One backend prompt under its gateway name. */
export interface PromptEntry extends EntryBase {
  name: string;
  prefixedName: string;
  prompt: Prompt;
}

/** One backend resource or resource template; `key` is its URI or URI template as the backend reports it. */
export interface ResourceEntry extends EntryBase {
  kind: 'resource' | 'resourceTemplate';
  key: string;
  /** The definition as clients see it, URI wrapped. */
  definition: Resource | ResourceTemplate;
}

/** The merged view of every backend. */
export interface Aggregate {
  /** Every known tool in every state, down backends included. */
  tools: ToolEntry[];
  toolsByName: Map<string, ToolEntry>;
  /** Approved tools of ready backends: what tools/list shows. */
  listedTools: Tool[];
  /** Approved prompts of ready backends: what prompts/list shows. */
  prompts: PromptEntry[];
  /** Every known prompt in every state, by gateway name. */
  promptsByName: Map<string, PromptEntry>;
  /** Approved resources and templates of ready backends. */
  resources: Resource[];
  resourceTemplates: ResourceTemplate[];
  /** Every known resource and template in every state. */
  resourceEntries: ResourceEntry[];
  /** Backend prefix → backend name. */
  prefixes: Map<string, string>;
  /**
   * Backends with at least one approved tool, prompt, resource or template: only these reach
   * clients (see {@link exposingBackends}).
   */
  exposedBackends: Set<string>;
  /** Backend name → its compiled resource filter and approval mode, for reads of URIs nobody listed. */
  resourcePolicies: Map<string, { filter: NameFilter; mode: 'auto' | 'pinned' }>;
  /** Changes exactly when the corresponding list a client sees changes. */
  fingerprints: Record<ListKind, string>;
}

const hashes = new WeakMap<object, string>();

/** {@link definitionHash}, memoised per definition object (catalogs are immutable once listed). */
export function cachedHash(kind: PinnedKind, definition: object): string {
  let hash = hashes.get(definition);
  if (hash === undefined) {
    hash = definitionHash(kind, definition);
    hashes.set(definition, hash);
  }
  return hash;
}

/**
 * Builds the aggregate. `sandbox` holds the sandbox-wide allow/deny globs over prefixed tool
 * names; `builtins` the definitions of the sidecar's own `airlock__` tools, which pass those
 * globs like any tool and need no approval (the sidecar wrote them); `builtinResources` its own
 * resources, listed as `airlock+airlock:<uri>`.
 */
export function aggregate(backends: readonly BackendSnapshot[], sandbox: GlobFilter, builtins: readonly Tool[] = [], builtinResources: readonly Resource[] = []): Aggregate {
  const sandboxFilter = compileFilter(sandbox, 'sandbox');
  const result: Aggregate = {
    tools: [],
    toolsByName: new Map(),
    listedTools: [],
    prompts: [],
    promptsByName: new Map(),
    resources: [],
    resourceTemplates: [],
    resourceEntries: [],
    prefixes: new Map(),
    exposedBackends: new Set(),
    resourcePolicies: new Map(),
    fingerprints: { tools: '', resources: '', prompts: '' },
  };
  for (const tool of builtins) {
    const prefixedName = exposedName(BUILTIN_PREFIX, tool.name);
    const verdict = sandboxFilter(prefixedName);
    const entry: ToolEntry = {
      backend: BUILTIN_BACKEND,
      name: tool.name,
      prefixedName,
      sha256: cachedHash('tool', tool),
      ...(verdict.allowed ? { state: 'approved' as const } : { state: 'denied' as const, reason: verdict.reason }),
      available: true,
      tool: { ...servedDefinition('tool', tool), name: prefixedName },
    };
    result.tools.push(entry);
    result.toolsByName.set(prefixedName, entry);
    if (entry.state === 'approved') result.listedTools.push(entry.tool);
  }
  // The sidecar's own resources (the usage resource) are listed first, under the reserved prefix.
  for (const resource of builtinResources) result.resources.push({ ...resource, uri: wrapUri(BUILTIN_PREFIX, resource.uri) });
  for (const snapshot of backends) {
    const { config, catalog } = snapshot;
    result.prefixes.set(config.prefix, config.name);
    const gates = backendGates(config);
    result.resourcePolicies.set(config.name, { filter: gates.resources, mode: config.approval.mode });
    if (!catalog) continue;
    addTools(result, snapshot, gates.tools, sandboxFilter);
    addPrompts(result, snapshot, gates.prompts);
    addResources(result, snapshot, gates.resources);
  }
  result.exposedBackends = exposingBackends(result);
  result.fingerprints = {
    tools: digest(result.tools.filter((e) => e.state === 'approved' && e.available).map((e) => [e.prefixedName, e.sha256])),
    resources: digest([result.resources, result.resourceTemplates]),
    prompts: digest(result.prompts.map((p) => p.prompt)),
  };
  return result;
}

/**
 * The backends with an approved entry, listed or not (a down backend keeps its last catalog); the
 * sidecar's own tools are no backend's. A backend with none (pinned with nothing approved, say its
 * one tool changed since it was pinned, or every entry denied by filters) reaches no client: the
 * gateway sends it no logging/setLevel, passes on none of its log messages, resource updates,
 * sampling or elicitation requests (those get an error back), and withholds its instructions.
 * What pinning and filters keep from the agent, the backend may not say to it another way. A pin
 * or filter that approves one of its entries later (a config reload) lets it reach clients again.
 */
function exposingBackends(result: Aggregate): Set<string> {
  const exposing = new Set<string>();
  for (const entry of [...result.tools, ...result.promptsByName.values(), ...result.resourceEntries]) {
    if (entry.state === 'approved' && entry.backend !== BUILTIN_BACKEND) exposing.add(entry.backend);
  }
  return exposing;
}

/** The compiled allow/deny filters of a backend; prompts and resources fall back to the tools filter. */
function backendGates(config: McpBackendConfig): Record<'tools' | 'prompts' | 'resources', NameFilter> {
  const where = (list: string) => `backend ${JSON.stringify(config.name)}${list}`;
  return {
    tools: compileFilter(config.tools, where('')),
    prompts: config.prompts ? compileFilter(config.prompts, where(' prompts')) : compileFilter(config.tools, where(' (tools filter, as prompts has none)')),
    resources: config.resources
      ? compileFilter(config.resources, where(' resources'))
      : compileFilter(config.tools, where(' (tools filter, as resources has none)')),
  };
}

/**
 * The state of a definition that passed or failed its filters. A key longer than the gateway
 * serves is denied before any filter reads it: the backend chose it, and a glob's regular
 * expression can take time quadratic in its length or worse.
 */
function gate(config: McpBackendConfig, kind: PinnedKind, key: string, sha256: string, filters: (() => FilterVerdict)[]): Pick<EntryBase, 'state' | 'reason'> {
  const uri = kind === 'resource' || kind === 'resourceTemplate';
  const limit = uri ? MAX_URI_LENGTH : MAX_LISTED_NAME_LENGTH;
  if (key.length > limit) {
    const what = uri ? 'URI' : 'name';
    return { state: 'denied', reason: `its ${what} is ${key.length.toLocaleString('en-US')} characters long; ${what}s of at most ${limit.toLocaleString('en-US')} are served` };
  }
  for (const filter of filters) {
    const verdict = filter();
    if (!verdict.allowed) return { state: 'denied', reason: verdict.reason };
  }
  return { state: approvalState(config.approval, key, sha256, kind) };
}

const TASKS_REQUIRED: FilterVerdict = {
  allowed: false,
  reason: 'it can only be called as a task (execution.taskSupport: required), and the gateway does not serve MCP tasks',
};
const CALLABLE: FilterVerdict = { allowed: true };

/** A tool that only runs as a task (MCP 2025-11-25) would be listed but fail every call through the gateway. */
function callableWithoutTasks(tool: Tool): FilterVerdict {
  const execution = (tool as { execution?: { taskSupport?: unknown } }).execution;
  return execution?.taskSupport === 'required' ? TASKS_REQUIRED : CALLABLE;
}

function addTools(result: Aggregate, { config, catalog, available }: BackendSnapshot, backendFilter: NameFilter, sandboxFilter: NameFilter): void {
  const tools = catalog!.tools;
  const { names, dropped } = assignNames(config.prefix, tools.map((t) => t.name));
  for (const tool of tools) {
    const prefixedName = names.get(tool.name);
    // A backend listing one name twice gets its first definition used.
    if (prefixedName === undefined || result.toolsByName.has(prefixedName)) continue;
    const sha256 = cachedHash('tool', tool);
    const entry: ToolEntry = {
      backend: config.name,
      name: tool.name,
      prefixedName,
      sha256,
      ...gate(config, 'tool', tool.name, sha256, [() => backendFilter(tool.name), () => sandboxFilter(prefixedName), () => callableWithoutTasks(tool)]),
      available,
      // Only the hashed fields reach clients: nothing unpinned rides along with a pinned tool.
      tool: { ...servedDefinition('tool', tool), name: prefixedName },
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
      sha256: cachedHash('tool', tool),
      state: 'denied',
      reason: 'its rewritten name equals the name of another tool of the same backend',
      available,
      tool,
    });
  }
}

function addPrompts(result: Aggregate, { config, catalog, available }: BackendSnapshot, filter: NameFilter): void {
  const prompts = catalog!.prompts;
  const { names } = assignNames(config.prefix, prompts.map((p) => p.name));
  for (const prompt of prompts) {
    const prefixedName = names.get(prompt.name);
    if (prefixedName === undefined || result.promptsByName.has(prefixedName)) continue;
    const sha256 = cachedHash('prompt', prompt);
    const entry: PromptEntry = {
      backend: config.name,
      name: prompt.name,
      prefixedName,
      sha256,
      ...gate(config, 'prompt', prompt.name, sha256, [() => filter(prompt.name)]),
      available,
      prompt: { ...servedDefinition('prompt', prompt), name: prefixedName },
    };
    result.promptsByName.set(prefixedName, entry);
    if (entry.state === 'approved' && available) result.prompts.push(entry);
  }
}

function addResources(result: Aggregate, { config, catalog, available }: BackendSnapshot, filter: NameFilter): void {
  const add = (kind: ResourceEntry['kind'], key: string, original: Resource | ResourceTemplate, definition: Resource | ResourceTemplate) => {
    const sha256 = cachedHash(kind, original);
    const entry: ResourceEntry = { backend: config.name, kind, key, sha256, ...gate(config, kind, key, sha256, [() => filter(key)]), available, definition };
    result.resourceEntries.push(entry);
    return entry.state === 'approved' && available;
  };
  for (const resource of catalog!.resources) {
    const served = { ...servedDefinition('resource', resource), uri: wrapUri(config.prefix, resource.uri) };
    if (add('resource', resource.uri, resource, served)) result.resources.push(served);
  }
  for (const template of catalog!.resourceTemplates) {
    const served = { ...servedDefinition('resourceTemplate', template), uriTemplate: wrapUri(config.prefix, template.uriTemplate) };
    if (add('resourceTemplate', template.uriTemplate, template, served)) result.resourceTemplates.push(served);
  }
}

function digest(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex');
}
