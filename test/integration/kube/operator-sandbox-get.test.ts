/**
 * What `kubectl get asbx` and `kubectl get events` show of a sandbox, against a real API server:
 * PROVIDERS and BACKENDS as ready/named (not the spec's JSON arrays), and one ConfigRendered
 * Event per config rendered, also when the status write that follows the render is refused and
 * retried (the Event was recorded before it, once per attempt);
 * and PodSecurityAllowed following its namespace's enforce label, with the operator watching that
 * one namespace (the Namespace read by name).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { agentSandbox, conditionOf, documents, mcpBackend, operatorForNamespace, providerFixture } from './fixtures.js';
import { kubectl } from './kubectl.js';
import { freePort, type TestOperator } from './operator-harness.js';

let ns: string;
let opNs: string;
let test: TestOperator;

beforeAll(async () => {
  ({ ns, opNs, test } = await operatorForNamespace('sandbox-get'));
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
  // Not shown here: a second Event from a reconcile that starts before the watch brings the status
  // back (the fix's other half). Against this API server the status came back first every time,
  // even with 30 sandboxes at once; operator/src/controllers/agent-sandbox.test.ts drives that race.
});

/** The label that has a sandbox's status writes refused by the policy below. */
const HOLD = 'airlock.test/hold-status';

/** An AgentSandbox labelled {@link HOLD}. */
function heldSandbox(name: string): object {
  const sandbox = agentSandbox(name, ['openai']) as { metadata: Record<string, unknown> };
  sandbox.metadata.labels = { [HOLD]: 'true' };
  return sandbox;
}

/**
 * A ValidatingAdmissionPolicy that refuses status writes of sandboxes labelled {@link HOLD} in this
 * file's namespaces, in force once a status write of a labelled probe in the operator's own
 * namespace (which it does not watch) is refused; removed afterwards.
 */
async function holdStatusWrites(): Promise<() => Promise<void>> {
  const name = `hold-status-${ns}`;
  const policy = {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicy',
    metadata: { name },
    spec: {
      failurePolicy: 'Fail',
      matchConstraints: { resourceRules: [{ apiGroups: ['airlock.dev'], apiVersions: ['*'], operations: ['UPDATE'], resources: ['agentsandboxes/status'] }] },
      validations: [{ expression: `!has(object.metadata.labels) || !('${HOLD}' in object.metadata.labels)`, message: 'status writes held by the test' }],
    },
  };
  const binding = {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicyBinding',
    metadata: { name },
    spec: { policyName: name, validationActions: ['Deny'], matchResources: { namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: [ns, opNs] }] } } },
  };
  await kubectl().ok(['apply', '-f', '-'], documents(policy, binding));
  await kubectl().ok(['apply', '-n', opNs, '-f', '-'], documents(heldSandbox('probe')));
  const write = ['patch', 'asbx', 'probe', '-n', opNs, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { configHash: 'probe' } })];
  await expect.poll(async () => (await kubectl().run(write)).stderr, { timeout: 30_000 }).toContain('status writes held by the test');
  return async () => {
    await kubectl().ok(['delete', 'validatingadmissionpolicybinding,validatingadmissionpolicy', name, '--ignore-not-found']);
  };
}

it('records one ConfigRendered Event for a config whose status write is refused, then retried until it is written', async () => {
  const release = await holdStatusWrites();
  try {
    await kubectl().ok(['apply', '-n', ns, '-f', '-'], documents(heldSandbox('held')));
    // The config is rendered (its ConfigMap written) and the status write after it refused, twice.
    const refused = () => test.logs.filter((line) => line.includes('reconcile failed') && line.includes(`AgentSandbox/${ns}/held`) && line.includes('status writes held by the test')).length;
    await expect.poll(refused, { timeout: 30_000 }).toBeGreaterThanOrEqual(2);
    // Before: one Event per attempt, each recorded before the status write it announced.
    expect(await events('held', 'ConfigRendered')).toEqual([]);

    await kubectl().ok(['label', 'asbx', 'held', '-n', ns, `${HOLD}-`]);
    await expect.poll(() => conditionOf(ns, 'asbx', 'held', 'Ready'), { timeout: 15_000 }).toMatchObject({ status: 'True' });
    await test.operator.idle();
    expect(await events('held', 'ConfigRendered')).toHaveLength(1);
  } finally {
    await release();
  }
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
