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
