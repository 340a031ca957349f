/**
 * Gemini thought signatures ride inside tool call ids.
 *
 * Gemini 3 returns an opaque `thoughtSignature` with its function calls and refuses (400) a later
 * request whose history lacks it. OpenAI-shaped clients keep tool call ids verbatim but drop
 * fields they do not know, so the signature is appended to the id (base64url, which every
 * provider's id alphabet accepts) and restored when the history comes back. A call without one —
 * history from another provider, or rebuilt by the client — gets Google's documented sentinel
 * that skips the check, on models that enforce it.
 */

const MARKER = '__sig_';

/** Google's documented value for a function call whose signature is unknown. */
export const SKIP_SIGNATURE = 'skip_thought_signature_validator';

/** A tool call id carrying the signature, if there is one. */
export function idWithSignature(id: string, signature: string | undefined): string {
  if (!signature) return id;
  return `${id}${MARKER}${signature.replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '')}`;
}

/** The signature carried by a tool call id, if any. */
export function signatureFromId(id: string): string | undefined {
  const at = id.indexOf(MARKER);
  if (at < 0) return undefined;
  const encoded = id.slice(at + MARKER.length).replaceAll('-', '+').replaceAll('_', '/');
  return encoded + '='.repeat((4 - (encoded.length % 4)) % 4);
}

/** Whether a model validates signatures: Gemini 3 and later, not 1.x/2.x nor other model families. */
export function enforcesSignatures(model: string): boolean {
  const name = model.startsWith('models/') ? model.slice(7) : model;
  return /^gemini-/.test(name) && !/^gemini-[12][.-]/.test(name);
}
