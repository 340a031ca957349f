/**
 * Tool pinning: the one definition of a tool's fingerprint, shared by the sidecar (which
 * enforces pins) and the operator (which reports hashes in MCPBackend status so a human can pin
 * them). Exported as `@airlock/sidecar/pinning`; it depends on node:crypto and canonicalize
 * only, so the operator can import it without pulling in the MCP gateway.
 */
import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';

/** The fields of an MCP tool definition that the fingerprint covers. */
export const HASHED_TOOL_FIELDS = ['name', 'description', 'inputSchema', 'outputSchema', 'annotations'] as const;

/**
 * The parts of an MCP `Tool` the fingerprint reads. Any object with these fields is accepted
 * (the SDK's `Tool`, the raw JSON of a `tools/list` result); other fields such as `title`,
 * `icons` and `_meta` are ignored.
 */
export interface HashableTool {
  name: string;
  description?: string | null | undefined;
  inputSchema?: unknown;
  outputSchema?: unknown;
  annotations?: unknown;
}

/**
 * The sha256 (lowercase hex) that pins one tool definition.
 *
 * It is computed over the RFC 8785 canonical JSON of an object holding exactly the
 * {@link HASHED_TOOL_FIELDS} of the tool, with the name as the backend reports it (without the
 * sandbox prefix). A field that is absent, `undefined` or `null` is omitted from that object, so
 * a tool without an output schema hashes the same whether the field is missing or null. Key
 * order and whitespace never matter; any change to a description, a schema or an annotation
 * changes the hash.
 *
 * @example toolHash({ name: 'echo', inputSchema: { type: 'object' } })
 *   // sha256 of '{"inputSchema":{"type":"object"},"name":"echo"}'
 */
export function toolHash(tool: HashableTool): string {
  return createHash('sha256').update(canonicalToolJson(tool), 'utf8').digest('hex');
}

/** The canonical JSON text that {@link toolHash} digests; exported for tests and debugging. */
export function canonicalToolJson(tool: HashableTool): string {
  const picked: Record<string, unknown> = {};
  for (const field of HASHED_TOOL_FIELDS) {
    const value = tool[field];
    if (value !== undefined && value !== null) picked[field] = value;
  }
  const text = canonicalize(picked);
  if (text === undefined) throw new TypeError(`tool ${JSON.stringify(tool.name)} cannot be canonicalized`);
  return text;
}

/** Approval state of one tool. `denied` comes from allow/deny globs, the others from pinning. */
export type ToolApprovalState = 'approved' | 'pending' | 'changed' | 'denied';

/** The approval settings of one backend, as in the sidecar config and the MCPBackend spec. */
export interface ApprovalPolicy {
  mode: 'auto' | 'pinned';
  pinned: readonly { name: string; sha256: string }[];
}

/**
 * Decides whether an allowed tool may be exposed. `auto` approves every tool. `pinned` approves
 * a tool only when its current hash is pinned under its name; a tool pinned under an other
 * hash is `changed` (its definition moved since a human approved it), an unpinned one `pending`.
 */
export function approvalState(policy: ApprovalPolicy, name: string, sha256: string): Exclude<ToolApprovalState, 'denied'> {
  if (policy.mode === 'auto') return 'approved';
  const pins = policy.pinned.filter((p) => p.name === name);
  if (pins.length === 0) return 'pending';
  return pins.some((p) => p.sha256 === sha256) ? 'approved' : 'changed';
}
