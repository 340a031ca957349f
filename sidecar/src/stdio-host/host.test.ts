import { DEFAULT_INHERITED_ENV_VARS, getDefaultEnvironment } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { inheritedEnvironment } from './host.js';

describe('the environment a stdio server inherits from the host', () => {
  afterEach(() => vi.unstubAllEnvs());

  it("is the MCP SDK's default environment, which the host no longer imports", () => {
    // A shell-function value is skipped by both; a secret-looking variable reaches neither.
    vi.stubEnv('HOME', '/tmp');
    vi.stubEnv('SHELL', '() { :; }; echo pwned');
    vi.stubEnv('AIRLOCK_TEST_SECRET', 'sk-not-inherited');
    vi.stubEnv('LOGNAME', undefined);
    expect(inheritedEnvironment()).toEqual(getDefaultEnvironment());
    expect(Object.keys(inheritedEnvironment()).every((key) => DEFAULT_INHERITED_ENV_VARS.includes(key))).toBe(true);
    expect(inheritedEnvironment()).not.toHaveProperty('AIRLOCK_TEST_SECRET');
    expect(inheritedEnvironment()).not.toHaveProperty('SHELL');
    expect(inheritedEnvironment().HOME).toBe('/tmp');
  });

  it('inherits the same variable names as the SDK', () => {
    const all = Object.fromEntries(DEFAULT_INHERITED_ENV_VARS.map((key) => [key, `v-${key}`]));
    expect(inheritedEnvironment(all)).toEqual(all);
  });
});
