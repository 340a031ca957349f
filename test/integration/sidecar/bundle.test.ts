/**
 * The sidecar as the image runs it: the esbuild bundle (sidecar/bundle.ts, docs/adr/0019) in a
 * directory with no node_modules above it, so every dependency must come from the bundle. The
 * other integration tests start the sidecar from src/; this one covers what only the bundle can
 * get wrong: chunks loaded lazily (the MCP gateway, the OpenTelemetry SDK and its dynamic
 * `import('http')`), CommonJS dependencies' `require`, and the compile cache made at build time.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import OpenAI from 'openai';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleSidecar, warmCompileCache } from '../../../sidecar/bundle.js';
import { startMock, type MockProvider } from '../../mocks/index.js';
import { startOtlpCollector, type OtlpCollector } from '../../mocks/otlp-collector.js';
import { IMPORT_CHUNKS } from '../../images/contents.js';

const KEY = 'sk-bundle-0123456789abcdef';
let dir: string;
let mock: MockProvider;
let collector: OtlpCollector;
let child: ChildProcess;
let stderr = '';
let stdout = '';
let dispatcher: Agent;
let compileCacheFiles: number;
let bundledInputs: string[];
let chunkInputs: Map<string, string[]>;
let bundle: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'airlock-bundle-'));
  bundle = join(dir, 'bundle');
  const metafile = await bundleSidecar(bundle);
  bundledInputs = Object.keys(metafile.inputs);
  // Output file name (cli.js, chunks/…) → the source files esbuild put in it.
  chunkInputs = new Map(Object.entries(metafile.outputs).map(([out, { inputs }]) => [out.slice(out.lastIndexOf('/bundle/') + '/bundle/'.length), Object.keys(inputs)]));
  compileCacheFiles = await warmCompileCache(bundle);
  mock = await startMock('openai', { keys: [KEY] });
  collector = await startOtlpCollector();
  await writeFile(join(dir, 'key'), KEY);
  const socketPath = join(dir, 'airlock.sock');
  // JSON is YAML.
  const config = {
    version: 1,
    sandbox: { name: 'bundle' },
    listen: { socket: { path: socketPath }, admin: { host: '127.0.0.1', port: 0 } },
    telemetry: { otlp: { endpoint: collector.url } },
    providers: [{ name: 'oa', type: 'openai', baseURL: mock.url, apiKeys: [{ file: join(dir, 'key') }], models: [{ name: 'gpt-4o-mini' }] }],
  };
  await writeFile(join(dir, 'config.json'), JSON.stringify(config));
  // A preload that writes the builtin modules Node has loaded when asked (SIGUSR2); by `require`
  // and `getBuiltinModule`, which load nothing the sidecar would not.
  await writeFile(join(dir, 'modules.cjs'), `process.on('SIGUSR2', () => process.getBuiltinModule('node:fs').writeFileSync(${JSON.stringify(join(dir, 'modules.txt'))}, process.moduleLoadList.join('\\n')));`);
  child = spawn(process.execPath, ['--require', join(dir, 'modules.cjs'), join(bundle, 'cli.js'), 'run', '--config', join(dir, 'config.json')], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_ENV: 'production' } });
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  child.stdout!.on('data', (chunk) => (stdout += chunk));
  dispatcher = new Agent({ connect: { socketPath } });
  for (let waited = 0; (await undiciFetch('http://airlock/readyz', { dispatcher }).catch(() => undefined))?.status !== 200; waited += 100) {
    if (waited > 30_000 || child.exitCode !== null) throw new Error(`the bundled sidecar never became ready (exit ${child.exitCode}): ${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}, 120_000);

afterAll(async () => {
  // Wait for the exit: Node writes the compile cache as the process ends, into the directory
  // removed below (a removal racing that write failed with ENOTEMPTY).
  if (child && child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
  await dispatcher?.close();
  await mock?.close();
  await collector?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const fetchThroughSocket = ((url: string, init?: Parameters<typeof undiciFetch>[1]) => undiciFetch(url, { ...init, dispatcher })) as unknown as typeof globalThis.fetch;

/**
 * Runs the bundled sidecar a second time, on the bench's shape of config (one OpenAI provider, no
 * OTLP) written by `text`, with `preload` required first: once it answers ready, `use` calls it
 * through its socket; then SIGUSR2 asks the preload to write its record to `file` (done when it
 * holds `marker`), and the process is stopped. Returns the record.
 */
async function recordedRun(name: string, preload: string, file: string, marker: string, text: (config: object) => string, use?: (agent: Agent) => Promise<void>): Promise<string> {
  const socketPath = join(dir, `${name}.sock`);
  const config = { version: 1, sandbox: { name }, listen: { socket: { path: socketPath }, admin: { host: '127.0.0.1', port: 0 } }, providers: [{ name: 'oa', type: 'openai', baseURL: mock.url, apiKeys: [{ file: join(dir, 'key') }], models: [{ name: 'gpt-4o-mini' }] }] };
  await writeFile(join(dir, `${name}.yaml`), text(config));
  const child = spawn(process.execPath, ['--require', preload, join(bundle, 'cli.js'), 'run', '--config', join(dir, `${name}.yaml`)], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    const agent = new Agent({ connect: { socketPath } });
    await expect.poll(() => undiciFetch('http://airlock/readyz', { dispatcher: agent }).then((r) => r.status, () => 0), { timeout: 30_000, interval: 100 }).toBe(200);
    await use?.(agent);
    await agent.close();
    child.kill('SIGUSR2');
    await expect.poll(() => readFile(file, 'utf8').catch(() => ''), { timeout: 10_000 }).toContain(marker);
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
  return readFile(file, 'utf8');
}

describe('the bundled sidecar, with no node_modules', () => {
  it('loads every chunk, those only another platform or a later call reaches included', async () => {
    // The banner runs first in every chunk: a chunk that declares a `process` of its own (the
    // OpenTelemetry resource detectors' Windows machine id) hoists it over the global one.
    const { stdout: out } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', IMPORT_CHUNKS, 'import-chunks', join(bundle, 'chunks')], { cwd: '/' });
    const loaded = JSON.parse(out) as { count: number; failures: string[] };
    expect(loaded.failures).toEqual([]);
    expect(loaded.count).toBeGreaterThan(20);
  });

  it('was built with a compile cache', () => {
    expect(compileCacheFiles).toBeGreaterThan(0);
  });

  it('starts without the builtins only ES facades, pino\'s transports or fs/promises would load (bench/README.md, "Round 6: the last builtins")', async () => {
    // The bench's shape of config: no OTLP (the OpenTelemetry SDK, loaded at start when an
    // endpoint is set, brings Node's promise file API with it).
    const file = join(dir, 'modules.txt');
    const record = await recordedRun('plain', join(dir, 'modules.cjs'), file, 'NativeModule', (config) => JSON.stringify(config));
    const loaded = new Set(record.split('\n').filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice('NativeModule '.length)));
    // The server is up: the check would pass vacuously on a process that loaded nothing.
    expect(loaded).toContain('http');
    const unwanted = ['fs/promises', 'internal/fs/promises', 'internal/readline/interface', 'internal/repl/history', 'internal/fs/streams', 'internal/crypto/webcrypto', 'internal/file', 'internal/blocklist', 'internal/fs/dir', 'internal/util/diff', 'worker_threads', 'assert'];
    expect(unwanted.filter((m) => loaded.has(m))).toEqual([]);
  });

  it("serves its first call from the operator's JSON config without classic zod or the YAML parser (bench/README.md, \"Round 7\")", async () => {
    // Classic zod costs ~5 MiB and the YAML parser ~1.5 MiB of an idle sidecar's memory; zod/mini
    // (sidecar/src/zod.ts) and JSON.parse for the operator's rendering do the same work. Which
    // chunks the process loads is recorded by Node's module hooks, asked for by SIGUSR2.
    const urls = join(dir, 'urls.txt');
    await writeFile(
      join(dir, 'urls.cjs'),
      `const seen = []; require('node:module').registerHooks({ load(url, context, next) { seen.push(url); return next(url, context); } });
process.on('SIGUSR2', () => require('node:fs').writeFileSync(${JSON.stringify(urls)}, seen.join('\\n')));`,
    );
    const operatorRendering = (config: object) => `# Rendered by airlock-operator from AgentSandbox default/lean. Do not edit.\n${JSON.stringify(config, null, 2)}\n`;
    const record = await recordedRun('lean', join(dir, 'urls.cjs'), urls, 'cli.js', operatorRendering, async (agent) => {
      const chat = (messages: unknown) => undiciFetch('http://airlock/v1/chat/completions', { dispatcher: agent, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o-mini', messages }) });
      expect((await chat([{ role: 'user', content: 'hi' }])).status).toBe(200);
      // A request the schema refuses: its message is zod's English, through mini.
      const refused = await chat('hi');
      expect(refused.status).toBe(400);
      expect(((await refused.json()) as { error: { message: string } }).error.message).toMatch(/expected array/);
    });
    const loaded = record.split('\n').filter((url) => url.startsWith('file:')).map((url) => url.slice(url.lastIndexOf('/bundle/') + '/bundle/'.length));
    // The sidecar itself was loaded: the check would pass vacuously otherwise.
    expect(loaded.some((chunk) => chunkInputs.get(chunk)?.some((input) => input.endsWith('src/sidecar.ts')))).toBe(true);
    const heavy = loaded.flatMap((chunk) => (chunkInputs.get(chunk) ?? []).filter((input) => /node_modules\/(zod\/v4\/classic|yaml)\//.test(input)).map((input) => `${chunk}: ${input}`));
    expect(heavy).toEqual([]);
  });

  it('holds no HTTP framework: the servers run on node:http with the sidecar\'s own router (ADR 0024)', async () => {
    const bundle = join(dir, 'bundle');
    const files = (await readdir(bundle, { recursive: true })).filter((f) => f.endsWith('.js'));
    // esbuild names each bundled file in a comment (`// node_modules/fastify/fastify.js`).
    const framework = /node_modules\/(fastify|find-my-way|avvio|light-my-request|@fastify\/[\w-]+)\//;
    for (const file of files) expect(framework.exec(await readFile(join(bundle, file), 'utf8'))?.[0], file).toBeUndefined();
    expect(files.length).toBeGreaterThan(1);
  });

  it("refuses a bad config in zod's English, the one locale the bundle keeps", async () => {
    const bad = join(dir, 'bad.json');
    await writeFile(bad, JSON.stringify({ version: 1, sandbox: { name: 5 }, providers: [{ name: 'p', type: 'nope', models: [] }] }));
    const check = spawn(process.execPath, [join(dir, 'bundle', 'cli.js'), 'check-config', bad], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    let out = '';
    check.stderr!.on('data', (chunk) => (out += chunk));
    const code = await new Promise<number | null>((resolve) => check.once('close', resolve));
    expect(code).toBe(1);
    expect(out).toContain(`${bad}: sandbox.name: Invalid input: expected string, received number`);
    expect(out).toContain(`${bad}: providers.0.type: Invalid option: expected one of`);
  });

  it('holds no undici: the upstream client is Node\'s own http (ADR 0023)', async () => {
    expect(bundledInputs.filter((input) => input.includes('node_modules/undici/'))).toEqual([]);
    const bundle = join(dir, 'bundle');
    const files = (await readdir(bundle, { recursive: true })).filter((f) => f.endsWith('.js'));
    for (const file of files) expect((await readFile(join(bundle, file), 'utf8')).includes('undici'), file).toBe(false);
    expect(files.length).toBeGreaterThan(1);
  });

  it('answers the OpenAI SDK through the socket and exports the call as a span over OTLP', async () => {
    const openai = new OpenAI({ apiKey: 'unused-by-airlock', baseURL: 'http://airlock/v1', fetch: fetchThroughSocket, maxRetries: 0 });
    const completion = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello from the bundle' }] });
    expect(completion.choices[0]?.message.content).toBeTruthy();
    // The OTLP exporter loads node:http with a dynamic import when it first sends.
    await expect.poll(() => collector.spans.length, { timeout: 20_000, interval: 200 }).toBeGreaterThan(0);
    expect(collector.spans.map((span) => span.resource['service.name'])).toContain('airlock-sidecar');
  });

  it('loads the MCP gateway chunk on the first /mcp call and lists the model tools to the MCP SDK', async () => {
    const client = new Client({ name: 'agent', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL('http://airlock/mcp'), { fetch: fetchThroughSocket }));
    const { tools } = await client.listTools();
    expect(tools.length).toBeGreaterThan(0);
    await client.close();
    expect(stderr).toBe('');
  });

  it('logs JSON lines to stdout through pino, the last ones written as it exits on SIGTERM, and never the key', async () => {
    // 'close', not 'exit': Node may emit 'exit' before the last bytes of the child's stdout pipe
    // are read, and then the last lines were missing here (1 run in 5) though the sidecar wrote them.
    const closed = new Promise((resolve) => child.once('close', resolve));
    child.kill('SIGTERM');
    expect(await closed).toBe(0);
    const lines = stdout.trim().split('\n').map((line) => JSON.parse(line) as { level: number; component: string; module?: string; msg: string });
    expect(lines.length).toBeGreaterThan(1);
    expect(lines.every((line) => typeof line.level === 'number' && typeof line.msg === 'string')).toBe(true);
    // Written during the shutdown, the last just before the process exits.
    const messages = lines.map((line) => `${line.module ?? line.component}: ${line.msg}`);
    const shutdown = messages.indexOf('airlock-sidecar: shutting down: finishing requests in flight');
    expect(shutdown).toBeGreaterThan(0);
    expect(messages.slice(shutdown + 1).at(-1)).toBe('mcp: MCP gateway closed');
    expect(stdout).not.toContain(KEY);
  });
});
