/**
 * The memory floor under the sidecar: resident memory of the smallest processes that do what one
 * proxy hop must do, each in its own Node process with the sidecar's flags (its `#!` line), a
 * second after answering one request relayed to the benchmark's mock provider (its own process),
 * and optionally the CPU each spends per request at saturation (bench/floor.ts is the latency
 * floor that `npm run bench` runs). `node --import tsx bench/memory-floor.ts`; FLOOR_STARTS (3)
 * interleaved starts per step, FLOOR_LOAD (0) seconds of plain saturation (32 in flight) per start.
 *
 * Steps, each adding to the one before:
 * - node: Node itself, idle (a bare `node -e` in CommonJS is ~42 MiB);
 * - node:http: an HTTP server that answered a request itself;
 * - + undici: the server relaying the request to the mock with undici (the sidecar's client);
 * - + fastify: the same relay as a fastify route;
 * - + zod, pino: with the sidecar's validation and logging libraries loaded;
 * - + http client: the relay with Node's own `http.request` and a keep-alive Agent instead of undici;
 * - + hand router: that relay behind a method-and-path table instead of fastify (the body parsed
 *   and serialised again, as fastify's route does).
 *
 * The "ES" steps import `node:http` as an ES module, which makes Node build its ES facade and so
 * load its internal undici (WebSocket); the "require" steps load it by `require`, as the bundle
 * does (docs/adr/0019). A measurement, not a test: nothing asserts.
 */
import { spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { dispatcherFor, saturate } from './load.js';
import { cpuMs, firstLine, memory, stop, type Memory } from './procs.js';
import { median, spread } from './stats.js';
import { KEY, sidecarNodeSettings, startMockProvider } from './targets.js';

interface Step {
  name: string;
  /** How node:http is loaded. */
  http: 'import' | 'require';
  server: 'none' | 'self' | 'relay' | 'fastify' | 'router';
  client?: 'undici' | 'http';
  zodPino?: boolean;
}

const STEPS: Step[] = [
  { name: 'node', http: 'import', server: 'none' },
  { name: 'node:http', http: 'import', server: 'self' },
  { name: '+ undici', http: 'import', server: 'relay', client: 'undici' },
  { name: '+ fastify', http: 'import', server: 'fastify', client: 'undici' },
  { name: '+ zod, pino', http: 'import', server: 'fastify', client: 'undici', zodPino: true },
  { name: 'node', http: 'require', server: 'none' },
  { name: 'node:http', http: 'require', server: 'self' },
  { name: '+ undici', http: 'require', server: 'relay', client: 'undici' },
  { name: '+ fastify', http: 'require', server: 'fastify', client: 'undici' },
  { name: '+ zod, pino', http: 'require', server: 'fastify', client: 'undici', zodPino: true },
  { name: 'node:http + http client', http: 'require', server: 'relay', client: 'http' },
  { name: '+ hand router', http: 'require', server: 'router', client: 'http' },
  { name: '+ zod, pino', http: 'require', server: 'router', client: 'http', zodPino: true },
];
const STARTS = Number(process.env.FLOOR_STARTS ?? 3);
const LOAD = Number(process.env.FLOOR_LOAD ?? 0);

/**
 * One step's process, run by a child Node process as plain JavaScript (`node -e`): the child must
 * load nothing but what the step names, so not this file (tsx, or Node's type stripping, would
 * count). Prints its port (0 without a server), then serves until killed.
 */
async function child(step: Step, upstream: string, key: string): Promise<void> {
  const { createRequire } = await import('node:module');
  const require = createRequire(`${process.cwd()}/`);
  const http: typeof import('node:http') = step.http === 'require' ? require('node:http') : await import('node:http');
  if (step.zodPino) await Promise.all([import('zod'), import('pino')]);
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${key}` };
  let forward: (body: string) => Promise<string> = async () => '{"ok":true}';
  if (step.client === 'undici') {
    const { Agent } = await import('undici');
    const agent = new Agent({ keepAliveTimeout: 30_000, connections: 256 });
    forward = async (body) => (await agent.request({ origin: new URL(upstream).origin, path: new URL(upstream).pathname, method: 'POST', headers, body })).body.text();
  } else if (step.client === 'http') {
    const agent = new http.Agent({ keepAlive: true, keepAliveMsecs: 30_000, maxSockets: 256 });
    forward = (body) =>
      new Promise((resolve, reject) => {
        const req = http.request(upstream, { method: 'POST', agent, headers }, (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
          res.on('end', () => resolve(text)).on('error', reject);
        });
        req.on('error', reject).end(body);
      });
  }
  const readBody = (req: import('node:http').IncomingMessage) =>
    new Promise<string>((resolve) => {
      let body = '';
      req.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      req.on('end', () => resolve(body));
    });
  const reply = (res: import('node:http').ServerResponse, status: number, text: string) => res.writeHead(status, { 'content-type': 'application/json' }).end(text);
  let port = 0;
  if (step.server === 'fastify') {
    const app = (await import('fastify')).default();
    app.post('/v1/chat/completions', async (req) => forward(JSON.stringify(req.body)));
    await app.listen({ port: 0, host: '127.0.0.1' });
    port = (app.server.address() as { port: number }).port;
  } else if (step.server !== 'none') {
    const routes = new Map<string, (body: string) => Promise<string>>([['POST /v1/chat/completions', (body) => forward(JSON.stringify(JSON.parse(body)))]]);
    const server = http.createServer((req, res) => {
      if (step.server !== 'router') return void readBody(req).then((body) => forward(body).then((text) => reply(res, 200, text)));
      const route = routes.get(`${req.method} ${req.url?.split('?')[0]}`);
      if (!route) return reply(res, 404, '{"error":"not found"}');
      void readBody(req)
        .then(route)
        .then((text) => reply(res, 200, text), () => reply(res, 502, '{"error":"upstream"}'));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  }
  console.log(port);
  // Alive until killed, server or not.
  setInterval(() => undefined, 1 << 30);
}

const root = fileURLToPath(new URL('..', import.meta.url));
const SETTINGS = await sidecarNodeSettings(root);
const mock = await startMockProvider(root);
const upstream = `${mock.url.replace(/\/$/, '')}/chat/completions`;

interface Sample {
  memory: Memory;
  cpuPerRequest?: number;
  afterLoad?: Memory;
}

async function measure(step: Step): Promise<Sample> {
  // tsx compiles with esbuild's keepNames, which wraps functions in __name(): give the child one.
  const code = `const __name = (f) => f; (${child.toString()})(${JSON.stringify(step)}, ${JSON.stringify(upstream)}, ${JSON.stringify(KEY)})`;
  const proc = spawn(process.execPath, [...SETTINGS.flags, '--input-type=module', '-e', code], { cwd: root, env: { ...process.env, ...SETTINGS.env }, stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const port = Number(await firstLine(proc));
    const endpoint = { dispatcher: dispatcherFor(), origin: `http://127.0.0.1:${port}`, path: '/v1/chat/completions', headers: { 'content-type': 'application/json' } };
    if (port) await saturate(endpoint, false, 1, 0.001);
    await sleep(1_000);
    const sample: Sample = { memory: await memory(proc.pid!) };
    if (port && LOAD > 0) {
      const before = await cpuMs(proc.pid!);
      const result = await saturate(endpoint, false, 32, LOAD);
      sample.cpuPerRequest = ((await cpuMs(proc.pid!)) - before) / result.latencies.length;
      await sleep(1_000);
      sample.afterLoad = await memory(proc.pid!);
    }
    await endpoint.dispatcher.close();
    return sample;
  } finally {
    await stop(proc);
  }
}

const samples = STEPS.map((): Sample[] => []);
const loadBefore = loadavg();
for (let round = 0; round < STARTS; round++) {
  for (let i = 0; i < STEPS.length; i++) {
    const index = (i + round) % STEPS.length;
    samples[index]!.push(await measure(STEPS[index]!));
  }
  console.error(`round ${round + 1}/${STARTS} done`);
}
const la = (l: number[]) => l.map((n) => n.toFixed(1)).join(' / ');
console.log(`Node ${process.version}, flags: ${[...Object.entries(SETTINGS.env).map(([k, v]) => `${k}=${v}`), ...SETTINGS.flags].join(' ') || 'none'}; ${STARTS} interleaved starts per step, load average ${la(loadBefore)} before, ${la(loadavg())} after\n`);
console.log(`| node:http loaded by | process | RSS 1 s after one answer | anonymous | file-backed | PSS | USS |${LOAD ? ` CPU ms/request (${LOAD} s saturation) | RSS after the load |` : ''}`);
console.log(`|---|---|---|---|---|---|---|${LOAD ? '---|---|' : ''}`);
STEPS.forEach((step, i) => {
  const own = samples[i]!;
  const m = (field: keyof Memory) => median(own.map((s) => s.memory[field])).toFixed(0);
  const load = LOAD && own[0]!.cpuPerRequest !== undefined ? ` ${spread(own.map((s) => s.cpuPerRequest!), 3)} | ${spread(own.map((s) => s.afterLoad!.rss))} |` : LOAD ? ' — | — |' : '';
  console.log(`| ${step.http} | ${step.name} | ${spread(own.map((s) => s.memory.rss))} | ${m('anon')} | ${m('file')} | ${m('pss')} | ${m('uss')} |${load}`);
});
await stop(mock.target.process);
process.exit(0);
