/**
 * Per-frame cost of the streamed relay, without HTTP: an OpenAI stream from the provider mock
 * (the benchmark's request, usage asked for as the sidecar asks), fed to a checkout's OpenAI
 * stream translator and relayed as a native pass-through to a client that did not ask for usage
 * (framing, JSON check, the content and usage reads, the unasked-usage strip, one write's bytes
 * per batch). A micro-benchmark, not a test: it prints nanoseconds and bytes allocated per frame.
 *
 * Usage: node --expose-gc --min-semi-space-size=64 --max-semi-space-size=64 --import tsx
 * bench/stream-frames.ts [checkout] (default: this one). One checkout per process (two in one
 * process share the harness's JIT feedback and slow each other down): alternate the runs. Time is
 * the process's CPU time (robust to other load); bytes are the heap's growth over a run with no
 * garbage collection inside it (the fixed 64 MiB semi-space holds a whole run), so a run that
 * collected anyway reports no bytes.
 */
import { resolve } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { request } from 'undici';
import { startMock } from '../test/mocks/index.js';

interface Translator {
  push(bytes: Uint8Array): { choices?: readonly unknown[]; usage?: unknown }[];
  end(): { choices?: readonly unknown[]; usage?: unknown }[];
  /** The handled frames' bytes (round 5 on), or each frame's text (before). */
  frames?(): Buffer | string[];
}
interface Checkout {
  name: string;
  translator: (context: object) => Translator;
  /** The unasked-usage strip of checkouts that ran it on the frame's text (before round 5). */
  filter: ((frame: never) => string | Buffer) | undefined;
  hasContent: (chunk: object) => boolean;
  /** The content read for an estimate: its tokens by character class (contentTokens), or its characters (contentChars, before). */
  contentCount: (chunk: object) => number;
}

async function load(root: string): Promise<Checkout> {
  const at = (path: string) => import(pathToFileURL(resolve(root, path)).href) as Promise<Record<string, unknown>>;
  const stream = await at('sidecar/src/providers/openai/stream.ts');
  const operations = await at('sidecar/src/server/operations.ts');
  const content = await at('sidecar/src/relay/content.ts');
  return {
    name: root,
    translator: stream.openAIStream as Checkout['translator'],
    filter: operations.withoutUnaskedUsage as Checkout['filter'] | undefined,
    hasContent: content.hasContent as Checkout['hasContent'],
    contentCount: (content.contentTokens ?? content.contentChars) as Checkout['contentCount'],
  };
}

/** One relayed stream, as relay/stream-out.ts does it for a native pass-through; returns the bytes written. */
function relay(c: Checkout, pieces: Uint8Array[]): number {
  const t = c.translator({ requestedModel: 'gpt-bench', id: 'chatcmpl-x', created: 0, hideUsage: true });
  let written = 0;
  let chars = 0;
  let usage: unknown;
  const batch = (chunks: { choices?: readonly unknown[]; usage?: unknown }[]) => {
    for (const chunk of chunks) {
      if (chunk.usage) usage = chunk.usage;
      chars += c.contentCount(chunk);
      c.hasContent(chunk);
    }
    const frames = t.frames?.() ?? [];
    if (Buffer.isBuffer(frames)) {
      written += frames.length;
      return;
    }
    let out = '';
    for (const f of frames) out += c.filter ? (c.filter(f as never) as string) : f;
    // The string goes to the socket as UTF-8 bytes.
    if (out) written += Buffer.byteLength(out);
  };
  for (const piece of pieces) batch(t.push(piece));
  batch(t.end());
  if (usage === undefined || chars === 0) throw new Error('the stream was not relayed');
  return written;
}

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

const mock = await startMock('openai');
const response = await request(`${mock.url}/chat/completions`, {
  method: 'POST',
  headers: { 'content-type': 'application/json', authorization: 'Bearer sk-bench' },
  body: JSON.stringify({ model: 'gpt-bench', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'benchmark request 1 with a few more words in it' }] }),
});
const body = Buffer.from(await response.body.arrayBuffer());
await mock.close();
const frameCount = body.toString('utf8').split('\n\n').length - 1;
const byFrame: Uint8Array[] = [];
for (let from = 0, at = body.indexOf('\n\n'); at >= 0; from = at + 2, at = body.indexOf('\n\n', from)) byFrame.push(body.subarray(from, at + 2));
const shapes: [string, Uint8Array[]][] = [
  ['one chunk', [body]],
  ['a chunk per frame', byFrame],
];

const checkouts = [await load(process.argv[2] ?? '.')];
const STREAMS = 1_000;
let collections = 0;
new PerformanceObserver((list) => (collections += list.getEntries().length)).observe({ entryTypes: ['gc'] });
const tick = () => new Promise((r) => setTimeout(r, 20));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const results = new Map<string, { ns: number[]; bytes: number[] }>();
console.log(`${frameCount} frames, ${body.length} bytes per stream; ${STREAMS} streams per run, ${ROUNDS} rounds`);
for (let round = 0; round < ROUNDS + 1; round++) {
  for (const c of checkouts) {
    for (const [shape, pieces] of shapes) {
      gc();
      await tick(); // the observer hears of the collection above
      const seen = collections;
      const heap = process.memoryUsage();
      const cpu = process.cpuUsage();
      for (let i = 0; i < STREAMS; i++) relay(c, pieces);
      const used = process.cpuUsage(cpu);
      const after = process.memoryUsage();
      await tick();
      const ns = ((used.user + used.system) * 1000) / (STREAMS * frameCount);
      if (process.env.DEBUG) console.log(collections - seen, after.heapUsed - heap.heapUsed);
      const bytes = collections === seen ? (after.heapUsed - heap.heapUsed + after.arrayBuffers - heap.arrayBuffers) / (STREAMS * frameCount) : NaN;
      if (round === 0) continue; // warm-up
      const key = `${c.name} | ${shape}`;
      const r = results.get(key) ?? { ns: [], bytes: [] };
      r.ns.push(ns);
      r.bytes.push(bytes);
      results.set(key, r);
    }
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log('| checkout | chunks | CPU ns per frame, median [min..max] | bytes allocated per frame, median |');
console.log('|---|---|---|---|');
for (const [key, r] of results) {
  const [name, shape] = key.split(' | ');
  console.log(`| ${name} | ${shape} | ${median(r.ns).toFixed(0)} [${Math.min(...r.ns).toFixed(0)}..${Math.max(...r.ns).toFixed(0)}] | ${median(r.bytes.filter((b) => !Number.isNaN(b))).toFixed(0)} |`);
}
