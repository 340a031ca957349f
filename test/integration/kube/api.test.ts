/**
 * The Airlock API against a real kube-apiserver: the generated CRDs install, the examples are
 * accepted, each invalid example is rejected for its stated reason, defaults and the status
 * subresource work, and the descriptions reach `kubectl explain`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { freshNamespace, installCrds, repoRoot } from './crds.js';
import { kubectl as kubectlOf } from './kubectl.js';

const kubectl = (args: string[], input?: string) => kubectlOf().run(args, input);
const kubectlOk = (args: string[], input?: string) => kubectlOf().ok(args, input);

const examplesDir = join(repoRoot, 'examples');
const invalidDir = join(examplesDir, 'invalid');

/** Every valid example file, recursively, outside examples/invalid. */
function exampleFiles(dir = examplesDir): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return path === invalidDir ? [] : exampleFiles(path);
    return entry.name.endsWith('.yaml') ? [path] : [];
  });
}

/** The stated reason, field and message of an invalid example (its leading comment lines). */
function expectation(file: string) {
  const text = readFileSync(file, 'utf8');
  const header = (key: string) => new RegExp(`^# ${key}: (.+)$`, 'm').exec(text)?.[1];
  return { reason: header('reason'), field: header('field'), message: header('message') };
}

let namespace: string;

beforeAll(async () => {
  await installCrds();
  namespace = await freshNamespace('api');
});

describe('CRDs', () => {
  it('apply with --dry-run=server', async () => {
    const out = await kubectlOk(['apply', '--dry-run=server', '--server-side', '--field-manager=airlock-tests', '-f', join(repoRoot, 'crds')]);
    expect(out).toMatch(/modelproviders\.airlock\.dev serverside-applied \(server dry run\)/);
  });

  it('are listed under the airlock category with their short names', async () => {
    const out = await kubectlOk(['api-resources', '--api-group=airlock.dev', '-o', 'wide']);
    expect(out).toMatch(/agentsandboxes\s+asbx\s+airlock\.dev\/v1alpha1\s+true\s+AgentSandbox/);
    expect(out).toMatch(/mcpbackends\s+mcpb\s+/);
    expect(out).toMatch(/modelproviders\s+mp\s+/);
    const all = await kubectl(['get', 'airlock', '-n', namespace]);
    expect(all.code).toBe(0);
  });

  it('carry descriptions to kubectl explain', async () => {
    // The API server publishes a CRD's OpenAPI a moment after it is Established (seen failing under load).
    await expect.poll(async () => (await kubectl(['explain', 'modelproviders.spec.apiKeys'])).code, { timeout: 30_000, interval: 500 }).toBe(0);
    const out = await kubectlOk(['explain', 'modelproviders.spec.apiKeys']);
    expect(out).toContain('several, the sidecar rotates among them');
    expect(out).toMatch(/secretName\s+<string> -required-/);
    const sandbox = await kubectlOk(['explain', 'asbx.spec.isolation.network']);
    expect(sandbox).toContain('an init container lets only the sidecar leave the pod');
  });
});

describe('examples', () => {
  const files = exampleFiles();
  it('exist for every kind', () => {
    const kinds = new Set(files.flatMap((f) => [...readFileSync(f, 'utf8').matchAll(/^kind: (\w+)$/gm)].map((m) => m[1])));
    expect([...kinds]).toEqual(expect.arrayContaining(['ModelProvider', 'MCPBackend', 'AgentSandbox']));
  });

  it.each(files.map((f) => [f.slice(examplesDir.length + 1), f]))('%s is accepted by the API server', async (_name, file) => {
    const result = await kubectl(['apply', '-n', namespace, '-f', file]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
  });

  it('get their defaults from the schema', async () => {
    const provider = JSON.parse(await kubectlOk(['get', 'mp', 'gemini', '-n', namespace, '-o', 'json']));
    expect(provider.spec.timeouts).toEqual({ connectMs: 5000, firstByteMs: 60000, idleMs: 60000, totalMs: 600000 });
    expect(provider.spec.retries).toEqual({ maxAttempts: 2, baseDelayMs: 250 });
    const sandbox = JSON.parse(await kubectlOk(['get', 'asbx', 'minimal', '-n', namespace, '-o', 'json']));
    expect(sandbox.spec.isolation).toEqual({ network: 'firewall', automountServiceAccountToken: false });
    expect(sandbox.spec.socket).toEqual({ dir: '/var/run/airlock', mode: '0660' });
  });

  it('print the columns an operator needs', async () => {
    const providers = await kubectlOk(['get', 'mp', '-n', namespace]);
    expect(providers.split('\n')[0]).toMatch(/^NAME\s+READY\s+TYPE\s+PRIORITY\s+MODELS\s+AGE$/);
    expect(providers).toMatch(/\nopenai\s+openai\s+0\s+/);
    const backends = await kubectlOk(['get', 'mcpb', '-n', namespace]);
    expect(backends.split('\n')[0]).toMatch(/^NAME\s+READY\s+TRANSPORT\s+TOOLS\s+PENDING\s+AGE$/);
    const sandboxes = await kubectlOk(['get', 'asbx', '-n', namespace]);
    expect(sandboxes.split('\n')[0]).toMatch(/^NAME\s+READY\s+PROVIDERS\s+BACKENDS\s+PODS\s+OUTDATED\s+SPEND\s+BUDGET\s+AGE$/);
  });
});

describe('examples/quickstart', () => {
  // Before, 1-provider.yaml held the key's Secret with a placeholder: applying the directory again
  // after the README's key step put `sk-replace-me` back, and every sandbox pod sent it.
  it("keeps the key of the README's step when the directory is applied again", async () => {
    const ns = await freshNamespace('quickstart');
    const dir = join(examplesDir, 'quickstart');
    const secret = await kubectlOk(['create', 'secret', 'generic', 'openai-key', '--from-literal=api-key=sk-real-key', '--dry-run=client', '-o', 'yaml']);
    const labelled = await kubectlOk(['label', '--local', '-f', '-', 'airlock.dev/credential=true', '-o', 'yaml'], secret);
    await kubectlOk(['apply', '-n', ns, '-f', '-'], labelled);
    await kubectlOk(['apply', '-n', ns, '-f', dir]);
    await kubectlOk(['apply', '-n', ns, '-f', dir]);
    const key = await kubectlOk(['get', 'secret', 'openai-key', '-n', ns, '-o', 'jsonpath={.data.api-key}']);
    expect(Buffer.from(key, 'base64').toString()).toBe('sk-real-key');
  });
});

describe('invalid examples', () => {
  const files = readdirSync(invalidDir).filter((f) => f.endsWith('.yaml'));
  it('each state their reason, field and expected message', () => {
    expect(files.length).toBeGreaterThanOrEqual(15);
    for (const file of files) {
      const { reason, field, message } = expectation(join(invalidDir, file));
      expect({ file, reason: !!reason, field: !!field, message: !!message }).toEqual({ file, reason: true, field: true, message: true });
    }
  });

  it.each(files)('%s is rejected, naming the field', async (file) => {
    const { field, message } = expectation(join(invalidDir, file));
    const result = await kubectl(['apply', '--dry-run=server', '-n', namespace, '-f', join(invalidDir, file)]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(`${field}:`);
    expect(result.stderr).toContain(message);
  });
});

describe('status subresource', () => {
  it('takes status through /status and ignores status on the main resource', async () => {
    const kc = new KubeConfig();
    kc.loadFromString(inject('kubeconfig'));
    const api = kc.makeApiClient(CustomObjectsApi);
    const ref = { group: 'airlock.dev', version: 'v1alpha1', namespace, plural: 'mcpbackends' };
    await api.createNamespacedCustomObject({
      ...ref,
      body: { apiVersion: 'airlock.dev/v1alpha1', kind: 'MCPBackend', metadata: { name: 'status-test' }, spec: { transport: 'sse', url: 'http://x.test/sse' }, status: { toolCount: 99 } },
    });
    const created = (await api.getNamespacedCustomObject({ ...ref, name: 'status-test' })) as { status?: unknown; metadata: { generation: number } };
    expect(created.status).toBeUndefined();

    const status = {
      observedGeneration: created.metadata.generation,
      toolCount: 2,
      pendingCount: 1,
      tools: [
        { name: 'search', sha256: 'a'.repeat(64), state: 'approved' },
        { name: 'delete', sha256: 'b'.repeat(64), state: 'pending' },
      ],
      conditions: [{ type: 'Ready', status: 'True', reason: 'Discovered', message: '2 tools', lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z') }],
    };
    await api.replaceNamespacedCustomObjectStatus({ ...ref, name: 'status-test', body: { ...created, status } });
    const updated = (await api.getNamespacedCustomObject({ ...ref, name: 'status-test' })) as { status: typeof status };
    expect(updated.status).toEqual(status);
    const table = await kubectlOk(['get', 'mcpb', 'status-test', '-n', namespace]);
    expect(table).toMatch(/status-test\s+True\s+sse\s+2\s+1\s+/);

    const badState = { ...status, tools: [{ name: 'x', sha256: 'c'.repeat(64), state: 'trusted' }] };
    const refused = await api.replaceNamespacedCustomObjectStatus({ ...ref, name: 'status-test', body: { ...updated, status: badState } }).catch((err: { code: number; body: string }) => err);
    expect((refused as { code: number }).code).toBe(422);
    const causes = JSON.parse((refused as { body: string }).body).details.causes as { field: string; message: string }[];
    expect(causes).toContainEqual(expect.objectContaining({ field: 'status.tools[0].state', message: expect.stringContaining('Unsupported value: "trusted"') }));
  });
});

describe('headers that say where a request goes', () => {
  it('are refused when an UPDATE adds them, by merge patch, JSON patch or server-side apply, in any case of the name', async () => {
    await kubectlOk(['apply', '-n', namespace, '-f', '-'], `apiVersion: airlock.dev/v1alpha1
kind: ModelProvider
metadata: { name: update-host }
spec: { type: openai-compatible, baseURL: 'https://gateway.example.com/v1', headers: { X-Team: agents }, models: [{ name: m }] }
---
apiVersion: airlock.dev/v1alpha1
kind: MCPBackend
metadata: { name: update-host }
spec: { transport: streamable-http, url: 'http://tools.svc:8080/mcp', headers: [{ name: X-Team, value: agents }] }
`);
    const message = 'Host, Content-Length, Transfer-Encoding, Connection, Upgrade, Forwarded, X-Forwarded-Host and the like are set by the sidecar';
    const attempts = [
      ['patch', 'modelprovider', 'update-host', '--type=merge', '-p', '{"spec":{"headers":{"hOsT":"attacker.example"}}}'],
      ['patch', 'modelprovider', 'update-host', '--type=json', '-p', '[{"op":"add","path":"/spec/headers/Transfer-Encoding","value":"chunked"}]'],
      ['patch', 'mcpbackend', 'update-host', '--type=json', '-p', '[{"op":"replace","path":"/spec/headers/0/name","value":"Host"}]'],
    ];
    for (const args of attempts) {
      const result = await kubectl([...args, '-n', namespace]);
      expect({ args, code: result.code }).toEqual({ args, code: 1 });
      expect(result.stderr).toContain(message);
    }
    const applied = await kubectl(['apply', '--server-side', '--field-manager=attacker', '-n', namespace, '-f', '-'], `apiVersion: airlock.dev/v1alpha1
kind: ModelProvider
metadata: { name: update-host }
spec: { type: openai-compatible, baseURL: 'https://gateway.example.com/v1', headers: { Connection: upgrade }, models: [{ name: m }] }
`);
    expect(applied.code).not.toBe(0);
    expect(applied.stderr).toContain(message);
    expect(JSON.parse(await kubectlOk(['get', 'modelprovider', 'update-host', '-n', namespace, '-o', 'json'])).spec.headers).toEqual({ 'X-Team': 'agents' });
  });
});
