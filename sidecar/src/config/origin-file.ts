/**
 * A secret file the operator bound to a destination: next to it, in the same Secret, the origin
 * it accepted the value for (`<file>.origin`). The config naming the destination comes from
 * another volume, which the kubelet swaps at another moment, so a value is sent only when its
 * recorded origin is the destination's (ADR 0016).
 */
import { readText, realpathAsync } from '../fs-async.js';
import { KEY_ORIGIN_SUFFIX } from './schema.js';

/** A secret file's text, and with `requireOrigin` the origin recorded next to it (undefined: none, or not a URL). */
export interface BoundFile {
  text: string;
  origin: string | undefined;
}

/**
 * Reads a secret file and, with `requireOrigin`, its origin file. Both are read through the file's
 * resolved path (the kubelet's timestamped directory, never changed once written), so a volume
 * swap between the two reads cannot pair one version's value with another's origin. Errors
 * reading the value itself are thrown (with their errno code); a missing origin file is `undefined`.
 */
export async function readBoundFile(file: string, requireOrigin: boolean): Promise<BoundFile> {
  const resolved = await realpathAsync(file);
  const text = await readText(resolved);
  if (!requireOrigin) return { text, origin: undefined };
  const recorded = await readText(`${resolved}${KEY_ORIGIN_SUFFIX}`).then(
    (t) => t.trim(),
    () => '',
  );
  return { text, origin: URL.canParse(recorded) ? new URL(recorded).origin : undefined };
}
