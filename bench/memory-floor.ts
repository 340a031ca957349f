/**
 * The memory floor under the sidecar: resident memory of the smallest processes that do what one
 * proxy hop must do, each in its own Node process with the sidecar's flags, a second after
 * answering one request (bench/floor.ts is the latency and CPU floor that `npm run bench` runs).
 * `node --import tsx bench/memory-floor.ts` prints one line per step:
 *
 * - node: Node itself with an ES module entry, idle (node:fs and node:http loaded; a bare
 *   `node -e` in CommonJS is ~42 MiB);
 * - node:http: an HTTP server that answered a request;
 * - + undici: the same server relaying the request to an upstream with undici (the sidecar's client);
 * - + fastify: the same relay as a fastify route;
 * - + zod, pino: with the sidecar's validation and logging libraries loaded.
 *
 * A measurement, not a test: nothing asserts.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { sidecarNodeSettings } from './targets.js';

const STEPS = ['node', 'node:http', '+ undici', '+ fastify', '+ zod, pino'] as const;
/** The sidecar's Node flags and allocator setting, read from its entrypoint's `#!` line (docs/adr/0017). */
const SETTINGS = await sidecarNodeSettings(fileURLToPath(new URL('..', import.meta.url)));
const FLAGS = SETTINGS.flags;

/**
 * One step, run by a child Node process as plain JavaScript (`node -e`): the child must load
 * nothing but what the step names, so not this file (tsx, or Node's type stripping, would count).
 */
async function measure(step: string): Promise<void> {
  const { readFileSync } = await import('node:fs');
  const { createServer, request } = await import('node:http');
  const resident = () => {
    const status = readFileSync('/proc/self/status', 'utf8');
    const mib = (field: string) => (Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) / 1024).toFixed(0);
    return `${mib('VmRSS')} MiB (anonymous ${mib('RssAnon')}, file-backed ${mib('RssFile')})`;
  };
  const listen = async (handler: Parameters<typeof createServer>[1]) => {
    const server = createServer(handler);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return (server.address() as { port: number }).port;
  };
  const post = (port: number) =>
    new Promise<void>((resolve) => {
      const req = request({ port, method: 'POST', path: '/', headers: { 'content-type': 'application/json' } }, (res) => res.resume().on('end', resolve));
      req.end('{"model":"m","messages":[]}');
    });
  if (step !== 'node') {
    const upstream = await listen((req, res) => req.resume().on('end', () => res.end('{"ok":true}')));
    let port: number;
    if (step === 'node:http') {
      port = await listen((req, res) => req.resume().on('end', () => res.end('{"ok":true}')));
    } else {
      const { request: relay } = await import('undici');
      const forward = async (body: string) => (await relay(`http://127.0.0.1:${upstream}/`, { method: 'POST', body })).body.text();
      if (step === '+ undici') {
        port = await listen((req, res) => {
          let body = '';
          req.on('data', (chunk: Buffer) => (body += chunk.toString()));
          req.on('end', () => void forward(body).then((text) => res.end(text)));
        });
      } else {
        if (step === '+ zod, pino') await Promise.all([import('zod'), import('pino')]);
        const app = (await import('fastify')).default();
        app.post('/', async (req) => forward(JSON.stringify(req.body)));
        await app.listen({ port: 0, host: '127.0.0.1' });
        port = (app.server.address() as { port: number }).port;
      }
    }
    await post(port);
  }
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  console.log(`| ${step} | ${resident()} |`);
  process.exit(0);
}

console.log(`Node ${process.version}, flags: ${[...Object.entries(SETTINGS.env).map(([k, v]) => `${k}=${v}`), ...FLAGS].join(' ') || 'none'}\n\n| process | resident memory |\n|---|---|`);
for (const step of STEPS) {
  // tsx compiles with esbuild's keepNames, which wraps functions in __name(): give the child one.
  const code = `const __name = (f) => f; (${measure.toString()})(${JSON.stringify(step)})`;
  const run = spawnSync(process.execPath, [...FLAGS, '--input-type=module', '-e', code], { encoding: 'utf8', cwd: fileURLToPath(new URL('..', import.meta.url)), env: { ...process.env, ...SETTINGS.env } });
  process.stdout.write(run.stdout || `| ${step} | failed: ${run.stderr.split('\n').find((line) => line.includes('Error')) ?? run.stderr} |\n`);
}
