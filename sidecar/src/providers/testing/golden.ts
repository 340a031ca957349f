/**
 * Support for golden-file tests: fixtures are JSON files (input and expected output) beside raw
 * provider streams (the exact bytes), and streams are fed to translators in awkward splits to
 * prove framing. Set AIRLOCK_UPDATE_GOLDEN=1 to rewrite expectations from the code (then review
 * the diff: a golden file is only as good as the reading it got).
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AdapterError, type StreamTranslator } from '../types.js';

/** Whether this run rewrites expectations. */
export const UPDATE_GOLDEN = process.env.AIRLOCK_UPDATE_GOLDEN === '1';

/** One fixture file. */
export interface Fixture {
  path: string;
  name: string;
  data: Record<string, unknown>;
}

/** The fixtures (`*.json`) of a golden directory, sorted by name. */
export function readFixtures(dir: string): Fixture[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => ({ path: join(dir, f), name: f.slice(0, -5), data: JSON.parse(readFileSync(join(dir, f), 'utf8')) as Record<string, unknown> }));
}

/** Rewrites a fixture's expectation (update mode only). */
export function updateFixture(fixture: Fixture, expected: Record<string, unknown>): void {
  const data = { ...fixture.data };
  delete data.expected;
  delete data.throws;
  writeFileSync(fixture.path, `${JSON.stringify({ ...data, ...expected }, null, 2)}\n`);
}

/** An error as a fixture records it: the class name and the canonical error. */
export function describeError(err: unknown): Record<string, unknown> {
  if (err instanceof AdapterError) return { class: err.name, ...err.error };
  throw err;
}

/** Runs fn; its value, or the error it threw as `{throws}`. */
export function outcome(fn: () => unknown): { expected: unknown } | { throws: Record<string, unknown> } {
  try {
    return { expected: fn() };
  } catch (err) {
    return { throws: describeError(err) };
  }
}

/** A small seeded PRNG, so "random" splits are the same on every run. */
export function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Ways to deliver the same bytes: whole, byte by byte (splitting every multi-byte character and
 * every CR LF), just after each newline, just before each newline, and seeded random cuts.
 */
export function splits(bytes: Uint8Array): [string, Uint8Array[]][] {
  const cutAt = (cuts: number[]): Uint8Array[] => {
    const pieces: Uint8Array[] = [];
    let from = 0;
    for (const cut of [...new Set(cuts)].sort((a, b) => a - b)) {
      if (cut <= from || cut >= bytes.length) continue;
      pieces.push(bytes.subarray(from, cut));
      from = cut;
    }
    pieces.push(bytes.subarray(from));
    return pieces;
  };
  const newlines = [...bytes.keys()].filter((i) => bytes[i] === 0x0a);
  const out: [string, Uint8Array[]][] = [
    ['whole', [bytes]],
    ['byte by byte', [...bytes].map((b) => Uint8Array.of(b))],
    ['after each newline', cutAt(newlines.map((i) => i + 1))],
    ['before each newline', cutAt(newlines)],
  ];
  for (const seed of [1, 2, 3, 4, 5]) {
    const random = mulberry32(seed);
    const cuts = Array.from({ length: Math.max(1, Math.floor(bytes.length / 7)) }, () => Math.floor(random() * bytes.length));
    out.push([`random cuts #${seed}`, cutAt(cuts)]);
  }
  return out;
}

/** Feeds pieces to a fresh translator: the chunks it produced and the error it ended with, if any. */
export function translate<T>(translator: StreamTranslator<T>, pieces: Uint8Array[]): { chunks: T[]; error?: Record<string, unknown> } {
  const chunks: T[] = [];
  try {
    for (const piece of pieces) chunks.push(...translator.push(piece));
    chunks.push(...translator.end());
    return { chunks };
  } catch (err) {
    return { chunks, error: describeError(err) };
  }
}
