/**
 * Summarises V8 CPU profiles (`node --cpu-prof`, e.g. from `BENCH_PROFILE=dir npm run bench`):
 * the functions with the most self time, and self time by where the code lives (Airlock's own,
 * undici, fastify, Node's internals …). Usage: `node --import tsx bench/profile-top.ts FILE...`.
 * Frames of the sidecar's bundle (docs/adr/0019) are mapped back to their source files, lines and
 * names through the bundle's source maps.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { SourceMap, type SourceMapPayload } from 'node:module';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const TOP = Number(process.env.PROFILE_TOP ?? 15);

function area(url: string, name: string): string {
  if (name === '(garbage collector)') return 'garbage collection';
  if (name === '(idle)' || name === '(program)') return name;
  if (/\/sidecar\/(src|dist)\//.test(url)) return 'airlock';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1];
  if (pkg) return pkg;
  if (url.startsWith('node:') || url === '') return 'node internals';
  return 'other';
}

const maps = new Map<string, SourceMap | undefined>();

/** The frame as the source map of its file (when it has one) places it: original file, line, name. */
async function original(frame: CallFrame): Promise<CallFrame> {
  if (!frame.url.startsWith('file:') || !frame.url.endsWith('.js')) return frame;
  if (!maps.has(frame.url)) {
    const mapFile = `${fileURLToPath(frame.url)}.map`;
    maps.set(frame.url, existsSync(mapFile) ? new SourceMap(JSON.parse(await readFile(mapFile, 'utf8')) as SourceMapPayload) : undefined);
  }
  const entry = maps.get(frame.url)?.findEntry(frame.lineNumber, frame.columnNumber);
  if (!entry || !('originalSource' in entry)) return frame;
  // Node fills in the original identifier, which its types do not declare yet.
  const name = (entry as { name?: string }).name;
  return { functionName: name ?? frame.functionName, url: new URL(entry.originalSource, frame.url).href, lineNumber: entry.originalLine, columnNumber: entry.originalColumn };
}

const self = new Map<string, number>();
const byArea = new Map<string, number>();
let total = 0;
for (const file of process.argv.slice(2)) {
  const profile = JSON.parse(await readFile(file, 'utf8')) as Profile;
  const frames = new Map(await Promise.all(profile.nodes.map(async (n) => [n.id, await original(n.callFrame)] as const)));
  profile.samples.forEach((id, i) => {
    const { functionName, url, lineNumber } = frames.get(id)!;
    const name = functionName || '(anonymous)';
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    const where = area(url, name);
    if (where === '(idle)') return;
    total += ms;
    const label = `${name} ${url ? `${url.replace(/^.*\/(node_modules|sidecar)\//, '$1/')}:${lineNumber + 1}` : ''}`.trim();
    self.set(label, (self.get(label) ?? 0) + ms);
    byArea.set(where, (byArea.get(where) ?? 0) + ms);
  });
}
const pct = (ms: number) => `${((100 * ms) / total).toFixed(1)} %`;
console.log(`busy time ${(total / 1000).toFixed(2)} s\n\n| area | self time |\n|---|---|`);
for (const [where, ms] of [...byArea].sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log(`| ${where} | ${pct(ms)} |`);
console.log(`\n| function | self time |\n|---|---|`);
for (const [label, ms] of [...self].sort((a, b) => b[1] - a[1]).slice(0, TOP)) console.log(`| \`${label}\` | ${pct(ms)} |`);
