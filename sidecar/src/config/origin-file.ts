/**
 * A secret file the operator bound to a destination: next to it, in the same Secret, the origin
 * it accepted the value for (`<file>.origin`). A value is sent only when its recorded origin is
 * the destination's (ADR 0016): whether a file is bound is said by the Secret (the origin file is
 * there), not only by the config (`requireOrigin`), so a config edited by someone who may not
 * read the Secret cannot unbind a key by dropping the flag (ADR 29).
 */
import { basename } from 'node:path';
import { readText, realpathAsync } from '../fs-async.js';
import { KEY_ORIGIN_SUFFIX } from './schema.js';
import { sealChecker } from './seal.js';

/** A secret file's text, and the origin recorded next to it. */
export interface BoundFile {
  text: string;
  /** Whether an origin file is there: the value is for that origin only. */
  bound: boolean;
  /** The recorded origin (undefined: none, or not a URL, which no destination matches). */
  origin: string | undefined;
}

/**
 * Reads a secret file and its origin file. Both are read through the file's resolved path (the
 * kubelet's timestamped directory, never changed once written), so a volume swap between the two
 * reads cannot pair one version's value with another's origin. Errors reading the value itself
 * are thrown (with their errno code); a missing origin file leaves the value unbound.
 *
 * Where seals are required (ADR 30), both files are used only as the operator sealed them (a
 * {@link SealError} otherwise), and whether the value is bound is the seal's to say: an origin
 * file the seal names must be there, so removing it from the Secret unbinds nothing.
 */
export async function readBoundFile(file: string): Promise<BoundFile> {
  const resolved = await realpathAsync(file);
  const originFile = `${resolved}${KEY_ORIGIN_SUFFIX}`;
  const seal = sealChecker();
  let text: string;
  let recorded: string | undefined;
  if (seal) {
    text = (await seal.read(resolved)).toString('utf8');
    recorded = (await seal.names(resolved, basename(originFile))) ? (await seal.read(originFile)).toString('utf8').trim() : undefined;
  } else {
    text = await readText(resolved);
    recorded = await readText(originFile).then(
      (t) => t.trim(),
      () => undefined,
    );
  }
  if (recorded === undefined) return { text, bound: false, origin: undefined };
  return { text, bound: true, origin: URL.canParse(recorded) ? new URL(recorded).origin : undefined };
}

/**
 * Whether a value read with {@link readBoundFile} may go to `destination` (an origin; undefined:
 * a destination without one, such as a stdio server's environment): an unbound value may unless
 * its entry `requireOrigin`s, a bound one only to its recorded origin.
 */
export function sendableTo(file: BoundFile, requireOrigin: boolean, destination: string | undefined): boolean {
  if (!file.bound && !requireOrigin) return true;
  return destination !== undefined && file.origin === destination;
}
