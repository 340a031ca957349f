/**
 * A stdio MCPBackend's env value from a Secret key that holds a NUL byte (a binary key, a keytab,
 * a token written with a stray \0): a process environment cannot carry it, and Node's spawn()
 * quotes the value when it refuses it. The operator refuses it where it renders the sandbox's
 * config: ConfigRendered=False and a Warning Event name the Secret, the key and the variable,
 * never the value, and no credentials Secret carries it to the pods. Fixing the Secret renders.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { agentSandbox, conditionOf, credentialValues, documents, operatorForNamespace } from './fixtures.js';
import { kubectl } from './kubectl.js';
import { until, type TestOperator } from './operator-harness.js';

const SECRET = 'tok-9f8e7d6c5b4a39281706f5e4d3c2b1a0';

let ns: string;
let test: TestOperator;

/** The Secret `keystore`, key `token`, holding `value`'s bytes. */
const keystore = (value: string) => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name: 'keystore', labels: { 'airlock.dev/credential': 'true' } },
  data: { token: Buffer.from(value).toString('base64') },
});

const backend = {
  apiVersion: 'airlock.dev/v1alpha1',
  kind: 'MCPBackend',
  metadata: { name: 'tools' },
  spec: { transport: 'stdio', stdio: { command: 'mcp-server-tools', env: [{ name: 'API_TOKEN', secretKeyRef: { name: 'keystore', key: 'token' } }] } },
};

const condition = (type: string) => conditionOf(ns, 'agentsandbox', 'agent', type);
const events = async () =>
  (JSON.parse(await kubectl().ok(['get', 'events', '-n', ns, '-o', 'json'])) as { items: { type: string; reason: string; message: string; involvedObject: { kind: string; name: string } }[] }).items;
/** Any run of the secret's bytes, as is or in the forms a message might quote them in. */
const leaks = (text: string) => [SECRET.slice(4, 20), 'binary-tail', Buffer.from(SECRET).toString('base64').slice(0, 16)].filter((part) => text.includes(part));

beforeAll(async () => {
  ({ ns, test } = await operatorForNamespace('unfit'));
  await kubectl().ok(['apply', '-n', ns, '-f', '-'], documents(keystore(`${SECRET}\0binary-tail`), backend, agentSandbox('agent', [], { mcpBackends: ['tools'] })));
}, 120_000);

afterAll(async () => {
  await test?.operator.stop();
});

it('refuses a Secret value with a NUL byte for a stdio env variable, naming the Secret, key and variable in status and a Warning Event, never the value', async () => {
  await expect.poll(() => condition('ConfigRendered'), { timeout: 20_000 }).toMatchObject({
    status: 'False',
    reason: 'SecretValueRefused',
    message: 'Secret keystore key token, used as env API_TOKEN of MCPBackend tools, holds a NUL byte, which a process environment cannot carry',
  });
  expect(await condition('Ready')).toMatchObject({ status: 'False' });
  await expect.poll(async () => (await events()).filter((e) => e.reason === 'SecretValueRefused').map((e) => [e.involvedObject.kind, e.type, e.message]), { timeout: 10_000 }).toEqual([
    ['AgentSandbox', 'Warning', 'Secret keystore key token, used as env API_TOKEN of MCPBackend tools, holds a NUL byte, which a process environment cannot carry'],
  ]);
  // Not copied to the pods either.
  expect(leaks((await credentialValues(ns, 'agent')).join('\n'))).toEqual([]);
  const sandbox = await kubectl().ok(['get', 'agentsandbox', 'agent', '-n', ns, '-o', 'json']);
  const mcpb = await kubectl().ok(['get', 'mcpbackend', 'tools', '-n', ns, '-o', 'json']);
  expect(leaks(sandbox + mcpb + JSON.stringify(await events()))).toEqual([]);
});

it('renders once the Secret holds a value the variable can carry', async () => {
  await kubectl().ok(['apply', '-n', ns, '-f', '-'], documents(keystore(SECRET)));
  await until(async () => (await condition('ConfigRendered'))?.status === 'True', 'the config rendered', 20_000);
  expect(await credentialValues(ns, 'agent')).toContain(SECRET);
});

it('says it in its own Warning Event when the sandbox was not Ready already (no Ready Event to carry it)', async () => {
  await kubectl().ok(['apply', '-n', ns, '-f', '-'], documents(agentSandbox('other', [], { mcpBackends: ['tools', 'absent'] })));
  const other = (type: string) => conditionOf(ns, 'agentsandbox', 'other', type);
  await until(async () => (await other('ConfigRendered'))?.status === 'True' && (await other('Ready'))?.status === 'False', 'the other sandbox rendered, not Ready', 20_000);
  await kubectl().ok(['apply', '-n', ns, '-f', '-'], documents(keystore(`${SECRET}\0binary-tail`)));
  await expect.poll(() => other('ConfigRendered'), { timeout: 20_000 }).toMatchObject({ status: 'False', reason: 'SecretValueRefused' });
  const refusals = async () => (await events()).filter((e) => e.involvedObject.name === 'other' && e.reason === 'SecretValueRefused').map((e) => [e.type, e.message]);
  await expect.poll(refusals, { timeout: 10_000 }).toEqual([['Warning', 'Secret keystore key token, used as env API_TOKEN of MCPBackend tools, holds a NUL byte, which a process environment cannot carry']]);
  expect(leaks(await kubectl().ok(['get', 'agentsandbox', 'other', '-n', ns, '-o', 'json']) + JSON.stringify(await events()))).toEqual([]);
});
