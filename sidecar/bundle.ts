/**
 * Bundles the sidecar for its image (Dockerfile.sidecar) and for `npm run bench`, which runs what
 * the image runs: esbuild, from `src/cli.ts` to `bundle/cli.js` plus chunks, every dependency
 * inside, so the image needs no node_modules (docs/adr/0019-sidecar-bundle.md).
 *
 * `node sidecar/bundle.ts [OUTDIR] [--sidecar-uid N --tools-uid N]` (Node strips the types;
 * esbuild is a development dependency), then `compile-cache/` beside it: V8's code for what the
 * sidecar compiles on its way to work, made by running it once (warmCompileCache), which cli.ts
 * reads when it exists.
 * The dynamic imports of cli.ts (each command's code), of mcp/lazy.ts (the MCP gateway and the
 * SDK's server side) and of telemetry/tracing.ts (the OpenTelemetry SDK) stay dynamic: esbuild
 * splits them into chunks that load only when reached, as they did from tsc's output.
 */
import { build, type Metafile, type Plugin } from 'esbuild';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmod, chown, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { isBuiltin } from 'node:module';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';

/** Where the bundle goes unless told otherwise: next to src/, ignored by git. */
export const BUNDLE_DIR = join(import.meta.dirname, 'bundle');

/**
 * CommonJS dependencies (pino, prom-client...) call `require` for Node's modules; in an
 * ES module bundle that name does not exist, so each output file gets one bound to itself. Taken
 * through `process.getBuiltinModule`: an `import` of `node:module` would build its ES facade
 * (see builtinsViaRequire). `globalThis.process`, not `process`: a chunk that declares a `process`
 * of its own (OpenTelemetry's Windows machine-id detector) hoists it over the global one, still
 * undefined when the banner runs.
 */
const BANNER = "const require = globalThis.process.getBuiltinModule('node:module').createRequire(import.meta.url);";

/**
 * `import … from 'node:fs'` (any builtin) in an ES module makes Node build the module's ES facade,
 * which reads every export, the lazy getters too, and so loads what they stand for: `fs.promises`
 * (the promise API with readline, the REPL's history, `opendir`, the watchers), the file streams,
 * `crypto.webcrypto`, `buffer.File`, `net.BlockList`, and for `node:http` `WebSocket`, which
 * loads and compiles Node's internal undici (~9 % of the CPU to the first answer in a profile).
 * `require` reads none of them, so the bundle's static imports of Node's modules become requires
 * (the CommonJS dependencies already require them; each named import is then read from the
 * module's exports at the moment it is used). Static imports only: a dynamic `import('http')` (the
 * OTLP exporter's, when it first sends) becomes an import of a chunk, and a chunk made of a
 * CommonJS module exports only `default`, so `{ Agent }` would be undefined.
 */
const builtinsViaRequire: Plugin = {
  name: 'node-builtins-via-require',
  setup(bundler) {
    bundler.onResolve({ filter: /^(node:)?[a-z_]+(\/[a-z_]+)?$/ }, (args) =>
      args.kind === 'import-statement' && isBuiltin(args.path) ? { path: `node:${args.path.replace(/^node:/, '')}`, namespace: 'require-node-builtin' } : undefined,
    );
    bundler.onLoad({ filter: /.*/, namespace: 'require-node-builtin' }, (args) => ({ contents: forwarder(args.path), loader: 'js' }));
  },
};

/**
 * The module that stands for builtin `id`: its exports, each read from Node's module when used.
 * Not `module.exports = require(id)`: esbuild's interop for a named import from CommonJS copies
 * the exports by property descriptor, and reading the descriptor of one of Node's lazy data
 * properties materialises it (`util.diff` and `util.setTraceSigInt` load `node:worker_threads`
 * and ~10 more modules, `fs.Dir` loads `opendir`, `buffer.File` the File API). Getters of its
 * own have plain descriptors; a use costs one more property read.
 */
function forwarder(id: string): string {
  return `const m = require(${JSON.stringify(id)}); module.exports = Object.defineProperties({}, Object.fromEntries(Object.getOwnPropertyNames(m).map((k) => [k, { get: () => m[k], enumerable: true }])));`;
}

/**
 * zod's namespaces (classic, mini and core) export `z.locales`, every language's error messages (~50 modules, ~300 KB of
 * the start chunk, whose text V8 keeps to compile lazily). The sidecar's messages are English
 * (classic zod's default; sidecar/src/zod.ts configures it for mini) and nothing calls
 * `z.config(z.locales.…())`, so zod's locale index becomes one that exports `en` only; `z.locales.de` would be undefined.
 */
const zodEnglishOnly: Plugin = {
  name: 'zod-english-only',
  setup(bundler) {
    bundler.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      /[/\\]zod[/\\]v4[/\\](classic|core|mini)[/\\]/.test(args.importer) ? { path: join(args.resolveDir, '../locales/en.js'), namespace: 'zod-english-only' } : undefined,
    );
    bundler.onLoad({ filter: /.*/, namespace: 'zod-english-only' }, (args) => ({ contents: `export { default as en } from ${JSON.stringify(args.path)};`, loader: 'js', resolveDir: import.meta.dirname }));
  },
};

/**
 * pino's `lib/tools.js` loads `node:worker_threads` for `isMainThread` alone; its transports'
 * module loads thread-stream (`node:worker_threads`, `node:assert`) when pino is loaded, though
 * only `pino.transport()` uses it; sonic-boom loads `node:assert` for one check when a stream is
 * closed. Each builtin is source and code cache resident in every sidecar. The sidecar logs from
 * its main thread through sonic-boom (log/logger.ts) and starts no transport, so for those
 * importers only: `isMainThread` is true (it decides that pino flushes its asynchronous stdout
 * at exit), thread-stream is required when a transport is first made, and `assert` is Node's,
 * loaded when first called.
 */
const pinoWithoutThreads: Plugin = {
  name: 'pino-without-threads',
  setup(bundler) {
    const stubs: { importer: RegExp; specifier: string; contents: string }[] = [
      { importer: /[/\\]pino[/\\]lib[/\\]tools\.js$/, specifier: 'worker_threads', contents: 'module.exports = { isMainThread: true };' },
      { importer: /[/\\]pino[/\\]lib[/\\]transport\.js$/, specifier: 'thread-stream', contents: "module.exports = function ThreadStream(options) { const Real = require('thread-stream'); return new Real(options); };" },
      { importer: /[/\\]sonic-boom[/\\]index\.js$/, specifier: 'assert', contents: "module.exports = function assert(...args) { return process.getBuiltinModule('node:assert')(...args); };" },
    ];
    bundler.onResolve({ filter: /^(worker_threads|thread-stream|assert)$/ }, (args) => {
      // The thread-stream stub's own require is resolved as usual.
      if (args.namespace === 'pino-without-threads') return undefined;
      const stub = stubs.findIndex((s) => s.specifier === args.path && s.importer.test(args.importer));
      return stub < 0 ? undefined : { path: args.importer, namespace: 'pino-without-threads', pluginData: { stub, resolveDir: args.resolveDir } };
    });
    bundler.onLoad({ filter: /.*/, namespace: 'pino-without-threads' }, (args) => {
      const { stub, resolveDir } = args.pluginData as { stub: number; resolveDir: string };
      return { contents: stubs[stub]!.contents, loader: 'js', resolveDir };
    });
  },
};

/** Builds the bundle into `outdir` (emptied first); returns esbuild's metafile (inputs per output). */
export async function bundleSidecar(outdir: string = BUNDLE_DIR): Promise<Metafile> {
  await rm(outdir, { recursive: true, force: true });
  const result = await build({
    entryPoints: { cli: join(import.meta.dirname, 'src/cli.ts') },
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node24',
    // ES module builds first where a package has both: esbuild can drop what is not imported.
    mainFields: ['module', 'main'],
    chunkNames: 'chunks/[name]-[hash]',
    // Whitespace and syntax only: identifiers stay as written, so errors and logs keep the names of
    // classes and functions (`err.name`, pino's `type`) without esbuild's `keepNames`, which wraps
    // every function made at run time in a `defineProperty` (~3-4 % of the CPU per call; ADR 0019).
    minifyWhitespace: true,
    minifySyntax: true,
    // Shipped next to the code so `NODE_OPTIONS=--enable-source-maps` maps a stack back to src/.
    sourcemap: 'linked',
    // The dependencies' licence headers, collected in one file beside the bundle.
    legalComments: 'external',
    banner: { js: BANNER },
    plugins: [builtinsViaRequire, zodEnglishOnly, pinoWithoutThreads],
    metafile: true,
    logLevel: 'warning',
  });
  // The image's entrypoint is cli.js itself (its `#!` line carries the Node flags, ADR 0017).
  await chmod(join(outdir, 'cli.js'), 0o755);
  // The image holds the bundle alone, without a package.json above it: without this one Node
  // would try every chunk as CommonJS first (no static import is left in it: builtinsViaRequire),
  // parsing it twice and looking up a second compile-cache entry.
  await writeFile(join(outdir, 'package.json'), '{ "type": "module" }\n');
  return result.metafile;
}

/** A chat completion over the sidecar's socket; resolves with the status, rejects while nobody listens. */
function chat(socketPath: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path: '/v1/chat/completions', method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      res.resume().on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject).end(JSON.stringify({ model: 'warm', messages: [{ role: 'user', content: 'warm' }] }));
  });
}

/** Whom the warm-up runs as: Node keeps a compile cache per UID (a `…-<uid>` directory). */
export interface WarmAs {
  /** The sidecar container's UID (the image's USER, the operator's default sidecarUID). */
  sidecar: number;
  /** The airlock-tools container's UID (the operator's default toolsUID). */
  tools: number;
}

/**
 * Writes `<outdir>/compile-cache`, V8's code for what the bundle compiles on its way to work
 * (portable: valid wherever the bundle is copied): `run` from start to its first answered chat
 * completion, and `stdio-host` (airlock-tools) from start to listening. The provider is a closed
 * loopback port: the call fails with the sidecar's own error after going through ingress,
 * routing, the relay and the upstream client, the code a first real call runs, with no network and no provider
 * mock in the image build. Node names the cache directory after the UID and reads it only as that
 * UID, so the image build runs each command as its container's default UID (`as`); another UID
 * finds no cache and compiles as before.
 */
export async function warmCompileCache(outdir: string = BUNDLE_DIR, as?: WarmAs): Promise<number> {
  const cache = join(outdir, 'compile-cache');
  await rm(cache, { recursive: true, force: true });
  await mkdir(cache);
  // Each UID creates its own directory in it; read-only again afterwards.
  if (as) await chmod(cache, 0o1777);
  const dir = await mkdtemp(join(tmpdir(), 'airlock-warm-'));
  try {
    await chmod(dir, 0o755);
    await warmRun(outdir, await ownedDir(join(dir, 'run'), as?.sidecar));
    await warmStdioHost(outdir, await ownedDir(join(dir, 'tools'), as?.tools));
  } finally {
    await rm(dir, { recursive: true, force: true });
    await chmod(cache, 0o755);
  }
  const files = (await readdir(cache, { recursive: true, withFileTypes: true })).filter((entry) => entry.isFile()).length;
  if (files === 0) throw new Error(`Node wrote no compile cache into ${cache}`);
  return files;
}

/** A working directory for a warm-up child running as `uid` (or as this process). */
async function ownedDir(path: string, uid: number | undefined): Promise<{ path: string; uid?: number }> {
  await mkdir(path);
  if (uid === undefined) return { path };
  await chown(path, uid, uid);
  return { path, uid };
}

/** Starts the bundle's `args` in `dir.path` as `dir.uid`, runs `until`, then stops it with SIGTERM; it must exit 0. */
async function warmCommand(outdir: string, dir: { path: string; uid?: number }, args: string[], until: (exited: () => number | null) => Promise<void>): Promise<void> {
  const ids = dir.uid === undefined ? {} : { uid: dir.uid, gid: dir.uid };
  const child = spawn(process.execPath, [join(outdir, 'cli.js'), ...args], { cwd: dir.path, stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, NODE_ENV: 'production' }, ...ids });
  const exited = once(child, 'exit');
  try {
    await until(() => child.exitCode);
  } finally {
    child.kill('SIGTERM');
  }
  const [code] = (await exited) as [number | null];
  if (code !== 0) throw new Error(`warming the compile cache: airlock-sidecar ${args[0]} exited with ${code}`);
}

/** Retries `attempt` every 10 ms for up to 30 s while the child lives. */
async function retry(exited: () => number | null, attempt: () => Promise<unknown>): Promise<void> {
  for (let tries = 0; ; tries++) {
    if (exited() !== null) throw new Error(`warming the compile cache: the sidecar exited with ${exited()} before answering (its stderr is above)`);
    try {
      await attempt();
      return;
    } catch (err) {
      if (tries >= 3000) throw err;
    }
    await sleep(10);
  }
}

async function warmRun(outdir: string, dir: { path: string; uid?: number }): Promise<void> {
  const socketPath = join(dir.path, 'airlock.sock');
  const key = join(dir.path, 'key');
  await writeFile(key, 'sk-warm');
  if (dir.uid !== undefined) await chown(key, dir.uid, dir.uid);
  const config = {
    version: 1,
    sandbox: { name: 'warm' },
    listen: { socket: { path: socketPath }, admin: { host: '127.0.0.1', port: 0 } },
    telemetry: { logLevel: 'error' },
    providers: [{ name: 'warm', type: 'openai', baseURL: 'http://127.0.0.1:9/v1', apiKeys: [{ file: key }], models: [{ name: 'warm' }], retries: { maxAttempts: 1 } }],
  };
  // JSON is YAML: the config loader reads it as it is.
  await writeFile(join(dir.path, 'config.json'), JSON.stringify(config));
  await warmCommand(outdir, dir, ['run', '--config', join(dir.path, 'config.json')], (exited) => retry(exited, () => chat(socketPath)));
}

async function warmStdioHost(outdir: string, dir: { path: string; uid?: number }): Promise<void> {
  const socketPath = join(dir.path, 'stdio.sock');
  const connects = () =>
    new Promise<void>((resolve, reject) => {
      const socket = connect(socketPath, () => socket.end(resolve));
      socket.on('error', reject);
    });
  await warmCommand(outdir, dir, ['stdio-host', '--socket', socketPath], (exited) => retry(exited, connects));
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { 'sidecar-uid': { type: 'string' }, 'tools-uid': { type: 'string' } } });
  const outdir = positionals[0] ?? BUNDLE_DIR;
  const as = values['sidecar-uid'] && values['tools-uid'] ? { sidecar: Number(values['sidecar-uid']), tools: Number(values['tools-uid']) } : undefined;
  const metafile = await bundleSidecar(outdir);
  const outputs = Object.entries(metafile.outputs).filter(([name]) => name.endsWith('.js'));
  const modules = new Set(outputs.flatMap(([, output]) => Object.keys(output.inputs)));
  const kib = outputs.reduce((sum, [, output]) => sum + output.bytes, 0) / 1024;
  console.log(`${outdir}: ${outputs.length} files, ${kib.toFixed(0)} KiB, ${modules.size} modules`);
  console.log(`compile cache: ${await warmCompileCache(outdir, as)} files`);
}
