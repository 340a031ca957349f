/**
 * What of a sidecar's heap each package holds, from a heap snapshot of the bundle (bench/idle-memory.ts
 * with IDLE_SNAPSHOT writes one): `node --import tsx bench/heap-by-module.ts <file.heapsnapshot> [bundle dir]`.
 * A measurement, not a test.
 *
 * Attribution, per package (node_modules/<package>, or Airlock's sidecar/src/<directory>):
 * - code: each function (closure) by its position in the bundle, mapped back through the bundle's
 *   source maps, with its shared function info, bytecode or machine code and feedback vector;
 * - instances: each object whose constructor is such a function, with its property and element
 *   stores (a class's instances go to the class's package; plain objects and arrays to "plain");
 * - source text: the bundle's chunks are held as strings; each package's bytes in the chunks
 *   that were loaded (every 16th character looked up in the chunk's source map).
 * What no function or class names (strings, plain objects, arrays, Node's own) stays unattributed.
 */
import { readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUNDLE_DIR } from '../sidecar/bundle.js';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]]; edge_fields: string[]; edge_types: [string[]] } };
  nodes: number[];
  edges: number[];
  locations: number[];
  strings: string[];
}

const [file, bundleDir = BUNDLE_DIR] = process.argv.slice(2);
if (!file) throw new Error('usage: node --import tsx bench/heap-by-module.ts <file.heapsnapshot> [bundle dir]');
const snap = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
const { meta } = snap.snapshot;
const NF = meta.node_fields.length;
const EF = meta.edge_fields.length;
const [TYPE, NAME, SIZE, EDGES] = ['type', 'name', 'self_size', 'edge_count'].map((f) => meta.node_fields.indexOf(f)) as [number, number, number, number];
const nodeTypes = meta.node_types[0];
const edgeTypes = meta.edge_types[0];
const { nodes: N, edges: E, strings: S } = snap;
const count = N.length / NF;
const firstEdge = new Uint32Array(count + 1);
for (let i = 0; i < count; i++) firstEdge[i + 1] = firstEdge[i]! + N[i * NF + EDGES]! * EF;

const type = (i: number) => nodeTypes[N[i * NF + TYPE]!]!;
const name = (i: number) => S[N[i * NF + NAME]!]!;
const size = (i: number) => N[i * NF + SIZE]!;
/** The target of `node`'s first edge called `edge` (a property or internal edge). */
function edge(node: number, edgeName: string): number | undefined {
  for (let e = firstEdge[node]!; e < firstEdge[node + 1]!; e += EF) {
    const kind = edgeTypes[E[e]!]!;
    if (kind !== 'element' && kind !== 'hidden' && S[E[e + 1]!] === edgeName) return E[e + 2]! / NF;
  }
  return undefined;
}

/** Package of a source path from the bundle's source maps. */
function packageOf(source: string): string {
  const dependency = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(source);
  if (dependency) return dependency[1]!;
  const own = /(?:^|\/)src\/([^/]+)/.exec(source);
  return own ? `airlock ${own[1]!.replace(/\.ts$/, '')}` : source;
}

const maps = new Map<string, SourceMap | null>();
function sourceMapOf(url: string): SourceMap | null {
  if (!maps.has(url)) {
    let map: SourceMap | null = null;
    if (url.startsWith('file://') && url.includes('/bundle/')) {
      try {
        map = new SourceMap(JSON.parse(readFileSync(`${fileURLToPath(url)}.map`, 'utf8')));
      } catch {
        map = null;
      }
    }
    maps.set(url, map);
  }
  return maps.get(url)!;
}

const totals = new Map<string, { code: number; instances: number; source: number }>();
const add = (pkg: string, field: 'code' | 'instances' | 'source', bytes: number) => {
  const t = totals.get(pkg) ?? { code: 0, instances: 0, source: 0 };
  t[field] += bytes;
  totals.set(pkg, t);
};
const counted = new Uint8Array(count);
const take = (i: number | undefined) => {
  if (i === undefined || counted[i]) return 0;
  counted[i] = 1;
  return size(i);
};

/** Package of each closure (by its location), kept for the constructors of instances below. */
const closurePackage = new Map<number, string>();
const L = snap.locations;
for (let k = 0; k < L.length; k += 4) {
  const closure = L[k]! / NF;
  const shared = edge(closure, 'shared');
  const script = shared === undefined ? undefined : edge(shared, 'script');
  const scriptName = script === undefined ? undefined : edge(script, 'name');
  const url = scriptName === undefined ? '' : name(scriptName);
  let pkg = url.startsWith('node:') || !url ? 'node (its own modules)' : 'other';
  const map = sourceMapOf(url);
  if (map) {
    // The chunk's source string is counted below, through the source map.
    const source = edge(script!, 'source');
    if (source !== undefined) counted[source] = 1;
    const entry = map.findEntry(L[k + 2]!, L[k + 3]!) as { originalSource?: string };
    pkg = entry.originalSource ? packageOf(entry.originalSource) : 'airlock bundle glue';
  }
  closurePackage.set(closure, pkg);
  let bytes = take(closure) + take(edge(closure, 'feedback_cell'));
  if (shared !== undefined) {
    bytes += take(shared);
    const data = edge(shared, 'trusted_function_data') ?? edge(shared, 'function_data');
    bytes += take(data);
    if (data !== undefined) for (const part of ['constant_pool', 'source_position_table', 'handler_table']) bytes += take(edge(data, part));
  }
  add(pkg, 'code', bytes);
}

for (let i = 0; i < count; i++) {
  if (type(i) !== 'object' || counted[i]) continue;
  // An object's map leads, through its back pointers, to the root map that names the constructor.
  let owner = edge(i, 'map');
  for (let hops = 0; owner !== undefined && hops < 64 && type(owner) !== 'closure'; hops++) owner = edge(owner, 'back_pointer') ?? edge(owner, 'constructor_or_back_pointer') ?? edge(owner, 'constructor');
  const pkg = owner === undefined ? undefined : closurePackage.get(owner);
  if (!pkg || pkg === 'node (its own modules)') continue;
  add(pkg, 'instances', take(i) + take(edge(i, 'properties')) + take(edge(i, 'elements')));
}

// Source text: each loaded chunk's bytes, sampled every 16 characters through its source map.
for (const [url, map] of maps) {
  if (!map) continue;
  const lines = readFileSync(fileURLToPath(url), 'utf8').split('\n');
  lines.forEach((line, n) => {
    for (let column = 0; column < line.length; column += 16) {
      const entry = map.findEntry(n, column) as { originalSource?: string };
      add(entry.originalSource ? packageOf(entry.originalSource) : 'airlock bundle glue', 'source', Math.min(16, line.length - column));
    }
  });
}

let heap = 0;
for (let i = 0; i < count; i++) heap += size(i);
const mib = (n: number) => (n / 1024 / 1024).toFixed(2);
const rows = [...totals].sort(([, a], [, b]) => b.code + b.instances + b.source - (a.code + a.instances + a.source));
const attributed = rows.reduce((sum, [, t]) => sum + t.code + t.instances + t.source, 0);
console.log(`heap snapshot ${basename(file)}: ${mib(heap)} MiB in ${count} objects; attributed below ${mib(attributed)} MiB; bundle ${bundleDir}\n`);
console.log('| package | code (functions, bytecode) | instances of its classes | source text | total MiB |\n|---|---|---|---|---|');
for (const [pkg, t] of rows.slice(0, 30)) console.log(`| ${pkg} | ${mib(t.code)} | ${mib(t.instances)} | ${mib(t.source)} | ${mib(t.code + t.instances + t.source)} |`);

// What no package could be named for, by V8's kind of object.
const rest = new Map<string, number>();
for (let i = 0; i < count; i++) {
  if (counted[i]) continue;
  const kind = type(i) === 'object' ? (['Object', 'Array', 'Map', 'Set'].includes(name(i)) ? `object: ${name(i)}` : 'object: other') : type(i) === 'native' || type(i) === 'hidden' ? `${type(i)}: ${name(i).replace(/^system \/ /, '')}` : type(i);
  rest.set(kind, (rest.get(kind) ?? 0) + size(i));
}
console.log(`\n| not attributed (${mib([...rest.values()].reduce((a, b) => a + b, 0))} MiB), by kind | MiB |\n|---|---|`);
for (const [kind, bytes] of [...rest].sort(([, a], [, b]) => b - a).slice(0, 14)) console.log(`| ${kind} | ${mib(bytes)} |`);
