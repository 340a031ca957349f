import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createLogger, logDrops } from './logger.js';
import { cutForLog, LogThrottle, stderrLog } from './throttle.js';

interface Line {
  msg: string;
  stream?: string;
  suppressedLines?: number;
  suppressedChars?: number;
}

function capture() {
  const lines: Line[] = [];
  const destination = new Writable({ write: (chunk: Buffer, _encoding, done) => (lines.push(...chunk.toString().trim().split('\n').map((l) => JSON.parse(l) as Line)), done()) });
  return { log: createLogger({ level: 'info', destination }), lines };
}

/** Lets the capturing stream's writes land. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

beforeEach(() => vi.useFakeTimers({ toFake: ['Date', 'setTimeout', 'clearTimeout'] }));
afterEach(() => vi.useRealTimers());

describe('LogThrottle', () => {
  it('lets so many lines through per interval, counts the rest, and says once after the interval how many it held back', async () => {
    const { log, lines } = capture();
    const throttle = new LogThrottle(log, { what: 'refusals', lines: 3, intervalMs: 10_000 });
    const admitted = Array.from({ length: 10 }, () => throttle.admit(5));
    expect(admitted).toEqual([true, true, true, false, false, false, false, false, false, false]);
    expect(logDrops(log).rate).toBe(7);
    await settle();
    expect(lines).toEqual([]);
    vi.advanceTimersByTime(10_000);
    await settle();
    expect(lines).toMatchObject([{ msg: 'refusals: suppressed 7 log lines (more than 3 lines per 10 s)', suppressedLines: 7, suppressedChars: 35 }]);
    // A new interval: lines go through again, and nothing held back means no summary.
    expect(throttle.admit(5)).toBe(true);
    vi.advanceTimersByTime(20_000);
    await settle();
    expect(lines).toHaveLength(1);
  });

  it('bounds the characters per interval too, but always lets an interval’s first line through', () => {
    const { log } = capture();
    const throttle = new LogThrottle(log, { what: 'stderr', lines: 100, chars: 1_000, intervalMs: 1_000 });
    expect([throttle.admit(5_000), throttle.admit(1)]).toEqual([true, false]);
    vi.advanceTimersByTime(1_000);
    expect([throttle.admit(600), throttle.admit(400), throttle.admit(1)]).toEqual([true, true, false]);
  });
});

describe('stderrLog', () => {
  it('scrubs a line before it cuts it: no piece of a secret across the cut is left', async () => {
    const { log, lines } = capture();
    const logLine = stderrLog(log, (line) => line.replaceAll('TOPSECRET-VALUE', '[REDACTED]'));
    logLine(`${'a'.repeat(1_995)}TOPSECRET-VALUE and more`);
    await settle();
    expect(lines).toHaveLength(1);
    expect(lines[0]!.stream).toBe('stderr');
    expect(lines[0]!.msg).toBe(`${'a'.repeat(1_995)}[REDA… (14 more characters)`);
  });
});

describe('cutForLog', () => {
  it('keeps a short value as it is and says how much of a long one it cut', () => {
    expect(cutForLog('evil.example', 200)).toBe('evil.example');
    expect(cutForLog('x'.repeat(7_000), 200)).toBe(`${'x'.repeat(200)}… (6800 more characters)`);
  });
});
