/**
 * Summarises V8 CPU profiles (`node --cpu-prof`, e.g. from `BENCH_PROFILE=dir npm run bench`):
 * the functions with the most self time, and self time by where the code lives (Airlock's own,
 * undici, fastify, Node's internals …). Usage: `node --import tsx bench/profile-top.ts FILE...`.
 */
import { readFile } from 'node:fs/promises';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
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

const self = new Map<string, number>();
const byArea = new Map<string, number>();
let total = 0;
for (const file of process.argv.slice(2)) {
  const profile = JSON.parse(await readFile(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  profile.samples.forEach((id, i) => {
    const node = byId.get(id)!;
    const { functionName, url, lineNumber } = node.callFrame;
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
