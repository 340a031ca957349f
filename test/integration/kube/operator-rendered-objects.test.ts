/**
 * The objects the operator renders for an AgentSandbox (ConfigMap and NetworkPolicy
 * airlock-<sandbox>, Secret airlock-<sandbox>-credentials), against a real API server:
 * - it writes and deletes only objects the sandbox controls. A resource author (who may not
 *   write NetworkPolicies, ConfigMaps or Secrets) naming a sandbox after an admin's object gets
 *   NameConflict on the sandbox; the admin's object stays as it was, through isolation none and
 *   the sandbox's deletion (rt9 H3). An object an older Airlock left for this sandbox is adopted.
 * - what someone who may edit the ConfigMap does cannot make its rendering stick: binaryData or
 *   immutable get the ConfigMap made again; a write the API server refuses shows on the sandbox
 *   (rt9 H2).
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { agentSandbox, asAuthor, conditionOf, credentialValues, documents, operatorForNamespace, providerFixture } from './fixtures.js';
import { kubectl } from './kubectl.js';
import { freePort, resourceAuthorYaml, until, type TestOperator } from './operator-harness.js';

let ns: string;
let test: TestOperator;
let provider: string;

interface Meta {
  uid: string;
  ownerReferences?: { kind: string; name: string; uid: string; controller?: boolean }[];
  labels?: Record<string, string>;
}
const getJson = async (kind: string, name: string) => {
  const result = await kubectl().run(['get', kind, name, '-n', ns, '-o', 'json']);
  return result.code === 0 ? (JSON.parse(result.stdout) as { metadata: Meta; spec?: unknown; data?: Record<string, string>; binaryData?: Record<string, string>; immutable?: boolean; status?: { observedGeneration?: number } }) : undefined;
};
const condition = (name: string, type: string) => conditionOf(ns, 'asbx', name, type);
const warnings = async (name: string) =>
  (JSON.parse(await kubectl().ok(['get', 'events', '-n', ns, '--field-selector', `involvedObject.name=${name}`, '-o', 'json'])) as { items: { type: string; reason: string; message: string }[] }).items.filter((e) => e.type === 'Warning');
/** Until the operator has reconciled the sandbox's current spec. */
const observed = (name: string) =>
  until(async () => {
    const sandbox = await getJson('asbx', name);
    return sandbox !== undefined && sandbox.status?.observedGeneration === (sandbox.metadata as Meta & { generation?: number }).generation;
  }, `${name} observed`, 15_000);

/** The admin's deny-all, which happens to be named as the operator names a sandbox's policy. */
const DENY_ALL = { podSelector: {}, policyTypes: ['Ingress', 'Egress'] };

beforeAll(async () => {
  ({ ns, test } = await operatorForNamespace('rendered'));
  await kubectl().ok(['apply', '-n', ns, '-f', '-'], resourceAuthorYaml(ns));
  const dead = await freePort();
  provider = providerFixture({ name: 'p', type: 'openai-compatible', baseURL: `http://127.0.0.1:${dead}/v1`, models: ['m'], key: { secret: 'p-key', key: 'apiKey', value: 'sk-provider-key-0f3a9c' } });
  await kubectl().ok(['apply', '-n', ns, '-f', '-'], provider);
}, 120_000);

afterAll(async () => {
  await test?.operator.stop();
});

describe("a sandbox named after an admin's objects", () => {
  beforeAll(async () => {
    await kubectl().ok(
      ['apply', '-n', ns, '-f', '-'],
      documents(
        { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'airlock-deny-all' }, spec: DENY_ALL },
        { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'airlock-deny-all' }, data: { note: "the admin's" } },
      ),
    );
  });

  it('leaves them as they are and says so: ConfigRendered False (NameConflict), not Ready, a Warning Event', async () => {
    // The author may not touch either object themselves.
    expect((await asAuthor(ns).run(['auth', 'can-i', 'patch', 'networkpolicies'])).stdout.trim()).toBe('no');
    expect((await asAuthor(ns).run(['auth', 'can-i', 'patch', 'configmaps'])).stdout.trim()).toBe('no');
    await asAuthor(ns).ok(['apply', '-f', '-'], documents(agentSandbox('deny-all', ['p'])));
    await expect.poll(() => condition('deny-all', 'ConfigRendered'), { timeout: 15_000 }).toMatchObject({ status: 'False', reason: 'NameConflict' });
    const rendered = (await condition('deny-all', 'ConfigRendered'))!;
    expect(rendered.message).toContain('NetworkPolicy airlock-deny-all exists and is not this sandbox');
    expect(rendered.message).toContain('ConfigMap airlock-deny-all exists and is not this sandbox');
    expect(rendered.message).toContain('Rename the sandbox');
    expect(await condition('deny-all', 'Ready')).toMatchObject({ status: 'False', reason: 'NameConflict' });
    await expect.poll(async () => (await warnings('deny-all')).map((e) => e.reason), { timeout: 10_000 }).toContain('NameConflict');

    const policy = (await getJson('networkpolicy', 'airlock-deny-all'))!;
    expect(policy.spec).toEqual(DENY_ALL);
    expect(policy.metadata.ownerReferences).toBeUndefined();
    const configMap = (await getJson('configmap', 'airlock-deny-all'))!;
    expect(configMap.data).toEqual({ note: "the admin's" });
    expect(configMap.metadata.ownerReferences).toBeUndefined();
    // Its own credentials Secret (a name nobody held) is written as before.
    expect((await getJson('secret', 'airlock-deny-all-credentials'))!.metadata.ownerReferences).toMatchObject([{ kind: 'AgentSandbox', name: 'deny-all', controller: true }]);
  });

  it('with isolation.network none, leaves the NetworkPolicy there', async () => {
    await asAuthor(ns).ok(['patch', 'asbx', 'deny-all', '--type', 'merge', '-p', JSON.stringify({ spec: { isolation: { network: 'none' } } })]);
    await observed('deny-all');
    // The reconcile after isolation none had its chance (a delete is immediate on the API server).
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const policy = await getJson('networkpolicy', 'airlock-deny-all');
    expect(policy?.spec).toEqual(DENY_ALL);
    expect(policy?.metadata.ownerReferences).toBeUndefined();
  });

  it('after the sandbox is deleted, the objects are still there and name no owner for the garbage collector', async () => {
    await asAuthor(ns).ok(['delete', 'asbx', 'deny-all']);
    await until(async () => (await getJson('asbx', 'deny-all')) === undefined, 'sandbox gone', 15_000);
    const policy = await getJson('networkpolicy', 'airlock-deny-all');
    expect(policy?.spec).toEqual(DENY_ALL);
    expect(policy?.metadata.ownerReferences).toBeUndefined();
    expect((await getJson('configmap', 'airlock-deny-all'))?.metadata.ownerReferences).toBeUndefined();
  });

  it("a taken credentials Secret name: neither that Secret nor the config is written; once the admin's Secret is gone, the sandbox renders", async () => {
    await kubectl().ok(['apply', '-n', ns, '-f', '-'], documents({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'airlock-taken-credentials' }, stringData: { token: 'the-admins-token-5d1e' } }));
    await asAuthor(ns).ok(['apply', '-f', '-'], documents(agentSandbox('taken', ['p'])));
    await expect.poll(() => condition('taken', 'ConfigRendered'), { timeout: 15_000 }).toMatchObject({ status: 'False', reason: 'NameConflict' });
    expect((await condition('taken', 'ConfigRendered'))!.message).toContain('Secret airlock-taken-credentials exists and is not this sandbox');
    expect(await credentialValues(ns, 'taken')).toEqual(['the-admins-token-5d1e']);
    expect((await getJson('secret', 'airlock-taken-credentials'))!.metadata.ownerReferences).toBeUndefined();
    // Credentials first: no config naming keys the sidecar would not find.
    expect(await getJson('configmap', 'airlock-taken')).toBeUndefined();

    await kubectl().ok(['delete', 'secret', 'airlock-taken-credentials', '-n', ns]);
    // The operator's caches do not see the admin's Secret go; it looks again now and then.
    await expect.poll(() => condition('taken', 'ConfigRendered'), { timeout: 20_000, interval: 500 }).toMatchObject({ status: 'True' });
    expect((await getJson('configmap', 'airlock-taken'))?.data?.['config.yaml']).toBeDefined();
  }, 60_000);
});

describe("the sandbox's own objects", () => {
  let uid: string;

  beforeAll(async () => {
    await kubectl().ok(['apply', '-n', ns, '-f', '-'], documents(agentSandbox('box', ['p'])));
    await until(async () => Boolean((await getJson('configmap', 'airlock-box'))?.data?.['config.yaml']), 'rendered', 20_000);
    uid = (await getJson('asbx', 'box'))!.metadata.uid;
  });

  const rendered = async () => (await getJson('configmap', 'airlock-box'))?.data?.['config.yaml'];
  /** The rendered config with a provider's baseURL moved to the editor's server. */
  const edited = async () => {
    const config = parse((await rendered())!) as { providers: { baseURL: string }[] };
    config.providers[0]!.baseURL = 'http://attacker.example:8080/v1';
    return stringify(config);
  };

  it('a ConfigMap left for this sandbox (its owner reference) without the labels the caches select is adopted', async () => {
    const expected = await rendered();
    // Out of the operator's cache, as an older Airlock's (or a relabelled) object would be.
    await kubectl().ok(['patch', 'configmap', 'airlock-box', '-n', ns, '--type', 'json', '-p', JSON.stringify([{ op: 'remove', path: '/metadata/labels' }, { op: 'replace', path: '/data/config.yaml', value: 'old: true\n' }])]);
    await kubectl().ok(['annotate', 'asbx', 'box', '-n', ns, 'nudge=adopt', '--overwrite']);
    await expect.poll(rendered, { timeout: 15_000 }).toBe(expected);
    const configMap = (await getJson('configmap', 'airlock-box'))!;
    expect(configMap.metadata.labels).toMatchObject({ 'app.kubernetes.io/managed-by': 'airlock-operator', 'airlock.dev/sandbox': 'box' });
    expect(configMap.metadata.ownerReferences).toMatchObject([{ uid, controller: true }]);
    expect(await condition('box', 'ConfigRendered')).toMatchObject({ status: 'True' });
  });

  it('config.yaml moved into binaryData: the ConfigMap is made again as rendered', async () => {
    const expected = await rendered();
    const evil = Buffer.from(await edited()).toString('base64');
    await kubectl().ok(['patch', 'configmap', 'airlock-box', '-n', ns, '--type', 'json', '-p', JSON.stringify([{ op: 'remove', path: '/data/config.yaml' }, { op: 'add', path: '/binaryData', value: { 'config.yaml': evil } }])]);
    await expect.poll(async () => (await getJson('configmap', 'airlock-box'))?.binaryData, { timeout: 15_000 }).toBeUndefined();
    await expect.poll(rendered, { timeout: 15_000 }).toBe(expected);
    expect(await condition('box', 'ConfigRendered')).toMatchObject({ status: 'True' });
  });

  it('the ConfigMap made immutable with an edited config: made again as rendered', async () => {
    const expected = await rendered();
    await kubectl().ok(['patch', 'configmap', 'airlock-box', '-n', ns, '--type', 'merge', '-p', JSON.stringify({ immutable: true, data: { 'config.yaml': await edited() } })]);
    await expect.poll(async () => (await getJson('configmap', 'airlock-box'))?.immutable, { timeout: 15_000 }).toBeUndefined();
    await expect.poll(rendered, { timeout: 15_000 }).toBe(expected);
    const configMap = (await getJson('configmap', 'airlock-box'))!;
    expect(configMap.metadata.ownerReferences).toMatchObject([{ uid, controller: true }]);
    expect(await condition('box', 'ConfigRendered')).toMatchObject({ status: 'True' });
  });

  it('a key someone patched into the credentials Secret, with config.yaml emptied and the Secret near its 1 MiB limit, is removed and the config written back', async () => {
    const secret = () => getJson('secret', 'airlock-box-credentials');
    const data = (await secret())!.data! as Record<string, string>;
    const config = data['config.yaml']!;
    // Just under the API server's 1 MiB of Secret data with config.yaml emptied: an apply that
    // restores config.yaml beside the junk is too large.
    const others = Object.entries(data).filter(([key]) => key !== 'config.yaml').reduce((n, [key, value]) => n + key.length + Buffer.from(value, 'base64').length, 0);
    expect(Buffer.from(config, 'base64').length).toBeGreaterThan(200);
    const junk = Buffer.from('x'.repeat(1_048_576 - others - 'config.yaml'.length - 'junk'.length - 100)).toString('base64');
    const patch = join(await mkdtemp(join(tmpdir(), 'airlock-patch-')), 'patch.json');
    await writeFile(patch, JSON.stringify({ data: { junk, 'config.yaml': '' } }));
    await kubectl().ok(['patch', 'secret', 'airlock-box-credentials', '-n', ns, '--type', 'merge', '--patch-file', patch]);
    await expect.poll(async () => Object.keys((await secret())!.data ?? {}).includes('junk'), { timeout: 20_000 }).toBe(false);
    expect((await secret())!.data!['config.yaml']).toBe(config);
    expect(await condition('box', 'ConfigRendered')).toMatchObject({ status: 'True' });
  });

  it('a write the API server refuses shows on the sandbox, without the values, until the object can be written again', async () => {
    const values = await credentialValues(ns, 'box');
    expect(values.length).toBeGreaterThan(0);
    // The credentials Secret made immutable with a value changed: every apply is refused.
    const key = Object.keys((await getJson('secret', 'airlock-box-credentials'))!.data!)[0]!;
    await kubectl().ok(['patch', 'secret', 'airlock-box-credentials', '-n', ns, '--type', 'merge', '-p', JSON.stringify({ immutable: true, stringData: { [key]: 'an-edited-value-77c2' } })]);
    await expect.poll(() => condition('box', 'ConfigRendered'), { timeout: 15_000 }).toMatchObject({ status: 'False', reason: 'WriteFailed' });
    const refused = (await condition('box', 'ConfigRendered'))!;
    expect(refused.message).toMatch(/^Secret airlock-box-credentials could not be written: 422 Invalid: data: FieldValueForbidden/);
    for (const value of [...values, 'an-edited-value-77c2']) expect(refused.message).not.toContain(value);
    expect(await condition('box', 'Ready')).toMatchObject({ status: 'False', reason: 'WriteFailed' });
    await expect.poll(async () => (await warnings('box')).map((e) => e.reason), { timeout: 10_000 }).toContain('WriteFailed');

    await kubectl().ok(['delete', 'secret', 'airlock-box-credentials', '-n', ns]);
    await expect.poll(() => condition('box', 'ConfigRendered'), { timeout: 30_000 }).toMatchObject({ status: 'True' });
  }, 60_000);
});
