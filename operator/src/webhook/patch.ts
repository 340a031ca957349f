/**
 * The admission response carries the mutation as an RFC 6902 JSON patch. It is computed by
 * diffing the pod the API server sent with the injected pod, so injection itself stays a plain
 * object transformation and the patch can never disagree with it.
 */
import type { V1Pod } from '@kubernetes/client-node';
// fast-json-patch is CommonJS; Node's ESM loader only sees its default export reliably.
import jsonPatch, { type Operation } from 'fast-json-patch';

/** One RFC 6902 operation. */
export type PatchOperation = Operation;

/**
 * The JSON patch turning `original` into `mutated`. Path segments are escaped per RFC 6901, so
 * an annotation key such as `airlock.dev/injected` becomes `airlock.dev~1injected`. Both
 * objects go through JSON first: the API server applies the patch to the JSON it sent, and
 * `undefined` members must not turn into operations.
 */
export function podPatch(original: V1Pod, mutated: V1Pod): PatchOperation[] {
  return jsonPatch.compare(toJSON(original), toJSON(mutated));
}

/** Applies a patch to a copy of `document`, validating every operation; for tests and tooling. */
export function applyPodPatch(document: V1Pod, patch: readonly PatchOperation[]): V1Pod {
  return jsonPatch.applyPatch(toJSON(document), [...patch], true, false).newDocument;
}

const toJSON = (value: V1Pod): V1Pod => JSON.parse(JSON.stringify(value)) as V1Pod;
