/**
 * The operator is no confused deputy. A resource author allowed to create ModelProviders and
 * MCPBackends but not to read Secrets (a Role of their own, acted as through impersonation)
 * tries to make the operator read a Secret of the namespace and send it to a URL of their
 * choice, and to read an arbitrary URL's answer through a status message. The operator reads
 * only Secrets their owner labelled airlock.dev/credential=true, and status carries an HTTP
 * status and a fixed reason, never the body.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentSandbox, asAuthor as authorOf, conditionOf, documents, mcpBackend, operatorForNamespace, providerFixture } from './fixtures.js';
import { kubectl } from './kubectl.js';
import { resourceAuthorYaml, type TestOperator } from './operator-harness.js';

const PASSWORD = 'victim-db-password-0123456789abcdef';
const INTERNAL = 'internal-admin-page: every user and their balance';

let ns: string;
let test: TestOperator;
/** kubectl as the resource author: may write Airlock resources, may not read Secrets. */
const asAuthor = (args: string[], input?: string) => authorOf(ns).run(args, input);

interface Listener {
  url: string;
  requests: { url: string; headers: IncomingHttpHeaders; body: string }[];
  close(): Promise<void>;
}

/** An HTTP server that records every request and answers with `status` and `body`. */
async function listener(status: number, body: string): Promise<Listener> {
  const requests: Listener['requests'] = [];
  const server: Server = createServer((req, res) => {
    let text = '';
    req.on('data', (chunk: Buffer) => (text += chunk.toString()));
    req.on('end', () => {
      requests.push({ url: req.url ?? '', headers: req.headers, body: text });
      res.writeHead(status, { 'content-type': 'text/plain' }).end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const statusOf = async (kind: string, name: string) => (JSON.parse(await authorOf(ns).ok(['get', kind, name, '-o', 'json'])) as { status?: unknown }).status;
const condition = (kind: string, name: string, type: string) => conditionOf(ns, kind, name, type, authorOf(ns));

let attacker: Listener;
let internal: Listener;

beforeAll(async () => {
  ({ ns, test } = await operatorForNamespace('deputy'));
  attacker = await listener(200, '{}');
  internal = await listener(500, INTERNAL);
  await kubectl().ok(['apply', '-n', ns, '-f', '-'], `${resourceAuthorYaml(ns)}---
apiVersion: v1
kind: Secret
metadata: { name: db-password }
stringData: { password: ${PASSWORD} }
`);
});

afterAll(async () => {
  await test?.operator.stop();
  await attacker?.close();
  await internal?.close();
});

describe('Secrets by consent', () => {
  it('the author cannot read the Secret themselves', async () => {
    const result = await asAuthor(['get', 'secret', 'db-password', '-o', 'json']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('forbidden');
  });

  it('an MCPBackend header from an unlabelled Secret: not read, nothing sent to the URL, the condition says how to opt in', async () => {
    const created = await asAuthor(['apply', '-f', '-'], documents(mcpBackend({ name: 'exfil', url: `${attacker.url}/mcp`, authorization: { secret: 'db-password', key: 'password' } })));
    expect(created.code, created.stderr).toBe(0);
    await expect.poll(() => condition('mcpb', 'exfil', 'Ready'), { timeout: 15_000 }).toMatchObject({
      status: 'False',
      reason: 'SecretMissing',
      message: 'Secret db-password not found or not labelled airlock.dev/credential: "true" (its owner must opt in)',
    });
    expect(JSON.stringify(attacker.requests)).not.toContain(PASSWORD);
    expect(attacker.requests).toEqual([]);
  });

  it('a ModelProvider key from an unlabelled Secret: not read, never probed with it', async () => {
    const created = await asAuthor(
      ['apply', '-f', '-'],
      providerFixture({ name: 'exfil', type: 'openai-compatible', baseURL: `${attacker.url}/v1`, models: ['anything'], key: { secret: 'db-password', key: 'password' }, probe: true }),
    );
    expect(created.code, created.stderr).toBe(0);
    await expect.poll(() => condition('mp', 'exfil', 'SecretsResolved'), { timeout: 15_000 }).toMatchObject({ status: 'False', reason: 'SecretMissing' });
    expect(await condition('mp', 'exfil', 'Reachable')).toMatchObject({ status: 'Unknown' });
    expect(JSON.stringify(attacker.requests)).not.toContain(PASSWORD);
  });

  it('a sandbox naming them gets no copy of the Secret in its credentials', async () => {
    const created = await asAuthor(['apply', '-f', '-'], documents(agentSandbox('exfil', ['exfil'], { mcpBackends: ['exfil'] })));
    expect(created.code, created.stderr).toBe(0);
    await expect.poll(() => condition('asbx', 'exfil', 'Ready'), { timeout: 15_000 }).toMatchObject({ status: 'False' });
    const credentials = await kubectl().run(['get', 'secret', 'airlock-exfil-credentials', '-n', ns, '-o', 'json']);
    const data = credentials.code === 0 ? Object.values(JSON.parse(credentials.stdout).data ?? {}).map((v) => Buffer.from(String(v), 'base64').toString()) : [];
    expect(data).not.toContain(PASSWORD);
  });

  it("once the Secret's owner labels it, the operator uses it", async () => {
    await kubectl().ok(['label', 'secret', 'db-password', '-n', ns, 'airlock.dev/credential=true']);
    await expect.poll(() => condition('mcpb', 'exfil', 'Discovered'), { timeout: 15_000 }).toMatchObject({ status: 'False', reason: 'DiscoveryFailed' });
    expect(attacker.requests.some((r) => r.headers.authorization === PASSWORD)).toBe(true);
  });
});

describe('status never carries what an arbitrary URL answered', () => {
  it('MCPBackend discovery against an internal service: status code and a fixed reason only', async () => {
    const created = await asAuthor(['apply', '-f', '-'], documents(mcpBackend({ name: 'peek', transport: 'sse', url: `${internal.url}/sse` })));
    expect(created.code, created.stderr).toBe(0);
    await expect.poll(() => condition('mcpb', 'peek', 'Discovered'), { timeout: 15_000 }).toMatchObject({ status: 'False', message: 'sse: 500 Internal Server Error: the server failed' });
    expect(internal.requests.length).toBeGreaterThan(0);
    expect(JSON.stringify(await statusOf('mcpb', 'peek'))).not.toContain('internal-admin');
  });

  it('ModelProvider probe against an internal service: status code and a fixed reason only', async () => {
    const created = await asAuthor(['apply', '-f', '-'], providerFixture({ name: 'peek', type: 'openai-compatible', baseURL: `${internal.url}/v1`, models: ['anything'], probe: true }));
    expect(created.code, created.stderr).toBe(0);
    await expect.poll(() => condition('mp', 'peek', 'Reachable'), { timeout: 15_000 }).toMatchObject({ status: 'False', message: `GET ${internal.url}/v1/models: 500 Internal Server Error: the server failed` });
    expect(JSON.stringify(await statusOf('mp', 'peek'))).not.toContain('internal-admin');
    const events = await kubectl().ok(['get', 'events', '-n', ns, '-o', 'json']);
    expect(events).not.toContain('internal-admin');
    expect(events).not.toContain(PASSWORD);
  });
});
