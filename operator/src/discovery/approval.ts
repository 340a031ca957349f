/**
 * Tool approval as the MCPBackend status reports it: each discovered tool's hash and state, and a
 * condition message that tells a human exactly how to approve what is waiting. Pure functions:
 * the same rule ({@link approvalState}) and the same hash ({@link toolHash}) as the sidecar, so
 * what the status calls approved is what the sidecar exposes.
 */
import { approvalState, definitionHash, identity, type PinnedKind } from '@airlock/sidecar/pinning';
import { GROUP } from '../api/common.js';
import type { MCPBackendStatus } from '../api/mcp-backend.js';

/** One entry of `status.tools` (the API exports the schema; this is its type). */
type ToolStatus = NonNullable<MCPBackendStatus['tools']>[number];

/** The approval settings of a backend (`spec.approval`). */
export interface ApprovalSpec {
  mode: 'auto' | 'pinned';
  pinned?: readonly { name: string; sha256: string }[] | undefined;
  pinnedPrompts?: readonly { name: string; sha256: string }[] | undefined;
  pinnedResources?: readonly { name: string; sha256: string }[] | undefined;
}

/** The list of `spec.approval` that pins each kind. */
export type PinList = 'pinned' | 'pinnedPrompts' | 'pinnedResources';
const PIN_LIST: Record<PinnedKind, PinList> = { tool: 'pinned', prompt: 'pinnedPrompts', resource: 'pinnedResources', resourceTemplate: 'pinnedResources' };

/** A status entry and the list its pin belongs in (tools when unset). */
export type WaitingEntry = ToolStatus & { list?: PinList | undefined };

/** Longest condition message the API server accepts (metav1.Condition.message). */
export const MAX_CONDITION_MESSAGE = 32_768;

/** Longest name a status entry or a pin can hold (PinnedTool.name, PinnedPrompt.name; PinnedResource.name holds a URI). */
const MAX_NAME: Record<PinnedKind, number> = { tool: 128, prompt: 128, resource: 2048, resourceTemplate: 2048 };

/**
 * The status entry of every tool: name, sha256 of its definition, and its state. `auto` approves
 * every tool; `pinned` approves a tool whose current hash is pinned under its name, reports one
 * pinned under another hash as `changed` and an unpinned one as `pending`.
 *
 * Sorted by name (code-unit order, so every replica writes the same list). A backend that lists a
 * name twice gets its first definition used, as in the sidecar. Tools with names longer than 128
 * characters are left out: neither status nor `pinned` can hold them, so they can never be
 * approved, and one of them must not make the whole status update fail.
 */
export function toolStates(tools: readonly object[], approval: ApprovalSpec): ToolStatus[] {
  return definitionStates('tool', tools, approval);
}

/**
 * {@link toolStates} for any kind: prompts by name, resources by URI, templates by URI template,
 * each hashed with the sidecar's function and checked against the pins of its own list.
 */
export function definitionStates(kind: PinnedKind, definitions: readonly object[], approval: ApprovalSpec): ToolStatus[] {
  const policy = { mode: approval.mode, pinned: approval.pinned ?? [], pinnedPrompts: approval.pinnedPrompts, pinnedResources: approval.pinnedResources };
  const seen = new Set<string>();
  const states: ToolStatus[] = [];
  for (const definition of definitions) {
    const name = identity(kind, definition);
    if (seen.has(name) || name.length === 0 || name.length > MAX_NAME[kind]) continue;
    seen.add(name);
    const sha256 = definitionHash(kind, definition);
    states.push({ name, sha256, state: approvalState(policy, name, sha256, kind) });
  }
  return states.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Tags status entries with the list their pins belong in, for {@link approvalMessage}. */
export function inList(kind: PinnedKind, states: readonly ToolStatus[]): WaitingEntry[] {
  return states.map((s) => ({ ...s, list: PIN_LIST[kind] }));
}

/** Where and what to approve. */
export interface ApprovalMessageTarget {
  /** MCPBackend name. */
  name: string;
  namespace: string;
  /**
   * The backend's `spec.approval`: the patch for a `changed` tool replaces the hash of its
   * existing pin, so the message needs the pins' positions.
   */
  approval: ApprovalSpec;
}

/**
 * A condition message for the tools of a backend, and its prompts and resources when the entries
 * say which list they are pinned in ({@link inList}). With nothing waiting it says how many are
 * approved. Otherwise it names the pending and changed tools and gives one `kubectl patch`
 * command (JSON patch) that pins exactly their current hashes: an `add` for each pending tool
 * (creating `pinned` when it is absent), and for each changed tool a `test` of its pin's name
 * followed by a `replace` of the hash, so the command fails instead of overwriting the wrong pin
 * when the list moved in the meantime. Review the tools before running it: it approves them.
 *
 * When many tools wait, the message lists and patches as many as fit in `maxLength` (the limit
 * of a condition message) and says how many more there are; after they are pinned, the next
 * reconcile's message covers the rest.
 */
export function approvalMessage(states: readonly WaitingEntry[], target: ApprovalMessageTarget, maxLength = MAX_CONDITION_MESSAGE): string {
  const waiting = states.filter((s) => s.state !== 'approved');
  const approved = states.length - waiting.length;
  // Prompts and resources are counted as definitions alongside the tools.
  const noun = states.every((s) => (s.list ?? 'pinned') === 'pinned') ? 'tool' : 'definition';
  if (waiting.length === 0) {
    const how = target.approval.mode === 'auto' ? ' (approval mode auto)' : '';
    return `${count(approved, noun)} discovered, all approved${how}.`;
  }

  const command = `kubectl patch mcpbackends.${GROUP} ${target.name} -n ${target.namespace} --type=json -p `;
  const review = `Review their definitions on the server, then pin their current hashes with:\n`;

  // Grow the covered set one tool at a time while the whole message still fits.
  let best = '';
  const included: WaitingEntry[] = [];
  for (const tool of waiting) {
    const candidate = render([...included, tool]);
    if (candidate.length > maxLength) break;
    included.push(tool);
    best = candidate;
  }
  if (included.length === 0) {
    // Not even one tool fits (only possible with a tiny maxLength): say what waits, without a command.
    return clip(`${count(waiting.length, noun)} of backend ${target.namespace}/${target.name} wait for approval; see status.tools, status.prompts and status.resources.`, maxLength);
  }
  return best;

  function render(covered: readonly WaitingEntry[]): string {
    const label = (s: WaitingEntry) => `${displayName(s.name)}${s.list === 'pinnedPrompts' ? ' (prompt)' : s.list === 'pinnedResources' ? ' (resource)' : ''}`;
    const pending = covered.filter((s) => s.state === 'pending').map(label);
    const changed = covered.filter((s) => s.state === 'changed').map(label);
    const rest = waiting.length - covered.length;
    const lines = [
      `${count(waiting.length, noun)} wait${waiting.length === 1 ? 's' : ''} for approval (${approved} approved).`,
      ...(pending.length > 0 ? [`Pending (not pinned yet): ${pending.join(', ')}.`] : []),
      ...(changed.length > 0 ? [`Changed since pinned (the definition no longer matches its pinned sha256): ${changed.join(', ')}.`] : []),
      ...(rest > 0 ? [`…and ${rest} more, listed in status.tools; they appear here once these are pinned.`] : []),
      `${review}${command}${shellQuote(JSON.stringify(patchOps(covered, target.approval)))}`,
    ];
    return lines.join('\n');
  }
}

/** The JSON patch operations that pin the current hashes of the given entries, each in its own list. */
function patchOps(entries: readonly WaitingEntry[], approval: ApprovalSpec): object[] {
  const lists: PinList[] = ['pinned', 'pinnedPrompts', 'pinnedResources'];
  const ops: object[] = [];
  // Replacements first: they address pins by index, and appends never move existing entries.
  for (const list of lists) {
    const pinned = approval[list] ?? [];
    for (const entry of entries) {
      if ((entry.list ?? 'pinned') !== list || entry.state !== 'changed') continue;
      const index = pinned.findIndex((p) => p.name === entry.name);
      if (index < 0) continue;
      ops.push({ op: 'test', path: `/spec/approval/${list}/${index}/name`, value: entry.name });
      ops.push({ op: 'replace', path: `/spec/approval/${list}/${index}/sha256`, value: entry.sha256 });
    }
  }
  for (const list of lists) {
    const pinned = approval[list] ?? [];
    // A changed entry without a pin at hand (states computed from another spec) is pinned anew.
    const additions = entries.filter((e) => (e.list ?? 'pinned') === list && (e.state === 'pending' || (e.state === 'changed' && !pinned.some((p) => p.name === e.name))));
    if (additions.length === 0) continue;
    // `/<list>/-` needs the list to exist: an absent or empty one is added whole.
    if (pinned.length === 0) ops.push({ op: 'add', path: `/spec/approval/${list}`, value: additions.map(pin) });
    else for (const entry of additions) ops.push({ op: 'add', path: `/spec/approval/${list}/-`, value: pin(entry) });
  }
  return ops;
}

function pin(tool: ToolStatus): { name: string; sha256: string } {
  return { name: tool.name, sha256: tool.sha256 };
}

/** A name as shown in prose: plain when it is a plain identifier, else as a JSON string. */
function displayName(name: string): string {
  return /^[A-Za-z0-9._-]+$/.test(name) ? name : JSON.stringify(name);
}

/** POSIX single-quoting: the only character to escape inside '...' is ' itself. */
function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

function clip(text: string, maxLength: number): string {
  return text.length > maxLength ? `${text.slice(0, Math.max(0, maxLength - 1))}…` : text;
}
