/**
 * The per-sandbox usage token (ADR 0014): a random value in the sandbox's credentials Secret,
 * which its sidecars send when they ask `GET /usage/<namespace>/<name>` and which the route
 * compares with the one in its informer cache. Without it any pod that reaches the operator's
 * health port could read any sandbox's spend and model names.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { V1Secret } from '@kubernetes/client-node';

/** The key of the token in the credentials Secret (a file beside the provider keys in the sidecar). */
export const USAGE_TOKEN_FILE = 'usage.token';

/** 32 random bytes as base64url: 43 characters. */
const TOKEN = /^[A-Za-z0-9_-]{43}$/;

/** The token held in a rendered credentials Secret, or undefined when it holds none (rendered before tokens existed) or a malformed one. */
export function usageTokenOf(secret: V1Secret | undefined): string | undefined {
  const data = secret?.data?.[USAGE_TOKEN_FILE];
  if (data === undefined) return undefined;
  const token = Buffer.from(data, 'base64').toString('utf8');
  return TOKEN.test(token) ? token : undefined;
}

/** A new random token. */
export function newUsageToken(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * Whether an `authorization` header carries `expected` as a bearer token. Compared in constant
 * time (over digests, so the lengths do not leak either); false when either is missing.
 */
export function bearerMatches(header: string | undefined, expected: string | undefined): boolean {
  const match = /^Bearer +(\S+) *$/i.exec(header ?? '');
  if (!match || expected === undefined) return false;
  const digest = (text: string) => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(match[1]!), digest(expected));
}
