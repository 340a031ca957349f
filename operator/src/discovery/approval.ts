/**
 * Tool approval as the MCPBackend status reports it: each discovered tool's hash and state, and a
 * condition message that tells a human exactly how to approve what is waiting. Pure functions:
 * the same rule ({@link approvalState}) and the same hash ({@link toolHash}) as the sidecar, so
 * what the status calls approved is what the sidecar exposes.
 */
import { approvalState, toolHash, type HashableTool } from '@airlock/sidecar/pinning';
import { GROUP } from '../api/common.js';
import type { MCPBackendStatus } from '../api/mcp-backend.js';

/** One entry of `status.tools` (the API exports the schema; this is its type). */
type ToolStatus = NonNullable<MCPBackendStatus['tools']>[number];

/** The approval settings of a backend (`spec.approval`). */
export interface ApprovalSpec {
  mode: 'auto' | 'pinned';
  pinned?: readonly { name: string; sha256: string }[] | undefined;
}

/** Longest condition message the API server accepts (metav1.Condition.message). */
export const MAX_CONDITION_MESSAGE = 32_768;

/** Longest tool name a status entry or a pin can hold (ToolStatus.name, PinnedTool.name). */
const MAX_TOOL_NAME = 128;

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
export function toolStates(tools: readonly HashableTool[], approval: ApprovalSpec): ToolStatus[] {
  const policy = { mode: approval.mode, pinned: approval.pinned ?? [] };
  const seen = new Set<string>();
  const states: ToolStatus[] = [];
  for (const tool of tools) {
    if (seen.has(tool.name) || tool.name.length === 0 || tool.name.length > MAX_TOOL_NAME) continue;
    seen.add(tool.name);
    const sha256 = toolHash(tool);
    states.push({ name: tool.name, sha256, state: approvalState(policy, tool.name, sha256) });
  }
  return states.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
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
 * A condition message for the tools of a backend. With nothing waiting it says how many tools are
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
export function approvalMessage(states: readonly ToolStatus[], target: ApprovalMessageTarget, maxLength = MAX_CONDITION_MESSAGE): string {
  const waiting = states.filter((s) => s.state !== 'approved');
  const approved = states.length - waiting.length;
  if (waiting.length === 0) {
    const how = target.approval.mode === 'auto' ? ' (approval mode auto)' : '';
    return `${count(approved, 'tool')} discovered, all approved${how}.`;
  }

  const pinned = target.approval.pinned ?? [];
  const command = `kubectl patch mcpbackends.${GROUP} ${target.name} -n ${target.namespace} --type=json -p `;
  const review = `Review their definitions on the server, then pin their current hashes with:\n`;

  // Grow the covered set one tool at a time while the whole message still fits.
  let best = '';
  const included: ToolStatus[] = [];
  for (const tool of waiting) {
    const candidate = render([...included, tool]);
    if (candidate.length > maxLength) break;
    included.push(tool);
    best = candidate;
  }
  if (included.length === 0) {
    // Not even one tool fits (only possible with a tiny maxLength): say what waits, without a command.
    return clip(`${count(waiting.length, 'tool')} of backend ${target.namespace}/${target.name} wait for approval; see status.tools.`, maxLength);
  }
  return best;

  function render(covered: readonly ToolStatus[]): string {
    const pending = covered.filter((s) => s.state === 'pending').map((s) => displayName(s.name));
    const changed = covered.filter((s) => s.state === 'changed').map((s) => displayName(s.name));
    const rest = waiting.length - covered.length;
    const lines = [
      `${count(waiting.length, 'tool')} wait${waiting.length === 1 ? 's' : ''} for approval (${approved} approved).`,
      ...(pending.length > 0 ? [`Pending (not pinned yet): ${pending.join(', ')}.`] : []),
      ...(changed.length > 0 ? [`Changed since pinned (the definition no longer matches its pinned sha256): ${changed.join(', ')}.`] : []),
      ...(rest > 0 ? [`…and ${rest} more, listed in status.tools; they appear here once these are pinned.`] : []),
      `${review}${command}${shellQuote(JSON.stringify(patchOps(covered, pinned)))}`,
    ];
    return lines.join('\n');
  }
}

/** The JSON patch operations that pin the current hashes of the given tools. */
function patchOps(tools: readonly ToolStatus[], pinned: readonly { name: string; sha256: string }[]): object[] {
  const ops: object[] = [];
  // Replacements first: they address pins by index, and appends never move existing entries.
  for (const tool of tools) {
    if (tool.state !== 'changed') continue;
    const index = pinned.findIndex((p) => p.name === tool.name);
    if (index < 0) continue;
    ops.push({ op: 'test', path: `/spec/approval/pinned/${index}/name`, value: tool.name });
    ops.push({ op: 'replace', path: `/spec/approval/pinned/${index}/sha256`, value: tool.sha256 });
  }
  // A changed tool without a pin at hand (states computed from another spec) is pinned anew.
  const additions = tools.filter((t) => t.state === 'pending' || (t.state === 'changed' && !pinned.some((p) => p.name === t.name)));
  if (pinned.length === 0 && additions.length > 0) {
    // `/pinned/-` needs the list to exist; mode pinned requires pins, so this is a defensive path.
    ops.push({ op: 'add', path: '/spec/approval/pinned', value: additions.map(pin) });
  } else {
    for (const tool of additions) ops.push({ op: 'add', path: '/spec/approval/pinned/-', value: pin(tool) });
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
