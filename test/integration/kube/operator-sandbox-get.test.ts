/**
 * What `kubectl get asbx` and `kubectl get events` show of a sandbox, against a real API server:
 * PROVIDERS and BACKENDS as ready/named (not the spec's JSON arrays), and one ConfigRendered
 * Event per config rendered, not one per reconcile that ran before the cache showed its status;
 * and PodSecurityAllowed following its namespace's enforce label, with the operator watching that
 * one namespace (the Namespace read by name).
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

const events = async (name: string, reason: string): Promise<string[]> => {
  const list = JSON.parse(await kubectl().ok(['get', 'events', '-n', ns, '--field-selector', `involvedObject.name=${name},reason=${reason}`, '-o', 'json'])) as { items: { message: string }[] };
  return list.items.map((e) => e.message);
};

it('shows PROVIDERS and BACKENDS as ready of named, counting a provider not found and a backend not Ready out', async () => {
  const dead = await freePort();
  await kubectl().ok(['apply', '-n', ns, '-f', '-'], documents(mcpBackend({ name: 'tools', url: `http://127.0.0.1:${dead}/mcp` }), agentSandbox('counted', ['openai', 'absent'], { mcpBackends: ['tools'] })));
  await expect.poll(() => conditionOf(ns, 'mcpb', 'tools', 'Ready'), { timeout: 15_000 }).toMatchObject({ status: 'False' });
  await expect.poll(() => row('counted'), { timeout: 15_000 }).toMatchObject({ READY: 'False', PROVIDERS: '1/2', BACKENDS: '0/1' });

  // The missing provider made: counted in once it is there.
  await kubectl().ok(['apply', '-n', ns, '-f', '-'], providerFixture({ name: 'absent', type: 'openai', models: ['gpt-4o'], key: { secret: 'openai-keys', key: 'api-key' } }));
  await expect.poll(() => row('counted'), { timeout: 15_000 }).toMatchObject({ PROVIDERS: '2/2', BACKENDS: '0/1' });
});

it('records one ConfigRendered Event for a sandbox created, and one more for each change of its config only', async () => {
  await kubectl().ok(['apply', '-n', ns, '-f', '-'], documents(agentSandbox('quiet', ['openai'])));
  await expect.poll(() => conditionOf(ns, 'asbx', 'quiet', 'Ready'), { timeout: 15_000 }).toMatchObject({ status: 'True' });
  expect(await row('quiet')).toMatchObject({ READY: 'True', PROVIDERS: '1/1', BACKENDS: '0/0' });
  const first = JSON.parse(await kubectl().ok(['get', 'asbx', 'quiet', '-n', ns, '-o', 'json'])).status.configHash as string;

  // A change that renders the same config (a label), then one that renders another (a model filter):
  // once the second is in the status, the reconcile of the first has run too.
  await kubectl().ok(['label', 'asbx', 'quiet', '-n', ns, 'team=blue']);
  await kubectl().ok(['patch', 'asbx', 'quiet', '-n', ns, '--type=merge', '-p', JSON.stringify({ spec: { models: { allow: ['gpt-*'] } } })]);
  await expect.poll(async () => JSON.parse(await kubectl().ok(['get', 'asbx', 'quiet', '-n', ns, '-o', 'json'])).status.configHash, { timeout: 15_000 }).not.toBe(first);
  await test.operator.idle();

  const rendered = await events('quiet', 'ConfigRendered');
  expect(rendered).toHaveLength(2);
  expect(rendered.some((m) => m.startsWith(`sidecar config ${first.slice(0, 12)} `))).toBe(true);
  // Ready became True once, and stayed so through both changes.
  expect(await events('quiet', 'Ready')).toHaveLength(1);
});

it("says when its namespace's Pod Security level refuses its pods, and follows the label", async () => {
  await kubectl().ok(['apply', '-n', ns, '-f', '-'], documents(agentSandbox('guarded', ['openai'])));
  await expect.poll(() => conditionOf(ns, 'asbx', 'guarded', 'Ready'), { timeout: 15_000 }).toMatchObject({ status: 'True' });
  expect(await conditionOf(ns, 'asbx', 'guarded', 'PodSecurityAllowed')).toBeUndefined();

  await kubectl().ok(['label', 'namespace', ns, 'pod-security.kubernetes.io/enforce=baseline']);
  await expect.poll(() => conditionOf(ns, 'asbx', 'guarded', 'PodSecurityAllowed'), { timeout: 15_000 }).toMatchObject({ status: 'False', reason: 'FirewallRefused' });
  expect(await row('guarded')).toMatchObject({ READY: 'False' });
  expect(await conditionOf(ns, 'asbx', 'guarded', 'Ready')).toMatchObject({ status: 'False', reason: 'FirewallRefused', message: expect.stringContaining(`namespace ${ns} enforces Pod Security baseline`) });

  await kubectl().ok(['label', 'namespace', ns, 'pod-security.kubernetes.io/enforce=privileged', '--overwrite']);
  await expect.poll(() => conditionOf(ns, 'asbx', 'guarded', 'Ready'), { timeout: 15_000 }).toMatchObject({ status: 'True' });
  expect(await conditionOf(ns, 'asbx', 'guarded', 'PodSecurityAllowed')).toBeUndefined();
  // Said once, by the Ready Event, when it started.
  expect(await events('guarded', 'FirewallRefused')).toHaveLength(1);
});
