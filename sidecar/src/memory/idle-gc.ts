/**
 * Gives V8's young generation back to the kernel while the sidecar is idle.
 *
 * V8 grows the young generation (two semi-spaces, up to `--max-semi-space-size` each, ADR 0017)
 * while the sidecar starts and while it serves, and keeps it committed afterwards: ~9.6 MiB of the
 * idle sidecar's resident memory is a young generation holding nothing. No flag shrinks it while
 * the process waits (bench/README.md, "Round 5: idle memory": 20 s later, or after a full GC, it is
 * all still there); a memory-reducing collection does, the one V8 runs for a low-memory
 * notification (`gc({ flavor: 'last-resort' })`): it also returns the old generation's pooled
 * pages. It stops the event loop for two full collections (50-130 ms measured on a loaded 2-core
 * machine), so it runs only when the event loop has been idle for 30 s with no call in flight
 * (a slow model's stream keeps the loop nearly idle while its tokens trickle; an agent's own turn —
 * tools, a human — between two model calls is seconds, and the next call should find the young
 * generation and the compiled code as the last one left them), only when the young
 * generation has grown, and at most once a minute: a trickle of calls never grows the young
 * generation back, and under load the loop is never idle. The young generation grows again with
 * the next burst, as it did at start (ADR 0017's tail and CPU trade-offs are those of the flag).
 */
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** What {@link collectWhenIdle} needs; every field has a default, the functions are for tests. */
export interface IdleGcOptions {
  /** How often to look at the event loop, ms. */
  everyMs?: number;
  /** Event-loop utilisation (0..1) of one period under which that period counts as idle. */
  idleBelow?: number;
  /** Idle periods in a row before collecting. */
  quietPeriods?: number;
  /**
   * Young generation resident above which a collection is worth its pause, bytes. 1 MiB: a
   * collection leaves ~0.3, and a start or a burst grows it in doublings, so anything above has
   * grown since. At 4 MiB (until round 7) a leaner start that stopped at exactly 4 was never
   * collected, and kept ~8 MiB more at idle (bench/README.md, "Round 7").
   */
  youngAbove?: number;
  /** Least time between two collections, ms. */
  minGapMs?: number;
  /**
   * Whether work is under way that a pause would hold up although the loop is nearly idle: a
   * model's stream trickling tokens keeps the utilisation under `idleBelow`.
   */
  busy?: () => boolean;
  /** Told what each collection freed (debug level). */
  log?: { debug(fields: object, message: string): void };
  /** Event-loop utilisation since the previous call (first call: since the process started). */
  utilization?: () => number;
  /** Bytes of the young generation resident now. */
  youngBytes?: () => number;
  /** Runs the memory-reducing collection. */
  collect?: () => void;
  now?: () => number;
}

/** A running idle watch. */
export interface IdleGc {
  /** Collections run so far. */
  readonly collections: number;
  stop(): void;
}

/** Watches the event loop and runs a memory-reducing collection when the sidecar is idle (see the module's comment). */
export function collectWhenIdle(options: IdleGcOptions = {}): IdleGc {
  const { everyMs = 1_000, idleBelow = 0.005, quietPeriods = 30, youngAbove = 1024 * 1024, minGapMs = 60_000 } = options;
  const utilization = options.utilization ?? loopUtilization();
  const youngBytes = options.youngBytes ?? youngGenerationBytes;
  const collect = options.collect ?? memoryReducingGc;
  const now = options.now ?? (() => performance.now());
  let quiet = 0;
  let last = -Infinity;
  let collections = 0;
  const timer = setInterval(() => {
    if (utilization() >= idleBelow || options.busy?.()) {
      quiet = 0;
      return;
    }
    if (++quiet < quietPeriods || now() - last < minGapMs) return;
    const young = youngBytes();
    if (young <= youngAbove) return;
    const started = now();
    collect();
    last = now();
    quiet = 0;
    collections++;
    options.log?.debug({ youngBytesBefore: young, youngBytesAfter: youngBytes(), pauseMs: Math.round(last - started) }, 'idle: memory-reducing garbage collection');
  }, everyMs);
  // The watch never keeps the process alive on its own.
  timer.unref();
  return {
    get collections() {
      return collections;
    },
    stop: () => clearInterval(timer),
  };
}

/** Event-loop utilisation of the period since the previous call. */
function loopUtilization(): () => number {
  let previous: EventLoopUtilization | undefined;
  return () => {
    const current = performance.eventLoopUtilization();
    const period = previous ? performance.eventLoopUtilization(current, previous) : current;
    previous = current;
    return period.utilization;
  };
}

/** The young generation's resident bytes (V8's `new_space`). */
export function youngGenerationBytes(): number {
  return getHeapSpaceStatistics().find((space) => space.space_name === 'new_space')?.physical_space_size ?? 0;
}

type GcFunction = (options: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;
let gc: GcFunction | undefined;

/**
 * V8's memory-reducing full collection (what a low-memory notification runs): shrinks the young
 * generation to its minimum and returns pooled pages to the kernel. V8 hands `gc` only to contexts
 * made while `--expose-gc` is set, so the flag is set for the moment one new context is made and
 * cleared again: the sidecar's own global scope never gets a `gc`.
 *
 * During it, bytecode not run since the previous full collection is flushed (V8's own rule, with
 * an age of 1 instead of 6 collections): what only the start ran (the config's parsing, YAML,
 * the schemas' construction) goes, ~1 MiB. A function flushed is compiled again when next called:
 * ~2 ms more on the first request after an idle period (bench/README.md, "Round 6").
 */
export function memoryReducingGc(): void {
  if (!gc) {
    setFlagsFromString('--expose-gc');
    try {
      gc = runInNewContext('gc') as GcFunction;
    } finally {
      setFlagsFromString('--no-expose-gc');
    }
  }
  setFlagsFromString(`--bytecode-old-age=${FLUSH_AGE}`);
  try {
    gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  } finally {
    setFlagsFromString(`--bytecode-old-age=${V8_BYTECODE_OLD_AGE}`);
  }
}

/** Full collections a function's bytecode survives unrun: V8's default, and during the idle collection. */
const V8_BYTECODE_OLD_AGE = 6;
const FLUSH_AGE = 1;
