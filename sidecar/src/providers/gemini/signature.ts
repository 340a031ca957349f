/**
 * Gemini thought signatures, kept beside tool call ids rather than inside them.
 *
 * Gemini 3 returns an opaque `thoughtSignature` (about 90 characters) with its function calls and
 * refuses (400) a later request whose history lacks it. OpenAI-shaped clients keep tool call ids
 * verbatim but drop fields they do not know, so the sidecar remembers each signature by the id it
 * made for the call (ids are unique per sidecar process) and restores it when the history comes
 * back. Ids stay short (`call_<call id>_<n>`, under OpenAI's 40-character limit), so the same
 * conversation can move on to any provider.
 *
 * The memory is bounded (the oldest entries go first) and dies with the process; a call whose
 * signature is unknown — forgotten, history from another provider, or rebuilt by the client — gets
 * Google's documented sentinel that skips the check, on models that enforce it. Ids made by older
 * sidecars carried the signature after `__sig_`; those are still read.
 */
import type { GenerateContentRequest } from '../../wire/gemini.js';
import { isSidecarSignature } from '../../wire/responses.js';

const LEGACY_MARKER = '__sig_';

/** Google's documented value for a function call whose signature is unknown. */
export const SKIP_SIGNATURE = 'skip_thought_signature_validator';

/** Signatures kept at most: a few MiB at ~200 bytes each, far more than any conversation in flight needs. */
export const MAX_SIGNATURES = 20_000;

const signatures = new Map<string, string>();

/** Remembers the signature of the call with this id (when there is one) and returns the id unchanged. */
export function idWithSignature(id: string, signature: string | undefined): string {
  if (!signature) return id;
  signatures.delete(id);
  signatures.set(id, signature);
  if (signatures.size > MAX_SIGNATURES) signatures.delete(signatures.keys().next().value!);
  return id;
}

/** The signature of the call with this id, if the sidecar still knows it. */
export function signatureFromId(id: string): string | undefined {
  const known = signatures.get(id);
  if (known !== undefined) return known;
  const at = id.indexOf(LEGACY_MARKER);
  if (at < 0) return undefined;
  const encoded = id.slice(at + LEGACY_MARKER.length).replaceAll('-', '+').replaceAll('_', '/');
  return encoded + '='.repeat((4 - (encoded.length % 4)) % 4);
}

/** Whether a model validates signatures: Gemini 3 and later, not 1.x/2.x nor other model families. */
export function enforcesSignatures(model: string): boolean {
  const name = model.startsWith('models/') ? model.slice(7) : model;
  return /^gemini-/.test(name) && !/^gemini-[12][.-]/.test(name);
}

/**
 * A Gemini request as a Gemini model may take it, or undefined when it already does:
 * - a thought signature the sidecar made from Claude's thinking (wire/responses.ts) is taken out
 *   of every part: Gemini would refuse it as corrupted;
 * - on a model that enforces signatures (`enforces`), each function call of the current turn (from
 *   the last user content with text) that leads its model turn without a signature gets the
 *   sentinel: a tool loop another provider served (a failover, a model switch), or a client that
 *   dropped them, which Gemini refuses (400).
 * The request is not changed; the contents are copied where they change.
 */
export function withSignaturesMended(request: GenerateContentRequest, enforces: boolean): GenerateContentRequest | undefined {
  const { contents } = request;
  const start = contents.findLastIndex((c) => (c.role ?? 'user') === 'user' && c.parts.some((p) => typeof p.text === 'string'));
  let changed = false;
  const mended = contents.map((content, i) => {
    let parts = content.parts;
    if (parts.some((p) => p.thoughtSignature && isSidecarSignature(p.thoughtSignature))) {
      parts = parts.map((p) => {
        if (!p.thoughtSignature || !isSidecarSignature(p.thoughtSignature)) return p;
        const { thoughtSignature: _sidecar, ...rest } = p;
        return rest;
      });
    }
    if (enforces && i > start && content.role === 'model') {
      const first = parts.findIndex((p) => p.functionCall);
      if (first >= 0 && !parts[first]!.thoughtSignature) parts = parts.map((p, j) => (j === first ? { ...p, thoughtSignature: SKIP_SIGNATURE } : p));
    }
    if (parts === content.parts) return content;
    changed = true;
    return { ...content, parts };
  });
  return changed ? { ...request, contents: mended } : undefined;
}
