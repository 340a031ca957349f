import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { AnswerBudget } from '../upstream/answer-budget.js';
import { LARGE_MESSAGE_BYTES, MessageGate } from './message-gate.js';
import { StdioReadBuffer } from './stdio-read-buffer.js';

const line = (id: number, text: string) => `${JSON.stringify({ result: { content: [{ type: 'text', text }] }, jsonrpc: '2.0', id })}\n`;

/** Every message `buffer` has after `chunks`. */
function read(buffer: StdioReadBuffer, ...chunks: string[]): unknown[] {
  for (const chunk of chunks) buffer.append(Buffer.from(chunk));
  const messages = [];
  for (let m = buffer.readMessage(); m !== null; m = buffer.readMessage()) messages.push(m);
  return messages;
}

describe('StdioReadBuffer', () => {
  it('reads lines split across chunks and several in one chunk', () => {
    const text = line(1, 'a') + line(2, 'b');
    expect(read(new StdioReadBuffer(), text.slice(0, 10), text.slice(10, 50), text.slice(50))).toEqual([
      { result: { content: [{ type: 'text', text: 'a' }] }, jsonrpc: '2.0', id: 1 },
      { result: { content: [{ type: 'text', text: 'b' }] }, jsonrpc: '2.0', id: 2 },
    ]);
  });

  it('skips a line past its bound and answers its request with an error, reading the next line as before', () => {
    const buffer = new StdioReadBuffer(undefined, undefined, 1000);
    const long = line(7, 'x'.repeat(3000));
    const chunks = [long.slice(0, 700), long.slice(700, 2500), long.slice(2500) + line(8, 'ok')];
    expect(read(buffer, ...chunks)).toEqual([
      { jsonrpc: '2.0', id: 7, error: { code: -32603, message: 'the MCP server sent a message of more than 1000 bytes; it is not read' } },
      { result: { content: [{ type: 'text', text: 'ok' }] }, jsonrpc: '2.0', id: 8 },
    ]);
  });

  it('holds the line being read against the answer budget until it is complete, and skips it past the budget', () => {
    const answers = new AnswerBudget(1000);
    const other = new StdioReadBuffer(answers);
    // Another line of 600 bytes is being read.
    other.append(Buffer.from('x'.repeat(600)));
    expect(answers.bytes).toBe(600);
    const buffer = new StdioReadBuffer(answers);
    const long = line(3, 'y'.repeat(800));
    expect(read(buffer, long.slice(0, 300), long.slice(300))).toEqual([{ jsonrpc: '2.0', id: 3, error: { code: -32603, message: expect.stringContaining('listen.maxAnswerBytesInFlight') } }]);
    expect(answers.bytes).toBe(600);
    // Alone, the same line is read; once read, nothing is held.
    other.clear();
    expect(answers.bytes).toBe(0);
    expect(read(buffer, long)).toHaveLength(1);
    expect(answers.bytes).toBe(0);
  });

  it('reads a large line only in its turn at the gate, holding it (and the lines after it) against the budget until then', async () => {
    const gate = new MessageGate();
    const answers = new AnswerBudget(64 * 1024 * 1024);
    const resumed: string[] = [];
    const first = new StdioReadBuffer(answers, undefined, undefined, () => resumed.push('first'), gate);
    const second = new StdioReadBuffer(answers, undefined, undefined, () => resumed.push('second'), gate);
    const large = (id: number) => line(id, 'z'.repeat(LARGE_MESSAGE_BYTES));
    // The first large line is read at once: nothing else large is being handled.
    expect(read(first, large(1))).toHaveLength(1);
    // Until that turn has run, another backend's large line waits, and the small one after it too.
    expect(read(second, large(2), line(3, 'small'))).toEqual([]);
    expect(answers.bytes).toBe(Buffer.byteLength(large(2)) - 1 + Buffer.byteLength(line(3, 'small')) - 1);
    await nextTurn();
    expect(resumed).toEqual(['second']);
    expect(read(second).map((m) => (m as { id: number }).id)).toEqual([2, 3]);
    expect(answers.bytes).toBe(0);
  });

  it('answers a skipped request of the server to the server, never to the client as a response to its own request of the same id', () => {
    const toServer: unknown[] = [];
    const buffer = new StdioReadBuffer(undefined, (message) => toServer.push(message), 100);
    const request = `${JSON.stringify({ method: 'sampling/createMessage', params: { messages: [{ role: 'user', content: { type: 'text', text: 'q'.repeat(500) } }] }, jsonrpc: '2.0', id: 2 })}\n`;
    expect(read(buffer, request)).toEqual([]);
    expect(toServer).toEqual([{ jsonrpc: '2.0', id: 2, error: { code: -32603, message: 'the MCP server sent a message of more than 100 bytes; it is not read' } }]);
  });

  it('says nothing for a skipped line without an id at its end (a notification)', () => {
    const buffer = new StdioReadBuffer(undefined, undefined, 100);
    expect(read(buffer, `${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/message', params: { data: 'z'.repeat(500) } })}\n`)).toEqual([]);
  });
});
