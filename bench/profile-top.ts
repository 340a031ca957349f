/**
 * Summarises V8 CPU profiles (`node --cpu-prof`, e.g. from `BENCH_PROFILE=dir npm run bench`):
 * the functions with the most self time, and self time by where the code lives (Airlock's own,
 * undici, fastify, Node's internals …). Usage: `node --import tsx bench/profile-top.ts FILE...`.
 * Frames of the sidecar's bundle (docs/adr/0019) are mapped back to their source files, lines and
 * names through the bundle's source maps.
 */
import { readFile } from 'node:fs/promises';
import { area, label, original, type CallFrame } from './frames.js';

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

const self = new Map<string, number>();
const byArea = new Map<string, number>();
let total = 0;
for (const file of process.argv.slice(2)) {
  const profile = JSON.parse(await readFile(file, 'utf8')) as Profile;
  const frames = new Map(await Promise.all(profile.nodes.map(async (n) => [n.id, await original(n.callFrame)] as const)));
  profile.samples.forEach((id, i) => {
    const frame = frames.get(id)!;
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    const where = area(frame.url, frame.functionName || '(anonymous)');
    if (where === '(idle)') return;
    total += ms;
    const name = label(frame);
    self.set(name, (self.get(name) ?? 0) + ms);
    byArea.set(where, (byArea.get(where) ?? 0) + ms);
  });
}
const pct = (ms: number) => `${((100 * ms) / total).toFixed(1)} %`;
console.log(`busy time ${(total / 1000).toFixed(2)} s\n\n| area | self time |\n|---|---|`);
for (const [where, ms] of [...byArea].sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log(`| ${where} | ${pct(ms)} |`);
console.log(`\n| function | self time |\n|---|---|`);
for (const [name, ms] of [...self].sort((a, b) => b[1] - a[1]).slice(0, TOP)) console.log(`| \`${name}\` | ${pct(ms)} |`);
