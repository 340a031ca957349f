import { describe, expect, it } from 'vitest';
import { OutsideCalls, settledWithin } from './outside-calls.js';

/** A call that runs until `finish` is called, recording when it started. */
function held(started: string[], name: string) {
  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));
  return { call: () => (started.push(name), done), finish };
}

describe('OutsideCalls', () => {
  it("runs one namespace's calls one at a time while other namespaces' go on, within the overall limit", async () => {
    const calls = new OutsideCalls({ concurrency: 2, perNamespace: 1 });
    const started: string[] = [];
    const a1 = held(started, 'a1');
    const a2 = held(started, 'a2');
    const b1 = held(started, 'b1');
    const c1 = held(started, 'c1');
    const runs = [calls.run('a/1', 'a', a1.call), calls.run('a/2', 'a', a2.call), calls.run('b/1', 'b', b1.call), calls.run('c/1', 'c', c1.call)];
    expect(started).toEqual(['a1', 'b1']); // a2 waits for a1, c1 for a free slot
    b1.finish();
    await runs[2];
    expect(started).toEqual(['a1', 'b1', 'c1']);
    a1.finish();
    await runs[0];
    expect(started).toEqual(['a1', 'b1', 'c1', 'a2']);
    a2.finish();
    c1.finish();
    await Promise.all(runs);
    expect(calls.size).toBe(0);
  });

  it('runs a key once while it is queued or running, and again after it settled; a failed call frees its slot', async () => {
    const calls = new OutsideCalls({ concurrency: 1, perNamespace: 1 });
    let count = 0;
    const failing = () => (count++, Promise.reject(new Error('the server never answered')));
    await Promise.all([calls.run('a/1', 'a', failing), calls.run('a/1', 'a', failing)]);
    expect(count).toBe(1);
    await calls.run('a/1', 'a', failing);
    expect(count).toBe(2);
  });

  it('says whether a call settled within a wait', async () => {
    expect(await settledWithin(Promise.resolve(), 1_000)).toBe(true);
    expect(await settledWithin(new Promise(() => undefined), 10)).toBe(false);
  });
});
