import { getHeapCodeStatistics } from 'node:v8';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { collectWhenIdle, memoryReducingGc, youngGenerationBytes } from './idle-gc.js';

const MIB = 1024 * 1024;

/** A watch over scripted loop utilisation and young-generation sizes, on fake timers. */
function watch(utilizations: number[], young: () => number, extra: { minGapMs?: number; busy?: () => boolean; quietPeriods?: number } = {}) {
  let t = 0;
  const collected: number[] = [];
  const idle = collectWhenIdle({
    everyMs: 1_000,
    utilization: () => utilizations.shift() ?? 0,
    youngBytes: young,
    collect: () => collected.push(t),
    now: () => t,
    quietPeriods: 2,
    ...extra,
  });
  const tick = (n: number) => {
    for (let i = 0; i < n; i++) {
      t += 1_000;
      vi.advanceTimersByTime(1_000);
    }
  };
  return { idle, collected, tick };
}

describe('collectWhenIdle', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  // 4 MiB: without the YAML parser and classic zod, the start stopped at exactly 4 MiB of young
  // generation, which the old 4 MiB threshold ("more than") never collected (69 MiB idle against 61).
  it.each([9, 4])('collects once the loop has been idle for two periods and the young generation has grown (%d MiB), then not while it stays at the 0.3 MiB a collection leaves', (mib) => {
    vi.useFakeTimers();
    let young = mib * MIB;
    const { idle, collected, tick } = watch([0.9, 0.5, 0.001, 0.001, 0.001, 0.001], () => young, { minGapMs: 0 });
    tick(3);
    expect(collected).toEqual([]);
    tick(1);
    expect(collected).toEqual([4_000]);
    young = 0.3 * MIB;
    tick(10);
    expect(idle.collections).toBe(1);
    idle.stop();
  });

  it('never collects while the loop is busy, however large the young generation', () => {
    vi.useFakeTimers();
    const { idle, tick } = watch(Array.from({ length: 100 }, (_, i) => (i % 2 ? 0.02 : 0.001)), () => 16 * MIB);
    tick(100);
    expect(idle.collections).toBe(0);
    idle.stop();
  });

  it('never collects while a call is in flight on a nearly idle loop (a stream trickling tokens), and does once it ends', () => {
    vi.useFakeTimers();
    let streaming = true;
    const { idle, collected, tick } = watch([], () => 16 * MIB, { minGapMs: 0, busy: () => streaming });
    tick(30);
    expect(collected).toEqual([]);
    streaming = false;
    tick(2);
    expect(collected).toEqual([32_000]);
    idle.stop();
  });

  it("by default waits for 30 s of idleness: an agent's own turn between two calls keeps what the last call left", () => {
    vi.useFakeTimers();
    const { idle, collected, tick } = watch([], () => 16 * MIB, { minGapMs: 0, quietPeriods: undefined });
    tick(29);
    expect(collected).toEqual([]);
    tick(1);
    expect(collected).toEqual([30_000]);
    idle.stop();
  });

  it('waits the least gap between two collections when the young generation grows again', () => {
    vi.useFakeTimers();
    const { idle, collected, tick } = watch([], () => 16 * MIB, { minGapMs: 60_000 });
    tick(120);
    expect(collected).toEqual([2_000, 62_000]);
    idle.stop();
  });
});

describe('memoryReducingGc', () => {
  it('shrinks a grown young generation and leaves the global scope without gc', () => {
    // Survivors across scavenges make V8 grow the young generation.
    let keep: object[] = [];
    for (let round = 0; round < 200 && youngGenerationBytes() < 4 * MIB; round++) {
      keep.push(...Array.from({ length: 20_000 }, (_, i) => ({ round, i })));
      if (keep.length > 200_000) keep = keep.slice(100_000);
    }
    keep = [];
    expect(youngGenerationBytes()).toBeGreaterThan(4 * MIB);
    memoryReducingGc();
    expect(youngGenerationBytes()).toBeLessThan(2 * MIB);
    expect('gc' in globalThis).toBe(false);
    expect(keep).toEqual([]);
  });

  it('flushes, in the first idle collection, the bytecode of functions that ran once and not since', () => {
    const bytecode = () => getHeapCodeStatistics().bytecode_and_metadata_size;
    const empty = bytecode();
    // 2,000 functions, each compiled to bytecode by its one call.
    const once = Array.from({ length: 2_000 }, (_, i) => new Function('a', `let s = ${i}; for (const x of a) s += x * ${i} + (x >> 1); return s;`) as (a: number[]) => number);
    for (const f of once) f([1, 2, 3]);
    const compiled = bytecode();
    expect(compiled - empty).toBeGreaterThan(200 * 1024);
    // V8's own rule would wait for six full collections; the functions stay reachable, only their bytecode goes.
    memoryReducingGc();
    expect(bytecode()).toBeLessThan(empty + (compiled - empty) / 5);
    expect(once[7]!([1])).toBe(14);
  });
});
