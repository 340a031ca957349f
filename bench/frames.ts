/**
 * Where a profile's frame lives, shared by the CPU (bench/profile-top.ts) and allocation
 * (bench/alloc.ts) summaries: frames of the sidecar's bundle (docs/adr/0019) are mapped back to
 * their source files, lines and names through the bundle's source maps, then put in an area
 * (Airlock's own code, a package, Node's internals).
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { SourceMap, type SourceMapPayload } from 'node:module';
import { fileURLToPath } from 'node:url';

/** A V8 profile's call frame (CPU and sampling heap profiles share it). */
export interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

/** The area a frame's code belongs to: airlock, a package's name, node internals, garbage collection … */
export function area(url: string, name: string): string {
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
export async function original(frame: CallFrame): Promise<CallFrame> {
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

/** A short label for a frame: its name and where it is, relative to node_modules or sidecar/. */
export function label(frame: CallFrame): string {
  const name = frame.functionName || '(anonymous)';
  return `${name} ${frame.url ? `${frame.url.replace(/^.*\/(node_modules|sidecar)\//, '$1/')}:${frame.lineNumber + 1}` : ''}`.trim();
}
