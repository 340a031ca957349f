/**
 * A sidecar for integration tests: started in-process from a real config file in a temp dir,
 * serving on a real Unix socket, with every log line captured. Clients are the official SDKs,
 * connected through the socket the way an agent connects.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import Anthropic from '@anthropic-ai/sdk';
import { GoogleGenAI } from '@google/genai';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import OpenAI from 'openai';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, afterEach, beforeAll, expect, vi } from 'vitest';
import { stringify } from 'yaml';
import type { SidecarConfigInput } from '../../../sidecar/src/config/schema.js';
import { startSidecar, type Sidecar } from '../../../sidecar/src/sidecar.js';
import { startMock, type MockKind, type MockProvider } from '../../mocks/index.js';
import { startOtlpCollector, type CollectedSpan, type OtlpCollector } from '../../mocks/otlp-collector.js';

export interface Stack {
  dir: string;
  socketPath: string;
  configPath: string;
  sidecar: Sidecar;
  /** Every log line written so far (JSON text). */
  logs: string[];
  /** An undici dispatcher that connects to the socket. */
  dispatcher: Agent;
  openai(options?: { maxRetries?: number; timeoutMs?: number }): OpenAI;
  anthropic(options?: { maxRetries?: number; timeoutMs?: number }): Anthropic;
  /** fetch through the socket (the host in the URL is ignored). */
  fetch(path: string, init?: Parameters<typeof undiciFetch>[1]): ReturnType<typeof undiciFetch>;
  /** Rewrites the config file in place. */
  writeConfig(config: SidecarConfigInput): Promise<void>;
  close(): Promise<void>;
}

/** Writes a key into the stack's temp dir and returns its path, for `apiKeys: [{file}]`. */
export async function keyFile(dir: string, name: string, value: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, `${value}\n`, { mode: 0o600 });
  return path;
}

/** A credentials volume published as the kubelet publishes a Secret: timestamped dirs behind an atomically swapped `..data`. */
export interface SecretVolume {
  path: string;
  /** Publishes a new version of the Secret's files (a new timestamped dir, then a rename of `..data`). */
  publish(files: Record<string, string>): Promise<void>;
}

/** Creates an empty kubelet-style Secret volume at `path`. */
export async function secretVolume(path: string): Promise<SecretVolume> {
  await mkdir(path);
  let version = 0;
  const linked = new Set<string>();
  return {
    path,
    async publish(files) {
      version += 1;
      const dataDir = `..2026_11_26_${version}`;
      await mkdir(join(path, dataDir));
      for (const [name, text] of Object.entries(files)) await writeFile(join(path, dataDir, name), text);
      await symlink(dataDir, join(path, '..data_tmp'));
      await rename(join(path, '..data_tmp'), join(path, '..data'));
      for (const name of Object.keys(files)) {
        if (!linked.has(name)) await symlink(join('..data', name), join(path, name));
        linked.add(name);
      }
    },
  };
}

/** A temp dir for a stack's files, before the config is known. */
export function stackDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'airlock-sidecar-'));
}

/** Writes `config` as `dir`/config.yaml, the file the sidecar's `run --config` reads; its path. */
export async function configIn(dir: string, config: SidecarConfigInput | string): Promise<string> {
  const path = join(dir, 'config.yaml');
  await writeFile(path, typeof config === 'string' ? config : stringify(config));
  return path;
}

/**
 * Starts a sidecar with `config` (listen.socket and admin are filled in), written to the stack's
 * dir, or by `publish` (the config's text in, its path out: a config in a Secret volume).
 */
export async function startStack(dir: string, config: SidecarConfigInput, publish?: (text: string) => Promise<string>): Promise<Stack> {
  const socketPath = join(dir, 'run', 'airlock.sock');
  const write = publish ?? ((text: string) => configIn(dir, text));
  const complete = (c: SidecarConfigInput): SidecarConfigInput => ({
    ...c,
    listen: { ...c.listen, socket: { path: socketPath, mode: '0600', ...c.listen?.socket }, admin: { host: '127.0.0.1', port: 0, tools: true, ...c.listen?.admin } },
  });
  const configPath = await write(stringify(complete(config)));
  const logs: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      logs.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  const sidecar = await startSidecar({ configPath, logDestination: destination });
  const dispatcher = new Agent({ connect: { socketPath }, connections: 2048 });
  const fetchThroughSocket = ((url: string, init?: Parameters<typeof undiciFetch>[1]) => undiciFetch(url, { ...init, dispatcher })) as unknown as typeof globalThis.fetch;
  return {
    dir,
    socketPath,
    configPath,
    sidecar,
    logs,
    dispatcher,
    openai: (options = {}) =>
      new OpenAI({ apiKey: 'unused-by-airlock', baseURL: 'http://airlock/v1', fetch: fetchThroughSocket, maxRetries: options.maxRetries ?? 0, timeout: options.timeoutMs ?? 30_000 }),
    anthropic: (options = {}) =>
      new Anthropic({ apiKey: 'unused-by-airlock', baseURL: 'http://airlock', fetch: fetchThroughSocket, maxRetries: options.maxRetries ?? 0, timeout: options.timeoutMs ?? 30_000 }),
    fetch: (path, init) => undiciFetch(`http://airlock${path}`, { ...init, dispatcher }),
    writeConfig: async (next) => void (await write(stringify(complete(next)))),
    async close() {
      await dispatcher.close();
      await sidecar.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A google-genai client of the stack, through the socket, without retries. */
export function genaiClient(stack: Stack): GoogleGenAI {
  const through = (url: string | URL | Request, init?: RequestInit) => {
    const target = new URL(String(url));
    return stack.fetch(target.pathname + target.search, init as never) as unknown as Promise<Response>;
  };
  return new GoogleGenAI({ apiKey: 'unused-by-airlock', httpOptions: { baseUrl: 'http://airlock', fetch: through as never, retryOptions: { attempts: 1 } } });
}

/** An MCP SDK client connected to the stack's `/mcp` through the socket, as an agent connects; `headers` go with every request. */
export async function mcpClient(stack: Stack, headers: Record<string, string> = {}): Promise<Client> {
  const fetchThroughSocket = ((url: string, init?: Parameters<typeof undiciFetch>[1]) => undiciFetch(url, { ...init, dispatcher: stack.dispatcher })) as unknown as typeof fetch;
  const client = new Client({ name: 'agent', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL('http://airlock/mcp'), { fetch: fetchThroughSocket, requestInit: { headers } }));
  return client;
}

/** Resolves once the stack's `/mcp` lists every tool of `names` (stdio backends start after the sidecar does). */
export async function waitForTools(stack: Stack, names: readonly string[]): Promise<void> {
  const client = await mcpClient(stack);
  try {
    await vi.waitFor(
      async () => {
        const listed = new Set((await client.listTools()).tools.map((t) => t.name));
        expect(names.filter((name) => !listed.has(name))).toEqual([]);
      },
      { timeout: 30_000, interval: 200 },
    );
  } finally {
    await client.close();
  }
}

/** A TCP port free now on 127.0.0.1, for a sidecar's `listen.loopbackPort`. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * How long a mock provider takes to answer each call of a burst that a limit lets only some of
 * through: long enough that every call of it reaches the sidecar while those admitted first are
 * still held (at 300 ms a loaded machine could bring the last after the first had ended, and more be
 * admitted than may run at once).
 */
export const BURST_LATENCY_MS = 2_000;

/** Every provider kind the client SDKs are tried against. */
export const EVERY_PROVIDER: readonly MockKind[] = ['openai', 'anthropic', 'gemini', 'ollama'];

const alphanumeric = (length: number) => randomBytes(length).toString('base64').replace(/[^A-Za-z0-9]/g, 'x').slice(0, length);

/**
 * Provider keys in their real formats (ollama has none), fresh on each call: each must be
 * accepted upstream and never reach the client, and a leak of one is told from another file's.
 */
export function realKeys(kinds: readonly MockKind[]): Partial<Record<MockKind, string>> {
  const formats: Partial<Record<MockKind, () => string>> = {
    openai: () => `sk-proj-${alphanumeric(40)}`,
    'openai-compatible': () => `sk-compat-${randomBytes(16).toString('hex')}`,
    anthropic: () => `sk-ant-api03-${alphanumeric(36)}-${alphanumeric(8)}`,
    gemini: () => `AIzaSy${alphanumeric(33)}`,
  };
  return Object.fromEntries(kinds.flatMap((kind) => (formats[kind] ? [[kind, formats[kind]()]] : [])));
}

/** A test file's provider stack: read it inside tests and hooks, once the file's `beforeAll` ran. */
export interface FileProviderStack {
  readonly stack: Stack;
  readonly mocks: Map<MockKind, MockProvider>;
  readonly keys: Partial<Record<MockKind, string>>;
  /** How many requests the mocks have received in all, to show what a refusal kept from them. */
  readonly sentUpstream: number;
}

/**
 * What `call` threw, checked to be the client's own error `as` (its SDK's class for the refusal)
 * and thrown before any mock of `file` received a request: refused by the sidecar, nothing sent
 * upstream. The caller checks the error's shape and what it names.
 */
export async function refusedUnsent<E>(file: FileProviderStack, as: abstract new (...args: never[]) => E, call: () => Promise<unknown>): Promise<E> {
  const before = file.sentUpstream;
  const error = await call().catch((e: unknown) => e);
  expect(error).toBeInstanceOf(as);
  expect(file.sentUpstream).toBe(before);
  return error as E;
}

/**
 * {@link startProviderStack} for a whole test file: started in a `beforeAll` of the file (or of
 * the describe block it is called in), closed in its `afterAll`. Keys default to {@link realKeys}.
 */
export function providerStackForFile(
  sandbox: string,
  options: { kinds?: readonly MockKind[]; keys?: Partial<Record<MockKind, string>>; extra?: Partial<SidecarConfigInput>; models?: Partial<Record<MockKind, string[]>> } = {},
): FileProviderStack {
  const kinds = options.kinds ?? EVERY_PROVIDER;
  const keys = options.keys ?? realKeys(kinds);
  const start = () => startProviderStack(kinds, keys, { ...options.extra, sandbox: { name: sandbox } }, options.models);
  const running = forFile(`the provider stack of ${sandbox}`, start, (started) => started.close());
  return {
    get stack() {
      return running().stack;
    },
    get mocks() {
      return running().mocks;
    },
    keys,
    get sentUpstream() {
      return [...running().mocks.values()].reduce((sum, mock) => sum + mock.received.length, 0);
    },
  };
}

/** A sidecar in front of one mock per provider kind, each serving the model `via-<kind>` and the kind's `models`. */
export async function startProviderStack(
  kinds: readonly MockKind[],
  keys: Partial<Record<MockKind, string>>,
  extra: Partial<SidecarConfigInput> & { sandbox: { name: string } },
  models: Partial<Record<MockKind, string[]>> = {},
): Promise<{ stack: Stack; mocks: Map<MockKind, MockProvider>; close(): Promise<void> }> {
  const dir = await stackDir();
  const mocks = new Map<MockKind, MockProvider>();
  const providers = [];
  for (const kind of kinds) {
    const key = keys[kind];
    const mock = await startMock(kind, key ? { keys: [key] } : {});
    mocks.set(kind, mock);
    providers.push({ name: kind, type: kind, baseURL: mock.url, apiKeys: key ? [{ file: await keyFile(dir, kind, key) }] : [], models: [`via-${kind}`, ...(models[kind] ?? [])].map((name) => ({ name })) });
  }
  const stack = await startStack(dir, { version: 1, providers, ...extra });
  return {
    stack,
    mocks,
    async close() {
      await stack.close();
      await Promise.all([...mocks.values()].map((m) => m.close()));
    },
  };
}

/** Mocks a test file shares, and the stack each of its tests starts in front of them (see {@link stackPerTest}). */
export interface StackPerTest<N extends string> {
  /** The file's mocks by name: read inside tests and hooks, once the file's `beforeAll` ran. */
  readonly mocks: Readonly<Record<N, MockProvider>>;
  /** {@link startStack}, the stack closed after the test that started it. */
  startStack(dir: string, config: SidecarConfigInput): Promise<Stack>;
}

/**
 * For a test file whose tests each start their own sidecar (its limits, its prices) in front of
 * the same mocks: `mocks` started in the file's `beforeAll` and closed in its `afterAll`; after
 * each test the stacks it started are closed and every mock reset (scripts, defaults, requests).
 */
export function stackPerTest<N extends string>(start: Record<N, () => Promise<MockProvider>>): StackPerTest<N> {
  const mocks = {} as Record<N, MockProvider>;
  const names = Object.keys(start) as N[];
  const stacks: Stack[] = [];
  beforeAll(async () => {
    for (const name of names) mocks[name] = await start[name]();
  });
  afterEach(async () => {
    for (const stack of stacks.splice(0)) await stack.close();
    for (const name of names) mocks[name].reset();
  });
  afterAll(async () => {
    for (const name of names) await mocks[name]?.close();
  });
  return {
    mocks,
    async startStack(dir, config) {
      const stack = await startStack(dir, config);
      stacks.push(stack);
      return stack;
    },
  };
}

/** What the sandbox has counted for one model today (`GET /v1/usage` on the socket); zeros before its first call. */
export async function modelUsage(stack: Stack, model: string): Promise<{ requests: number; inputTokens: number; outputTokens: number }> {
  const view = (await (await stack.fetch('/v1/usage')).json()) as { byModel: { model: string; requests: number; inputTokens: number; outputTokens: number }[] };
  return view.byModel.find((m) => m.model === model) ?? { requests: 0, inputTokens: 0, outputTokens: 0 };
}

/** An agent's own trace context: fresh W3C ids and the `traceparent` header that carries them. */
export function agentTraceContext(): { traceId: string; spanId: string; traceparent: string } {
  const traceId = randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-01` };
}

/** What a traced run left: the work's result, and the collector with every span it received. */
export interface Traced<T> {
  result: T;
  spans: CollectedSpan[];
  /** Still listening (its raw bodies and request headers are there to search); close it after the tests. */
  collector: OtlpCollector;
  /** The spans of that name. */
  named(name: string): CollectedSpan[];
}

/**
 * The config of a sandbox `name` with one OpenAI provider `upstream` (model `m`, key `key`) at
 * `baseURL`, exporting spans to the collector, for {@link withCollector}; `telemetry` adds to it.
 */
export function tracedOpenAi(name: string, baseURL: string, key: string, telemetry: { captureMessageContent?: boolean } = {}) {
  return async (dir: string, otlp: { endpoint: string }): Promise<SidecarConfigInput> => ({
    version: 1,
    sandbox: { name },
    providers: [{ name: 'upstream', type: 'openai', baseURL, apiKeys: [{ file: await keyFile(dir, 'key', key) }], models: [{ name: 'm' }] }],
    telemetry: { otlp, ...telemetry },
  });
}

/**
 * A sidecar exporting spans to a collector in this process: starts the collector, then a stack
 * with `config(dir, otlp)` (put `otlp` under `telemetry.otlp`, with headers if wanted), runs
 * `work` against it, and closes the stack, which flushes the spans it still buffers. The stack
 * is closed even when `work` throws.
 */
export async function withCollector<T>(
  config: (dir: string, otlp: { endpoint: string }) => SidecarConfigInput | Promise<SidecarConfigInput>,
  work: (stack: Stack) => Promise<T>,
): Promise<Traced<T>> {
  const collector = await startOtlpCollector();
  try {
    const dir = await stackDir();
    const stack = await startStack(dir, await config(dir, { endpoint: collector.url }));
    let result: T;
    try {
      result = await work(stack);
    } finally {
      await stack.close();
    }
    return { result, spans: collector.spans, collector, named: (name) => collector.spans.filter((s) => s.name === name) };
  } catch (err) {
    await collector.close();
    throw err;
  }
}

/**
 * Something a whole test file shares: started by `start` in a `beforeAll` of the file (or of the
 * describe block it is called in), closed in its `afterAll`. The function returned reads it,
 * inside tests and hooks only.
 */
export function forFile<T>(what: string, start: () => Promise<T>, close: (started: T) => Promise<void>): () => T {
  let started: T | undefined;
  beforeAll(async () => {
    started = await start();
  });
  afterAll(async () => {
    if (started !== undefined) await close(started);
  });
  return () => {
    if (started === undefined) throw new Error(`${what} is not started: read it inside a test or hook`);
    return started;
  };
}

/** Something a test starts that listens at `url`: a provider mock, an MCP backend. */
export interface Upstream {
  readonly url: string;
  close(): Promise<void>;
}

/** A sidecar between a secret and two upstreams (see {@link originStackForFile}). */
export interface OriginStack<U extends Upstream> {
  stack: Stack;
  /** The kubelet-style credentials volume the config's secret file lives in. */
  volume: SecretVolume;
  /** The upstream the operator accepted the secret for; the sidecar starts pointed at it. */
  accepted: U;
  /** Another upstream that would take the secret just as well. */
  other: U;
  /** Rewrites the config to point at `url` (as the kubelet swaps the config volume) and has the sidecar read it. */
  pointAt(url: string): Promise<void>;
}

/**
 * For a test file on secrets that travel with their destination (ADR 0016): two upstreams that
 * would both take the secret, a credentials volume with the secret published for `accepted`
 * (`files(url)`: what the operator renders for a secret accepted for url), and a sidecar whose
 * config (`config(url, credentialsDir)`) points at `accepted`; only the sidecar stands between
 * the secret and `other`. Shared by the file ({@link forFile}).
 */
export function originStackForFile<U extends Upstream>(options: {
  start: (role: 'accepted' | 'other') => Promise<U>;
  files: (url: string) => Record<string, string>;
  config: (url: string, credentialsDir: string) => SidecarConfigInput;
}): () => OriginStack<U> {
  return forFile(
    'the origin stack',
    async () => {
      const accepted = await options.start('accepted');
      const other = await options.start('other');
      const dir = await stackDir();
      const volume = await secretVolume(join(dir, 'credentials'));
      await volume.publish(options.files(accepted.url));
      const stack = await startStack(dir, options.config(accepted.url, volume.path));
      const pointAt = async (url: string) => {
        await stack.writeConfig(options.config(url, volume.path));
        await stack.sidecar.live.check();
      };
      return { stack, volume, accepted, other, pointAt };
    },
    async ({ stack, accepted, other }) => {
      await stack.close();
      await accepted.close();
      await other.close();
    },
  );
}
