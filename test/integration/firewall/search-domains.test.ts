/**
 * In-cluster provider hosts written short, against the real resolver. A pod's resolv.conf (as the
 * kubelet writes it for ClusterFirst) searches the sandbox's own namespace first, so
 * `http://ollama.models:11434` (the Service `ollama` of the namespace `models`) is first looked up
 * as `ollama.models.<sandbox namespace>.svc.cluster.local`: the record of a pod with `hostname:
 * ollama` and `subdomain: models` beside a headless Service `models`, which whoever may create pods
 * in the sandbox's namespace can make, without reading any Secret. The provider's key then went to
 * their pod.
 *
 * A network namespace stands in for the pod: glibc reads the resolv.conf `ip netns exec` mounts
 * over /etc/resolv.conf, a DNS server in it answers as the cluster's would (both records exist),
 * the provider mock and the squatter listen on two addresses outside it, and the real sidecar
 * runs in it with the environment injection gives it. Needs root.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { startMock, type MockProvider } from '../../mocks/index.js';
import { until } from '../mcp/harness.js';
import { createNamespace, must, preflight, SYSTEM_PATH, untilSidecarReady, type TestNamespace } from './netns.js';

const root = join(import.meta.dirname, '../../..');
const KEY = 'sk-search-domain-4e0c2a91';
const NAMESPACE = 'team-a';

const tools = preflight();

/** Runs `argv` in the namespace (as root), collecting its output. */
function spawnIn(ns: TestNamespace, argv: readonly string[], env: NodeJS.ProcessEnv = {}): ChildProcess & { output: () => string } {
  const child = spawn(tools.ip, ['netns', 'exec', ns.name, ...argv], { cwd: root, env: { PATH: SYSTEM_PATH, HOME: '/tmp', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (output += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (output += d));
  return Object.assign(child, { output: () => output });
}

describe.each([
  ["the kubelet's ndots:5", 'kdns', 5],
  // The pod's own dnsConfig.options (admission allows them): the name as written would be asked first.
  ['ndots:1 set by the pod author', 'pdns', 1],
] as const)('a provider written as `<service>.<namespace>` in a sandbox pod, with %s', (_label, tag, ndots) => {
  let ns: TestNamespace;
  let scratch: string;
  let provider: MockProvider;
  let squatter: Server;
  const squatted: string[] = [];
  let dns: ChildProcess & { output: () => string };
  let sidecar: ChildProcess & { output: () => string };

  beforeAll(async () => {
    ns = await createNamespace(tools.ip, tag);
    // The pod's resolv.conf, as the kubelet writes it for a pod of NAMESPACE (ClusterFirst).
    await mkdir(`/etc/netns/${ns.name}`, { recursive: true });
    await writeFile(`/etc/netns/${ns.name}/resolv.conf`, `nameserver 127.0.0.1\nsearch ${NAMESPACE}.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:${ndots} timeout:1 attempts:1\n`);
    provider = await startMock('openai', { keys: [KEY], host: ns.hosts.a4 });
    const port = Number(new URL(provider.url).port);
    // The squatter: the pod someone created in the sandbox's namespace, on the provider's port.
    squatter = createServer((socket) => {
      socket.setEncoding('utf8').on('data', (d: string) => {
        squatted.push(d);
        socket.end('HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n');
      });
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve, reject) => squatter.once('error', reject).listen(port, ns.hosts.b4, resolve));
    dns = spawnIn(ns, [
      process.execPath,
      join(import.meta.dirname, 'fixtures/dns-server.ts'),
      '127.0.0.1',
      // The squatter's pod record, and the same name as written registered in public DNS by them too.
      JSON.stringify({
        [`ollama.models.${NAMESPACE}.svc.cluster.local`]: ns.hosts.b4,
        'ollama.models': ns.hosts.b4,
        'ollama.models.svc.cluster.local': ns.hosts.a4,
        [`vllm-0.vllm.${NAMESPACE}.svc.cluster.local`]: ns.hosts.a4,
      }),
    ]);
    await until(`the DNS server to listen: ${dns.output()}`, () => dns.output().includes('listening'), 30_000);
    scratch = await mkdtemp(join(tmpdir(), 'airlock-search-'));
    await writeFile(join(scratch, 'key'), KEY);
    await writeFile(
      join(scratch, 'config.yaml'),
      stringify({
        version: 1,
        sandbox: { name: 'search' },
        listen: { socket: { path: join(scratch, 'airlock.sock') } },
        providers: [
          { name: 'ollama', type: 'openai-compatible', baseURL: `http://ollama.models:${port}/v1`, apiKeys: [{ file: join(scratch, 'key') }], models: [{ name: 'llama' }] },
          // A StatefulSet member of the sandbox's own namespace, written `<hostname>.<subdomain>`.
          { name: 'member', type: 'openai-compatible', baseURL: `http://vllm-0.vllm:${port}/v1`, apiKeys: [{ file: join(scratch, 'key') }], models: [{ name: 'vllm' }] },
        ],
        mcp: { backends: [] },
      }),
    );
    // As injection starts it: the pod-address guard on, the pod's namespace from the downward API.
    sidecar = spawnIn(ns, [process.execPath, '--import', 'tsx', join(root, 'sidecar/src/cli.ts'), 'run', '--config', join(scratch, 'config.yaml')], {
      AIRLOCK_REFUSE_POD_ADDRESSES: 'true',
      AIRLOCK_POD_NAMESPACE: NAMESPACE,
      TSX_DISABLE_CACHE: '1',
    });
    await untilSidecarReady(join(scratch, 'airlock.sock'), sidecar, sidecar.output);
  }, 120_000);

  afterAll(async () => {
    for (const child of [sidecar, dns]) {
      if (child && child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await once(child, 'exit');
      }
    }
    await new Promise((resolve) => squatter?.close(resolve));
    await provider?.close();
    await ns?.remove();
    await rm(`/etc/netns/${ns?.name}`, { recursive: true, force: true });
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it("is the squatter's pod to the pod's own resolver (the test's cluster answers as a real one would)", async () => {
    const resolved = await must(tools.ip, ['netns', 'exec', ns.name, 'getent', 'ahostsv4', 'ollama.models']);
    expect(resolved.split('\n')[0]).toContain(ns.hosts.b4);
  });

  it('reaches the Service of that namespace with the key, and the squatter gets nothing', async () => {
    const asked = dns.output().length;
    const dispatcher = new Agent({ connect: { socketPath: join(scratch, 'airlock.sock') } });
    try {
      const client = new OpenAI({ apiKey: 'unused', baseURL: 'http://airlock.local/v1', maxRetries: 0, fetch: ((url: string, init?: object) => undiciFetch(url, { ...init, dispatcher })) as unknown as typeof fetch });
      const answer = await client.chat.completions.create({ model: 'llama', messages: [{ role: 'user', content: 'hello' }] }).catch((err: unknown) => err);
      expect(squatted.join('')).not.toContain(KEY);
      expect(squatted).toEqual([]);
      expect((answer as OpenAI.ChatCompletion).choices?.[0]?.message.content, String(answer)).toBe('echo: hello');
    } finally {
      await dispatcher.close();
    }
    expect(provider.received.at(-1)?.headers.authorization).toBe(`Bearer ${KEY}`);
    // The sandbox namespace's own domain was never asked for that name.
    const queries = dns.output().slice(asked);
    expect(queries).toContain('A ollama.models.svc.cluster.local');
    expect(queries).not.toContain(`ollama.models.${NAMESPACE}.svc.cluster.local`);
    expect(queries.split('\n')).not.toContain('A ollama.models');
  });

  it('does not find `<hostname>.<subdomain>` of the sandbox namespace, and the client is told why and what to write', async () => {
    const dispatcher = new Agent({ connect: { socketPath: join(scratch, 'airlock.sock') } });
    try {
      const client = new OpenAI({ apiKey: 'unused', baseURL: 'http://airlock.local/v1', maxRetries: 0, fetch: ((url: string, init?: object) => undiciFetch(url, { ...init, dispatcher })) as unknown as typeof fetch });
      const error = await client.chat.completions.create({ model: 'vllm', messages: [{ role: 'user', content: 'hello' }] }).catch((err: unknown) => err);
      expect(error).toBeInstanceOf(OpenAI.APIError);
      expect((error as Error).message).toContain("cannot reach provider member (ENOTFOUND; names with a dot are not looked up in the sandbox namespace's own DNS domain");
      expect((error as Error).message).not.toContain('vllm-0');
    } finally {
      await dispatcher.close();
    }
  });
});
