/**
 * Call ids without random bytes per request: a random prefix drawn once per process and a
 * counter. Ids stay unique across the turns of a conversation and across sidecar restarts (the
 * prefix), which is all they are for (tool call ids are derived from them).
 */
import { randomBytes } from 'node:crypto';

const PREFIX = randomBytes(9).toString('base64url').replace(/[^A-Za-z0-9]/g, 'x');
let counter = 0;

/** A fresh call id such as `chatcmpl-<prefix><counter>`. */
export function callId(kind: string): string {
  const label = kind === 'embeddings' ? 'emb' : kind === 'completions' ? 'cmpl' : 'chatcmpl';
  counter = (counter + 1) % Number.MAX_SAFE_INTEGER;
  return `${label}-${PREFIX}${counter.toString(36)}`;
}
