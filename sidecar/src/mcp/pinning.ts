/**
 * Pinning: the one definition of the fingerprint of a tool, prompt, resource or resource
 * template, shared by the sidecar (which enforces pins) and the operator (which reports hashes in
 * MCPBackend status so a human can pin them). Exported as `@airlock/sidecar/pinning`; it depends
 * on node:crypto and canonicalize only, so the operator can import it without pulling in the MCP
 * gateway.
 *
 * The rule: a fingerprint covers every field of the definition that the gateway passes on to
 * clients, and the gateway passes on nothing else ({@link servedDefinition}), so no text, icon
 * or hint a client shows or a model reads can change without changing the hash.
 */
import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';

/** What can be pinned. */
export type PinnedKind = 'tool' | 'prompt' | 'resource' | 'resourceTemplate';

/**
 * The fields each kind of definition is served and hashed with. They are every field of the MCP
 * 2025-11-25 schema for that kind, so the whole definition as the MCP SDK client parses it.
 * Two resource fields are served but not hashed, because they change with the content rather
 * than the definition and would otherwise un-approve a pinned file each time it is written:
 * `size` and `annotations.lastModified` (a number and a timestamp; neither can carry words).
 */
export const HASHED_FIELDS = {
  tool: ['name', 'title', 'description', 'inputSchema', 'outputSchema', 'annotations', 'icons', 'execution', '_meta'],
  prompt: ['name', 'title', 'description', 'arguments', 'icons', '_meta'],
  resource: ['uri', 'name', 'title', 'description', 'mimeType', 'annotations', 'icons', '_meta'],
  resourceTemplate: ['uriTemplate', 'name', 'title', 'description', 'mimeType', 'annotations', 'icons', '_meta'],
} as const satisfies Record<PinnedKind, readonly string[]>;

/** The fields of a tool definition that the fingerprint covers. */
export const HASHED_TOOL_FIELDS = HASHED_FIELDS.tool;

/** Fields served to clients without being hashed (see {@link HASHED_FIELDS}). */
const SERVED_UNHASHED: Record<PinnedKind, readonly string[]> = { tool: [], prompt: [], resource: ['size'], resourceTemplate: [] };

/**
 * The parts of an MCP `Tool` the fingerprint reads. Any object with these fields is accepted
 * (the SDK's `Tool`, the raw JSON of a `tools/list` result); fields outside
 * {@link HASHED_TOOL_FIELDS} are ignored, and the gateway never serves them.
 */
export interface HashableTool {
  name: string;
  title?: string | null | undefined;
  description?: string | null | undefined;
  inputSchema?: unknown;
  outputSchema?: unknown;
  annotations?: unknown;
  icons?: unknown;
  execution?: unknown;
  _meta?: unknown;
}

/** Any definition: the fields of its kind are read, others ignored. */
export type HashableDefinition = object;

/**
 * The sha256 (lowercase hex) that pins one tool definition.
 *
 * It is computed over the RFC 8785 canonical JSON of an object holding exactly the
 * {@link HASHED_TOOL_FIELDS} of the tool, with the name as the backend reports it (without the
 * sandbox prefix). A field that is absent, `undefined` or `null` is omitted from that object, so
 * a tool without an output schema hashes the same whether the field is missing or null. Key
 * order and whitespace never matter; any change to a title, description, schema, annotation,
 * icon, execution hint or `_meta` changes the hash.
 *
 * @example toolHash({ name: 'echo', inputSchema: { type: 'object' } })
 *   // sha256 of '{"inputSchema":{"type":"object"},"name":"echo"}'
 */
export function toolHash(tool: HashableTool): string {
  return definitionHash('tool', tool);
}

/** The sha256 that pins one definition of the given kind (see {@link toolHash} for the rule). */
export function definitionHash(kind: PinnedKind, definition: HashableDefinition): string {
  return createHash('sha256').update(canonicalJson(kind, definition), 'utf8').digest('hex');
}

/** The canonical JSON text that {@link toolHash} digests; exported for tests and debugging. */
export function canonicalToolJson(tool: HashableTool): string {
  return canonicalJson('tool', tool);
}

/** The canonical JSON text that {@link definitionHash} digests. */
export function canonicalJson(kind: PinnedKind, definition: HashableDefinition): string {
  const picked = pick(definition, HASHED_FIELDS[kind]);
  if (kind === 'resource' || kind === 'resourceTemplate') {
    const annotations = picked.annotations;
    if (typeof annotations === 'object' && annotations !== null && 'lastModified' in annotations) {
      const { lastModified: _changesWithContent, ...rest } = annotations as Record<string, unknown>;
      if (Object.keys(rest).length > 0) picked.annotations = rest;
      else delete picked.annotations;
    }
  }
  const text = canonicalize(picked);
  if (text === undefined) throw new TypeError(`${kind} ${JSON.stringify(identity(kind, definition))} cannot be canonicalized`);
  return text;
}

/**
 * The definition as the gateway serves it: exactly the fields the hash covers (plus the few
 * served unhashed), so a field a future backend or SDK adds never reaches a client unpinned.
 */
export function servedDefinition<T extends object>(kind: PinnedKind, definition: T): T {
  return pick(definition, [...HASHED_FIELDS[kind], ...SERVED_UNHASHED[kind]]) as T;
}

/** The key a pin of this kind names: the URI for resources, the URI template for templates, else the name. */
export function identity(kind: PinnedKind, definition: HashableDefinition): string {
  const d = definition as { name?: unknown; uri?: unknown; uriTemplate?: unknown };
  const key = kind === 'resource' ? d.uri : kind === 'resourceTemplate' ? d.uriTemplate : d.name;
  return typeof key === 'string' ? key : '';
}

function pick(definition: object, fields: readonly string[]): Record<string, unknown> {
  const picked: Record<string, unknown> = {};
  for (const field of fields) {
    const value = (definition as Record<string, unknown>)[field];
    if (value !== undefined && value !== null) picked[field] = value;
  }
  return picked;
}

/** Approval state of one definition. `denied` comes from allow/deny globs, the others from pinning. */
export type ToolApprovalState = 'approved' | 'pending' | 'changed' | 'denied';

/** One pin: the name (URI, URI template) of a definition and an approved hash of it. */
export interface Pin {
  name: string;
  sha256: string;
}

/**
 * The approval settings of one backend, as in the sidecar config and the MCPBackend spec:
 * `pinned` holds tool pins, `pinnedPrompts` prompt pins, `pinnedResources` the pins of resources
 * and resource templates (named by URI and URI template).
 */
export interface ApprovalPolicy {
  mode: 'auto' | 'pinned';
  pinned: readonly Pin[];
  pinnedPrompts?: readonly Pin[] | undefined;
  pinnedResources?: readonly Pin[] | undefined;
}

/** The pins of the policy that apply to a kind of definition. */
export function pinsFor(policy: ApprovalPolicy, kind: PinnedKind): readonly Pin[] {
  if (kind === 'tool') return policy.pinned;
  if (kind === 'prompt') return policy.pinnedPrompts ?? [];
  return policy.pinnedResources ?? [];
}

/**
 * Decides whether an allowed definition may be exposed. `auto` approves everything. `pinned`
 * approves one only when its current hash is pinned under its name; one pinned under another
 * hash is `changed` (its definition moved since a human approved it), an unpinned one `pending`.
 * Without `kind` the pins are the tool pins.
 */
export function approvalState(policy: ApprovalPolicy, name: string, sha256: string, kind: PinnedKind = 'tool'): Exclude<ToolApprovalState, 'denied'> {
  if (policy.mode === 'auto') return 'approved';
  const pins = pinsFor(policy, kind).filter((p) => p.name === name);
  if (pins.length === 0) return 'pending';
  return pins.some((p) => p.sha256 === sha256) ? 'approved' : 'changed';
}
