/**
 * What `kubectl get asbx` shows of a sandbox, against a real API server: PROVIDERS and BACKENDS
 * as ready/named, not the spec's JSON arrays.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { agentSandbox, conditionOf, documents, mcpBackend, operatorForNamespace, providerFixture } from './fixtures.js';
import { kubectl } from './kubectl.js';
import { freePort, type TestOperator } from './operator-harness.js';

let ns: string;
let test: TestOperator;

beforeAll(async () => {
  ({ ns, test } = await operatorForNamespace('sandbox-get'));
  await kubectl().ok(['apply', '-n', ns, '-f', '-'], providerFixture({ name: 'openai', type: 'openai', models: ['gpt-4o'], key: { secret: 'openai-keys', key: 'api-key', value: 'sk-get-test' } }));
});

afterAll(async () => {
  await test?.operator.stop();
});

/** `kubectl get asbx <name>` as a user reads it: the header's columns and the row's cells. */
async function row(name: string): Promise<Record<string, string>> {
  const [header, line] = (await kubectl().ok(['get', 'asbx', name, '-n', ns])).trim().split('\n');
  // Columns are padded to the widest cell; cells hold no spaces here.
  const names = header!.split(/\s+/);
  const cells = line!.split(/\s+/);
  return Object.fromEntries(names.map((n, i) => [n, cells[i]!]));
}

it('shows PROVIDERS and BACKENDS as ready of named, counting a provider not found and a backend not Ready out', async () => {
  const dead = await freePort();
  await kubectl().ok(['apply', '-n', ns, '-f', '-'], documents(mcpBackend({ name: 'tools', url: `http://127.0.0.1:${dead}/mcp` }), agentSandbox('counted', ['openai', 'absent'], { mcpBackends: ['tools'] })));
  await expect.poll(() => conditionOf(ns, 'mcpb', 'tools', 'Ready'), { timeout: 15_000 }).toMatchObject({ status: 'False' });
  await expect.poll(() => row('counted'), { timeout: 15_000 }).toMatchObject({ READY: 'False', PROVIDERS: '1/2', BACKENDS: '0/1' });

  // The missing provider made: counted in once it is there.
  await kubectl().ok(['apply', '-n', ns, '-f', '-'], providerFixture({ name: 'absent', type: 'openai', models: ['gpt-4o'], key: { secret: 'openai-keys', key: 'api-key' } }));
  await expect.poll(() => row('counted'), { timeout: 15_000 }).toMatchObject({ PROVIDERS: '2/2', BACKENDS: '0/1' });
});
