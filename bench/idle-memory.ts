/**
 * The sidecar's idle memory, start by start: `node --import tsx bench/idle-memory.ts` builds the
 * bundle as the image does (sidecar/bundle.ts), starts it in front of the benchmark's mock with the
 * bench's config (one OpenAI provider, no MCP backend, no OTLP) once per variant per round, the
 * variants interleaved and their order rotating, and prints median [min..max] per variant of: wall
 * and CPU time from spawn to the first answer, and 1 s after that answer RSS, anonymous,
 * file-backed, PSS and USS (bench/procs.ts, Memory). A measurement, not a test: nothing asserts.
 *
 * Environment:
 * - IDLE_VARIANTS: `name=words;name=words…` (default `shipped=`). Words are added after the `#!`
 *   line's Node flags (a later V8 flag wins); `NAME=value` words are added to its environment;
 *   `@path` runs another bundle's cli.js (a build of another tree).
 * - IDLE_STARTS (5): starts per variant.
 * - IDLE_LATER (0): seconds after the first answer to read the memory again, still idle (and, with
 *   IDLE_LOAD, as long again after the load's reading).
 * - IDLE_LOAD (0): seconds of plain saturation (32 in flight) after that: CPU per request, and the
 *   memory 1 s after the load.
 * - IDLE_PAIR=1: start a second sidecar of the same variant beside the first and read both, for
 *   what a second sandbox pod on a node costs (PSS shares the node binary's pages between them);
 *   IDLE_PAIR_WAIT (1) seconds after the second's first answer (5: after its idle collection).
 * - IDLE_NODE: run the sidecars with this `node` (e.g. a copy of this one: then no other process
 *   shares its file pages, and PSS shows what one sidecar and then a second cost on a node).
 * - IDLE_PROVIDER_URL: the provider's base URL instead of the bench's mock (an https provider, to
 *   see what a first call over TLS costs: give the variant NODE_EXTRA_CA_CERTS=<its CA file>).
 * - IDLE_DETAIL=1: preload bench/memory-probe.mjs and report V8's heap, code and external memory
 *   and the anonymous mappings by kind (1 s after the first answer, and with IDLE_LOAD after the
 *   load and, with IDLE_LATER, once idle after it); IDLE_SNAPSHOT=dir also writes a heap snapshot per start.
 * - IDLE_PAGES=1: the `node` binary's resident pages by what they hold (bench/binary-pages.ts:
 *   V8's tiers, WebAssembly, ICU's code and data items, OpenSSL…), KiB, median per variant.
 */
import { realpathSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { saturate } from './load.js';
import { byGroup, namedRanges, residentPages, sections } from './binary-pages.js';
import { cpuMs, memory, stop, type Memory } from './procs.js';
import { median, spread } from './stats.js';
import { buildSidecar, sidecarNodeSettings, startMockProvider, startSidecar, type Launch } from './targets.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const STARTS = Number(process.env.IDLE_STARTS ?? 5);
const LATER = Number(process.env.IDLE_LATER ?? 0);
const LOAD = Number(process.env.IDLE_LOAD ?? 0);
const PAIR = process.env.IDLE_PAIR === '1';
const PAIR_WAIT = Number(process.env.IDLE_PAIR_WAIT ?? 1);
const DETAIL = process.env.IDLE_DETAIL === '1' || Boolean(process.env.IDLE_SNAPSHOT);
const PAGES = process.env.IDLE_PAGES === '1';
const PROBE = fileURLToPath(new URL('memory-probe.mjs', import.meta.url));

interface Variant {
  name: string;
  flags: string[];
  env: Record<string, string>;
  executable?: string;
}

/** V8's view (from bench/memory-probe.mjs) and the anonymous mappings by kind, MiB. */
type Detail = Record<string, number>;

interface Row {
  readyMs: number;
  readyCpuMs: number;
  idle: Memory;
  detail?: Detail;
  /** KiB of the node binary resident, by group (IDLE_PAGES). */
  pages?: Map<string, number>;
  second?: Memory;
  /** The first sidecar again, with the second running. */
  firstBeside?: Memory;
  later?: Memory;
  cpuPerRequest?: number;
  afterLoad?: Memory;
  afterLoadLater?: Memory;
}

function parseVariants(spec: string): Variant[] {
  return spec
    .split(';')
    .filter(Boolean)
    .map((entry) => {
      const [name, words = ''] = entry.split(/=(.*)/s) as [string, string?];
      const list = words.split(/\s+/).filter(Boolean);
      const executable = list.find((w) => w.startsWith('@'))?.slice(1);
      const env = Object.fromEntries(list.filter((w) => /^[A-Z_][A-Z0-9_]*=/.test(w)).map((w) => [w.slice(0, w.indexOf('=')), w.slice(w.indexOf('=') + 1)]));
      const flags = list.filter((w) => !w.startsWith('@') && !/^[A-Z_][A-Z0-9_]*=/.test(w));
      return { name, flags, env, ...(executable ? { executable } : {}) };
    });
}

const MIB = 1024 * 1024;

/**
 * Anonymous resident memory by kind, from /proc/<pid>/smaps. glibc's thread arenas are 64 MiB
 * aligned reservations (a readable part, then PROT_NONE up to 64 MiB); thread stacks are read-write
 * mappings right after a PROT_NONE guard page. Both are recognised by that shape, so the split is
 * an approximation; the V8 heap's own figure comes from V8 (heap physical).
 */
async function anonymousKinds(pid: number): Promise<Detail> {
  const text = await readFile(`/proc/${pid}/smaps`, 'utf8');
  const maps: { start: number; end: number; perms: string; path: string; rss: number }[] = [];
  for (const line of text.split('\n')) {
    const header = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (header) maps.push({ start: parseInt(header[1]!, 16), end: parseInt(header[2]!, 16), perms: header[3]!, path: header[4]!, rss: 0 });
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) maps.at(-1)!.rss = Number(rss[1]) / 1024;
  }
  const kinds: Detail = { 'malloc main arena ([heap])': 0, 'malloc thread arenas': 0, 'thread stacks': 0, 'main stack': 0, 'other anonymous': 0 };
  maps.forEach((map, i) => {
    if (map.path === '[heap]') kinds['malloc main arena ([heap])']! += map.rss;
    else if (map.path === '[stack]') kinds['main stack']! += map.rss;
    else if (map.path !== '' || map.rss === 0) return;
    else if (map.start % (64 * MIB) === 0 && maps[i + 1]?.perms === '---p' && maps[i + 1]!.end - map.start === 64 * MIB) kinds['malloc thread arenas']! += map.rss;
    else if (maps[i - 1]?.perms === '---p' && maps[i - 1]!.end === map.start && maps[i - 1]!.end - maps[i - 1]!.start === 4096 && map.end - map.start <= 8 * MIB + 4096) kinds['thread stacks']! += map.rss;
    else kinds['other anonymous']! += map.rss;
  });
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  kinds.threads = Number(/^Threads:\s+(\d+)/m.exec(status)?.[1] ?? 0);
  return kinds;
}

/** Asks the preloaded probe for V8's figures (SIGUSR2, then a JSON file), in MiB. */
async function v8Figures(pid: number, file: string): Promise<Detail> {
  process.kill(pid, 'SIGUSR2');
  let report: { memoryUsage: NodeJS.MemoryUsage; heap: Record<string, number>; code: Record<string, number>; spaces: Record<string, { used: number; committed: number; physical: number }> } | undefined;
  for (let i = 0; i < 600 && !report; i++) {
    await sleep(50);
    report = await readFile(file, 'utf8').then(JSON.parse, () => undefined);
  }
  if (!report) throw new Error(`pid ${pid} wrote no memory report to ${file}`);
  const figures: Detail = {
    'heap used': report.heap.used_heap_size! / MIB,
    'heap committed': report.heap.total_heap_size! / MIB,
    'heap physical': report.heap.total_physical_size! / MIB,
    'bytecode and metadata': report.code.bytecode_and_metadata_size! / MIB,
    'machine code and metadata': report.code.code_and_metadata_size! / MIB,
    'script sources (external)': report.code.external_script_source_size! / MIB,
    'external (Buffers, ArrayBuffers…)': report.memoryUsage.external / MIB,
    'of which ArrayBuffers': report.memoryUsage.arrayBuffers / MIB,
  };
  for (const [space, s] of Object.entries(report.spaces)) if (s.physical > 0) figures[`${space} physical (used)`] = s.physical / MIB;
  return figures;
}

/** The node binary's symbols and ICU data items, read once (IDLE_PAGES). */
let named: { ranges: ReturnType<typeof namedRanges>; sections: ReturnType<typeof sections> } | undefined;

async function oneStart(variant: Variant, executable: string, mockURL: string, settings: Launch, round: number): Promise<Row> {
  const probeFile = join(await mkdtemp(join(tmpdir(), 'airlock-idle-')), 'probe.json');
  const launch: Launch = {
    flags: [...settings.flags, ...(DETAIL ? ['--import', PROBE] : []), ...variant.flags],
    ...(process.env.IDLE_NODE ? { node: process.env.IDLE_NODE } : {}),
    env: { ...settings.env, ...variant.env, ...(DETAIL ? { AIRLOCK_MEMORY_PROBE: probeFile } : {}), ...(process.env.IDLE_SNAPSHOT && round === 0 ? { AIRLOCK_HEAP_SNAPSHOT: process.env.IDLE_SNAPSHOT } : {}) },
  };
  const [target] = await startSidecar(variant.name, variant.executable ?? executable, process.env.IDLE_PROVIDER_URL ?? mockURL, false, launch);
  const pid = target!.process.pid!;
  try {
    await sleep(1_000);
    const row: Row = { readyMs: target!.readyMs!, readyCpuMs: target!.readyCpuMs!, idle: await memory(pid) };
    if (DETAIL) row.detail = { ...(await anonymousKinds(pid)), ...(await v8Figures(pid, probeFile)) };
    if (PAGES) {
      const binary = realpathSync(`/proc/${pid}/exe`);
      named ??= { ranges: namedRanges(binary), sections: sections(binary) };
      row.pages = byGroup(residentPages(pid, binary), named.ranges, named.sections);
    }
    if (PAIR) {
      const [second] = await startSidecar(`${variant.name}-2`, variant.executable ?? executable, mockURL, false, { ...launch, env: { ...launch.env, AIRLOCK_HEAP_SNAPSHOT: '' } });
      await sleep(PAIR_WAIT * 1_000);
      row.second = await memory(second!.process.pid!);
      row.firstBeside = await memory(pid);
      await stop(second!.process);
    }
    if (LATER > 0) {
      await sleep(LATER * 1_000);
      row.later = await memory(pid);
    }
    if (LOAD > 0) {
      const before = await cpuMs(pid);
      const result = await saturate(target!.endpoint, false, 32, LOAD);
      row.cpuPerRequest = ((await cpuMs(pid)) - before) / result.latencies.length;
      await sleep(1_000);
      row.afterLoad = await memory(pid);
      if (DETAIL) Object.assign(row.detail!, prefixed('after the load: ', { ...(await anonymousKinds(pid)), ...(await v8Figures(pid, probeFile)) }));
      if (LATER > 0) {
        await sleep(LATER * 1_000);
        row.afterLoadLater = await memory(pid);
        if (DETAIL) Object.assign(row.detail!, prefixed('idle after the load: ', { ...(await anonymousKinds(pid)), ...(await v8Figures(pid, probeFile)) }));
      }
    }
    return row;
  } finally {
    await stop(target!.process);
    await target!.endpoint.dispatcher.close();
  }
}

const prefixed = (prefix: string, figures: Record<string, number>) => Object.fromEntries(Object.entries(figures).map(([k, v]) => [prefix + k, v]));

const mem = (rows: Memory[]) => `${spread(rows.map((m) => m.rss))} / ${median(rows.map((m) => m.anon)).toFixed(0)} / ${median(rows.map((m) => m.file)).toFixed(0)} / ${median(rows.map((m) => m.pss)).toFixed(0)} / ${median(rows.map((m) => m.uss)).toFixed(0)}`;

const variants = parseVariants(process.env.IDLE_VARIANTS ?? 'shipped=');
const settings = await sidecarNodeSettings(root);
const mock = await startMockProvider(root);
console.error('building the sidecar…');
const executable = await buildSidecar(root, root);
const loadBefore = loadavg();
const rows = new Map<string, Row[]>(variants.map((v) => [v.name, []]));
for (let round = 0; round < STARTS; round++) {
  for (let i = 0; i < variants.length; i++) {
    const variant = variants[(i + round) % variants.length]!;
    rows.get(variant.name)!.push(await oneStart(variant, executable, mock.url, settings, round));
  }
  console.error(`round ${round + 1}/${STARTS} done, load ${loadavg()[0]!.toFixed(1)}`);
}
const la = (l: number[]) => l.map((n) => n.toFixed(1)).join(' / ');
console.log(`Node ${process.version}, ${STARTS} interleaved starts per variant, load average (1 / 5 / 15 min) ${la(loadBefore)} before, ${la(loadavg())} after, ${availableParallelism()} cores`);
console.log(`shipped: ${[...Object.entries(settings.env).map(([k, v]) => `${k}=${v}`), ...settings.flags].join(' ')}\n`);
console.log('Memory columns: RSS median [min..max] / anonymous / file-backed / PSS / USS, MiB (medians).\n');
const head = ['variant', 'ready (wall)', 'CPU to ready', '1 s after the first answer'];
if (PAIR) head.push('a second sidecar beside it', 'the first, beside the second');
if (LATER) head.push(`${LATER} s later, idle`);
if (LOAD) head.push(`CPU ms/request (${LOAD} s saturation)`, 'after the load');
if (LOAD && LATER) head.push(`${LATER} s after that`);
console.log(`| ${head.join(' | ')} |\n|${'---|'.repeat(head.length)}`);
for (const variant of variants) {
  const own = rows.get(variant.name)!;
  const cells = [variant.name + (variant.flags.length || Object.keys(variant.env).length ? ` (${[...Object.entries(variant.env).map(([k, v]) => `${k}=${v}`), ...variant.flags].join(' ')})` : ''), `${spread(own.map((r) => r.readyMs))} ms`, `${spread(own.map((r) => r.readyCpuMs))} ms`, mem(own.map((r) => r.idle))];
  if (PAIR) cells.push(mem(own.map((r) => r.second!)), mem(own.map((r) => r.firstBeside!)));
  if (LATER) cells.push(mem(own.map((r) => r.later!)));
  if (LOAD) cells.push(spread(own.map((r) => r.cpuPerRequest!), 3), mem(own.map((r) => r.afterLoad!)));
  if (LOAD && LATER) cells.push(mem(own.map((r) => r.afterLoadLater!)));
  console.log(`| ${cells.join(' | ')} |`);
}
if (DETAIL) {
  console.log(`\n| MiB, median [min..max] | ${variants.map((v) => v.name).join(' | ')} |\n|---|${'---|'.repeat(variants.length)}`);
  for (const field of Object.keys(rows.get(variants[0]!.name)![0]!.detail!)) {
    console.log(`| ${field} | ${variants.map((v) => spread(rows.get(v.name)!.map((r) => r.detail![field] ?? 0), field === 'threads' ? 0 : 1)).join(' | ')} |`);
  }
}
if (PAGES) {
  const groups = [...new Set(variants.flatMap((v) => rows.get(v.name)!.flatMap((r) => [...r.pages!.keys()])))];
  const med = (v: Variant, g: string) => median(rows.get(v.name)!.map((r) => r.pages!.get(g) ?? 0));
  groups.sort((a, b) => med(variants[0]!, b) - med(variants[0]!, a));
  console.log(`\n| node binary resident, KiB (median) | ${variants.map((v) => v.name).join(' | ')} |\n|---|${'---|'.repeat(variants.length)}`);
  console.log(`| **total** | ${variants.map((v) => median(rows.get(v.name)!.map((r) => [...r.pages!.values()].reduce((a, b) => a + b, 0))).toFixed(0)).join(' | ')} |`);
  for (const g of groups) if (variants.some((v) => med(v, g) >= 32)) console.log(`| ${g} | ${variants.map((v) => med(v, g).toFixed(0)).join(' | ')} |`);
}
await stop(mock.target.process);
process.exit(0);
