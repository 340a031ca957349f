import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { MessageGate } from './message-gate.js';

describe('MessageGate', () => {
  it('hands over one message at a time, in the order asked, each after the turn of the one before', async () => {
    const gate = new MessageGate();
    const order: string[] = [];
    const handed = ['a', 'b', 'c'].map((name) => gate.handOver(() => order.push(name)));
    // The first at once; the others wait for the turn it ran in.
    expect(order).toEqual(['a']);
    queueMicrotask(() => order.push('a handled'));
    await Promise.all(handed);
    expect(order).toEqual(['a', 'a handled', 'b', 'c']);
    await nextTurn();
    expect(gate.held).toBe(false);
  });

  it('is free again after a hand-over that throws', async () => {
    const gate = new MessageGate();
    await expect(gate.handOver(() => { throw new Error('not parsed'); })).rejects.toThrow('not parsed');
    let handed = false;
    await gate.handOver(() => (handed = true));
    expect(handed).toBe(true);
  });
});
