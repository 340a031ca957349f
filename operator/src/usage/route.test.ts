/**
 * The usage route answers a sandbox's totals only to the sandbox's own sidecars (its usage token):
 * before, any pod that reached the operator's health port read any tenant's spend and model names.
 */
import { utcDay } from '@airlock/sidecar/usage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentSandbox, SandboxUsageStatus } from '../api/index.js';
import { startUsageRoute, type RunningRoute } from './route-testing.js';
import { bearerMatches, newUsageToken } from './token.js';

const tokens: Record<string, string> = { 'team-a/agent': newUsageToken(), 'team-b/agent': newUsageToken(), 'team-b/orphan': newUsageToken() };
const usage = (): SandboxUsageStatus =>
  ({ day: utcDay(Date.now()), requests: 3, inputTokens: 30, outputTokens: 9, spentUSD: 0.25, byModel: [{ model: 'secret-model-name', requests: 3, inputTokens: 30, outputTokens: 9, spentUSD: 0.25 }], podCount: 2 }) as unknown as SandboxUsageStatus;
// team-b/orphan has a credentials Secret but no sandbox in the cache (deleted a moment ago).
const sandboxes = new Set(['team-a/agent', 'team-b/agent']);
let route: RunningRoute;
let base: string;

beforeAll(async () => {
  route = await startUsageRoute({
    sandbox: (namespace, name) => (sandboxes.has(`${namespace}/${name}`) ? ({ status: { usage: usage() } } as unknown as AgentSandbox) : undefined),
    token: (namespace, name) => tokens[`${namespace}/${name}`],
    sharing: (namespace, name) => (`${namespace}/${name}` === 'team-a/agent' ? 5 : 1),
  });
  base = route.base;
});

afterAll(() => route.close());

const get = async (path: string, token?: string, scheme = 'Bearer') => {
  const response = await fetch(`${base}${path}`, token === undefined ? {} : { headers: { authorization: `${scheme} ${token}` } });
  return { status: response.status, type: response.headers.get('content-type'), text: await response.text() };
};

describe('GET /usage/<namespace>/<name>', () => {
  it('tells the pods that share now when more started since the last round counted (ver18: a burst of new pods each took a share of the old count)', async () => {
    // The last round counted 2; 5 share now.
    expect(JSON.parse((await get('/usage/team-a/agent?instance=i-1', tokens['team-a/agent'])).text)).toMatchObject({ pods: 5 });
  });

  it("answers the sandbox's totals to a caller with its token", async () => {
    const answer = await get('/usage/team-b/agent?instance=i-1', tokens['team-b/agent']);
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.text)).toMatchObject({ pods: 2, total: { spentUSD: 0.25, requests: 3 } });
    expect((await get('/usage/team-b/agent', tokens['team-b/agent'], 'bearer')).status).toBe(200);
  });

  it("refuses, in the route's JSON error shape, a caller without a token, with a wrong one, or with another sandbox's", async () => {
    for (const token of [undefined, '', newUsageToken(), tokens['team-a/agent'], `${tokens['team-b/agent']}x`, tokens['team-b/agent']!.slice(0, -1)]) {
      const answer = await get('/usage/team-b/agent', token);
      expect(answer.status, `token ${String(token)}`).toBe(401);
      expect(answer.type).toBe('application/json; charset=utf-8');
      expect(JSON.parse(answer.text)).toEqual({ error: expect.stringContaining('usage token of AgentSandbox team-b/agent') });
      expect(answer.text).not.toContain('secret-model-name');
    }
    // The right token in another scheme is not a bearer token.
    expect((await get('/usage/team-b/agent', tokens['team-b/agent'], 'Basic')).status).toBe(401);
  });

  it('answers a caller without the token alike whether or not the sandbox exists, and never echoes a token', async () => {
    const stranger = newUsageToken();
    const missing = await get('/usage/team-c/nothing', stranger);
    const existing = await get('/usage/team-b/agent', stranger);
    expect([missing.status, existing.status]).toEqual([401, 401]);
    expect(missing.text.replace('team-c/nothing', 'team-b/agent')).toBe(existing.text);
    expect((await get('/usage/team-c/nothing')).status).toBe(401);
    const wrong = await get('/usage/team-b/agent', tokens['team-a/agent']);
    for (const token of [stranger, ...Object.values(tokens)]) expect(missing.text + existing.text + wrong.text).not.toContain(token);
  });

  it('says 404 only to a caller holding the token of a sandbox the cache no longer has', async () => {
    expect((await get('/usage/team-b/orphan', tokens['team-b/orphan'])).status).toBe(404);
  });
});

describe('bearerMatches', () => {
  it('matches only the exact token', () => {
    const token = newUsageToken();
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(bearerMatches(`Bearer ${token}`, token)).toBe(true);
    expect(bearerMatches(`Bearer ${token}`, undefined)).toBe(false);
    expect(bearerMatches(undefined, token)).toBe(false);
    expect(bearerMatches(token, token)).toBe(false);
    expect(bearerMatches(`Bearer ${token} extra`, token)).toBe(false);
  });
});
