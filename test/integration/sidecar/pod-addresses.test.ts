/**
 * In a pod the agent shares the sidecar's network: a provider's name that resolves to one of the
 * pod's own addresses may be the agent's listener (the pod's creator can map a name there: its
 * hostname is in /etc/hosts, mapped to the pod's address). With injection's
 * AIRLOCK_REFUSE_POD_ADDRESSES the sidecar connects to no such name; an address written as such
 * (Ollama's default http://127.0.0.1:11434) is taken as written. Here `localhost` stands for the
 * mapped name: it resolves to loopback, which is one of the pod's own addresses.
 */
import OpenAI from 'openai';
import { networkInterfaces } from 'node:os';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { isPodAddress, readSearchList, refusePodAddressesAndOwnDomain, searchNames, SKIPPED_DOMAIN_HINT } from '../../../sidecar/src/upstream/pod-addresses.js';
import { startMock, type MockProvider } from '../../mocks/index.js';
import { keyFile, stackDir, startStack, type Stack } from './harness.js';

const KEY = 'sk-pod-address-5b1d0e7c';
let mock: MockProvider;
let stack: Stack;
let undo: () => void;

beforeAll(async () => {
  mock = await startMock('openai', { keys: [KEY] });
  const port = new URL(mock.url).port;
  const dir = await stackDir();
  const key = await keyFile(dir, 'p', KEY);
  undo = refusePodAddressesAndOwnDomain();
  stack = await startStack(dir, {
    version: 1,
    sandbox: { name: 'pod-addresses' },
    providers: [
      { name: 'named', type: 'openai-compatible', baseURL: `http://localhost:${port}/v1`, apiKeys: [{ file: key }], models: [{ name: 'by-name' }] },
      { name: 'literal', type: 'openai-compatible', baseURL: `http://127.0.0.1:${port}/v1`, apiKeys: [{ file: key }], models: [{ name: 'by-address' }] },
    ],
  });
});

afterAll(async () => {
  await stack?.close();
  undo?.();
  await mock?.close();
});

describe("a provider whose name resolves to one of the pod's own addresses", () => {
  it('gets no request and no key: the agent sees a clear failure naming the refusal', async () => {
    const error = await stack.openai({ maxRetries: 0 }).chat.completions.create({ model: 'by-name', messages: [{ role: 'user', content: 'hello' }] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect((error as InstanceType<typeof OpenAI.APIError>).status).toBeGreaterThanOrEqual(500);
    expect((error as Error).message).toContain('an address of this pod');
    expect(mock.received).toEqual([]);
    expect(stack.logs.join('\n')).not.toContain(KEY);
  });

  it('is reached when the config writes the address itself', async () => {
    const answer = await stack.openai().chat.completions.create({ model: 'by-address', messages: [{ role: 'user', content: 'hello' }] });
    expect(answer.choices[0]!.message.content).toBe('echo: hello');
    expect(mock.received.at(-1)?.headers.authorization).toBe(`Bearer ${KEY}`);
  });
});

describe('isPodAddress', () => {
  it("holds for loopback, the unspecified address and this namespace's interfaces, not for others", () => {
    for (const own of ['127.0.0.1', '127.1.2.3', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1', '::ffff:7f00:1', '0.0.0.0', '::']) expect(isPodAddress(own), own).toBe(true);
    for (const list of Object.values(networkInterfaces())) for (const i of list ?? []) expect(isPodAddress(i.address), i.address).toBe(true);
    for (const other of ['192.0.2.10', '2001:db8::1', '::ffff:192.0.2.10']) expect(isPodAddress(other), other).toBe(false);
  });

  it('reads the interfaces once for many lookups, and again a few seconds later (an address added since is then seen)', () => {
    const os = process.getBuiltinModule('node:os');
    const real = os.networkInterfaces.bind(os);
    const added = { address: '198.51.100.7', netmask: '255.255.255.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal: false, cidr: '198.51.100.7/24' } as const;
    let clock = 1e12;
    const now = vi.spyOn(performance, 'now').mockImplementation(() => clock);
    const reads = vi.spyOn(os, 'networkInterfaces');
    try {
      for (let i = 0; i < 1_000; i++) expect(isPodAddress('192.0.2.10')).toBe(false);
      expect(reads).toHaveBeenCalledTimes(1);
      reads.mockImplementation(() => ({ ...real(), test0: [added] }));
      clock += 5_000;
      expect(isPodAddress(added.address)).toBe(true);
      expect(isPodAddress('::ffff:198.51.100.7')).toBe(true);
      expect(reads).toHaveBeenCalledTimes(2);
    } finally {
      reads.mockRestore();
      now.mockRestore();
    }
  });
});

/** The resolv.conf the kubelet writes for a pod of namespace `team-a` (ClusterFirst). */
const POD_RESOLV_CONF = 'nameserver 10.96.0.10\nsearch team-a.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n';

describe("names with a dot skip the sandbox namespace's own DNS domain", () => {
  it('reads the search list as the resolver does (the last search or domain line, comments dropped)', () => {
    expect(readSearchList(POD_RESOLV_CONF)).toEqual({ domains: ['team-a.svc.cluster.local', 'svc.cluster.local', 'cluster.local'] });
    expect(readSearchList('domain a.example\nsearch b.example c.example # old\noptions rotate ndots:2\n')).toEqual({ domains: ['b.example', 'c.example'] });
    expect(readSearchList('')).toEqual({ domains: [] });
  });

  it('tries `ollama.models` as the Service of namespace models, never as a pod record of the sandbox namespace', () => {
    const list = readSearchList(POD_RESOLV_CONF);
    expect(searchNames('ollama.models', list, 'team-a')).toEqual({ names: ['ollama.models.svc.cluster.local.', 'ollama.models.cluster.local.', 'ollama.models.'], ownDomainSkipped: true });
    // Enough dots: tried as written first, as the resolver does.
    expect(searchNames('a.b.c.d.e.f', list, 'team-a')).toEqual({ names: ['a.b.c.d.e.f.', 'a.b.c.d.e.f.svc.cluster.local.', 'a.b.c.d.e.f.cluster.local.'], ownDomainSkipped: true });
    // The namespace's domain in another case is the same domain.
    expect(searchNames('ollama.models', readSearchList('search TEAM-A.svc.cluster.local.\n'), 'team-a')).toEqual({ names: ['ollama.models.'], ownDomainSkipped: true });
    // Another namespace whose name begins like this one keeps its domain.
    expect(searchNames('x.y', readSearchList('search team-ab.svc.cluster.local\n'), 'team-a')).toEqual({ names: ['x.y.team-ab.svc.cluster.local.', 'x.y.'], ownDomainSkipped: false });
    // The pod's own ndots does not put the name as written (public DNS) first.
    expect(searchNames('ollama.tools', readSearchList(`${POD_RESOLV_CONF}options ndots:1\n`), 'team-a')?.names).toEqual(['ollama.tools.svc.cluster.local.', 'ollama.tools.cluster.local.', 'ollama.tools.']);
  });

  it('looks up as written a name without a dot, an absolute name and an address', () => {
    const list = readSearchList(POD_RESOLV_CONF);
    for (const written of ['ollama', 'ollama.models.svc.cluster.local.', '10.0.0.1', '::1']) expect(searchNames(written, list, 'team-a'), written).toBeUndefined();
  });

  it('connects where the first name of that order resolves; a name found nowhere fails naming the name as written', async () => {
    const dns = process.getBuiltinModule('node:dns');
    const real = dns.lookup;
    const asked: string[] = [];
    const records: Record<string, string> = { 'ollama.models.team-a.svc.cluster.local.': '192.0.2.66', 'ollama.models.svc.cluster.local.': '203.0.113.7' };
    dns.lookup = ((name: string, _options: object, callback: (err: NodeJS.ErrnoException | null, address?: string, family?: number) => void) => {
      asked.push(name);
      const address = records[name];
      if (address) return callback(null, address, 4);
      callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${name}`), { code: 'ENOTFOUND' }));
    }) as unknown as typeof dns.lookup;
    const undoGuard = refusePodAddressesAndOwnDomain({ list: readSearchList(POD_RESOLV_CONF), namespace: 'team-a' });
    try {
      const found = await new Promise((resolve) => dns.lookup('ollama.models', { family: 0 }, (err, address) => resolve(err ?? address)));
      expect(found).toBe('203.0.113.7');
      expect(asked).not.toContain('ollama.models.team-a.svc.cluster.local.');
      const missing = await new Promise<NodeJS.ErrnoException>((resolve) => dns.lookup('vllm-0.vllm', (err) => resolve(err!)));
      expect(missing.code).toBe('ENOTFOUND');
      expect(missing.message).toBe('getaddrinfo ENOTFOUND vllm-0.vllm');
      expect((missing as { hint?: string }).hint).toBe(SKIPPED_DOMAIN_HINT);
      expect(asked.filter((name) => name.startsWith('vllm'))).toEqual(['vllm-0.vllm.svc.cluster.local.', 'vllm-0.vllm.cluster.local.', 'vllm-0.vllm.']);
    } finally {
      undoGuard();
      dns.lookup = real;
    }
  });
});
