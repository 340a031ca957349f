/**
 * The usage route judged the credentials Secret's seal (an Ed25519 verify and a sha256 per file)
 * on every request of every sidecar. Now once per version of the Secret: an unchanged Secret is
 * not verified again, a patched one (a new resourceVersion) is, and its patched token is refused.
 */
import type { V1Secret } from '@kubernetes/client-node';
import { SEAL_FILE, sealFiles, type SealSubject } from '@airlock/sidecar/seal';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AgentSandbox } from '../api/index.js';
import { newSealKey, sealedByOperator, secretFiles } from '../tls/seal-key.js';
import { startUsageRoute, type RunningRoute } from './route-testing.js';
import { SealedTokens } from './sealed-token.js';
import { newUsageToken, USAGE_TOKEN_FILE } from './token.js';

const key = newSealKey();
const subject: SealSubject = { namespace: 'team-a', sandbox: 'agent' };
const b64 = (text: string) => Buffer.from(text).toString('base64');

/** A credentials Secret as the operator renders it: the token and a config, sealed for `subject`. */
function rendered(token: string, version: string, uid = 'uid-1'): V1Secret {
  const data = { [USAGE_TOKEN_FILE]: b64(token), 'config.yaml': b64('version: 1\n') };
  const seal = b64(sealFiles(subject, secretFiles(data), key.privateKey));
  return { metadata: { namespace: 'team-a', name: 'agent-credentials', uid, resourceVersion: version }, data: { ...data, [SEAL_FILE]: seal } };
}

/** `secret` with its token replaced and the seal left as it was, at a new version. */
function patched(secret: V1Secret, token: string, version: string): V1Secret {
  return { metadata: { ...secret.metadata, resourceVersion: version }, data: { ...secret.data, [USAGE_TOKEN_FILE]: b64(token) } };
}

let verifications = 0;
let tokens: SealedTokens;
let live: V1Secret | undefined;
let route: RunningRoute;

beforeAll(async () => {
  route = await startUsageRoute({
    sandbox: () => ({ status: {} }) as unknown as AgentSandbox,
    token: (namespace, sandbox) => tokens.tokenOf(live, { namespace, sandbox }),
  });
});

afterAll(() => route.close());

beforeEach(() => {
  verifications = 0;
  tokens = new SealedTokens((secret, sealedFor) => {
    verifications++;
    return sealedByOperator(secret, sealedFor, key) !== undefined;
  });
});

const status = async (token: string) => (await fetch(`${route.base}/usage/team-a/agent`, { headers: { authorization: `Bearer ${token}` } })).status;

/**
 * A rendered Secret whose token is answered, then `change` of it holding a forged token, which is
 * refused. Returns the rendered token.
 */
async function servedThenChanged(change: (secret: V1Secret, forged: string) => V1Secret): Promise<string> {
  const token = newUsageToken();
  live = rendered(token, '100');
  expect(await status(token)).toBe(200);
  const forged = newUsageToken();
  live = change(live, forged);
  expect(await status(forged)).toBe(401);
  return token;
}

describe('the usage route judging the credentials Secret', () => {
  it('verifies an unchanged Secret once, however many rounds ask', async () => {
    const token = newUsageToken();
    live = rendered(token, '100');
    for (let round = 0; round < 5; round++) expect(await status(token)).toBe(200);
    expect(await status(newUsageToken())).toBe(401);
    expect(verifications).toBe(1);
  });

  it('judges a patched Secret again and refuses its patched token, then the re-sealed one again', async () => {
    const token = await servedThenChanged((secret, forged) => patched(secret, forged, '101'));
    expect(await status(token)).toBe(401);
    expect(verifications).toBe(2);
    const next = newUsageToken();
    live = rendered(next, '102');
    expect(await status(next)).toBe(200);
    expect(verifications).toBe(3);
  });

  it('judges a Secret made again under the same name (a new uid) again, whatever its version', async () => {
    await servedThenChanged((secret, forged) => ({ ...patched(secret, forged, '100'), metadata: { ...secret.metadata, uid: 'uid-2' } }));
    expect(verifications).toBe(2);
  });

  it('holds one verdict per Secret, replaced as versions come and dropped when the Secret goes', async () => {
    for (let version = 100; version < 110; version++) {
      live = rendered(newUsageToken(), String(version));
      expect(await status(newUsageToken())).toBe(401);
    }
    expect(tokens.size).toBe(1);
    tokens.forget(live!);
    expect(tokens.size).toBe(0);
    live = undefined;
    expect(await status(newUsageToken())).toBe(401);
    expect(tokens.size).toBe(0);
  });
});
