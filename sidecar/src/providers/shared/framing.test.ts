import { describe, expect, it } from 'vitest';
import { StreamError } from '../types.js';
import { splits } from '../testing/golden.js';
import { MAX_FRAME_SIZE, sseFramer, type SSEEvent } from './framing.js';

const bytes = (text: string) => new Uint8Array(Buffer.from(text, 'utf8'));

/** Every event of `pieces`, with the bytes a pass-through would write for it. */
function frame(pieces: Uint8Array[]): { events: Pick<SSEEvent, 'event' | 'id' | 'data'>[]; wire: string; raws: (string | undefined)[] } {
  const framer = sseFramer('test');
  const got: SSEEvent[] = [];
  for (const piece of pieces) got.push(...framer.push(piece));
  got.push(...framer.end());
  return {
    events: got.map(({ event, id, data }) => ({ event, id, data })),
    wire: framer.wire(got).toString('utf8'),
    raws: got.map((e) => e.bytes?.toString('utf8', e.start, e.end)),
  };
}

describe('sseFramer', () => {
  // Multi-byte characters (2, 3 and 4 bytes), CR LF and bare CR endings, an event name, an id.
  const stream = [
    'data: {"delta":"héllo"}\n\n',
    'event: content_block_delta\r\ndata: {"text":"日本語"}\r\n\r\n',
    'id: 7\rdata: {"emoji":"🙂"}\r\r',
    'data: [DONE]\n\n',
  ].join('');
  const expected = [
    { event: undefined, id: undefined, data: '{"delta":"héllo"}' },
    { event: 'content_block_delta', id: undefined, data: '{"text":"日本語"}' },
    { event: undefined, id: '7', data: '{"emoji":"🙂"}' },
    { event: undefined, id: undefined, data: '[DONE]' },
  ];

  for (const [how, pieces] of splits(bytes(stream))) {
    it(`splits events and passes their bytes through unchanged (${how})`, () => {
      const { events, wire } = frame(pieces);
      expect(events).toEqual(expected);
      expect(wire).toBe(stream);
    });
  }

  it('joins data lines and, like the spec, ignores a leading byte order mark and blocks without data', () => {
    const { events, wire } = frame([bytes('\uFEFFdata: first\ndata:second\n\n\n\nevent: ping\n\n')]);
    expect(events).toEqual([{ event: undefined, id: undefined, data: 'first\nsecond' }]);
    expect(wire).toBe('data: first\ndata:second\n\n');
  });

  it('re-encodes an event that carried comments or other fields, leaving them out', () => {
    const { events, raws, wire } = frame([bytes(': keep-alive\ndata: {"a":1}\nretry: 10\n\ndata: {"b":2}\n\n')]);
    expect(events.map((e) => e.data)).toEqual(['{"a":1}', '{"b":2}']);
    expect(raws).toEqual([undefined, 'data: {"b":2}\n\n']);
    expect(wire).toBe('data: {"a":1}\n\ndata: {"b":2}\n\n');
  });

  it('still delivers a last event whose blank line never came', () => {
    const { events, wire } = frame([bytes('data: {"a":1}\n\ndata: {"b":'), bytes('2}')]);
    expect(events.map((e) => e.data)).toEqual(['{"a":1}', '{"b":2}']);
    expect(wire).toBe('data: {"a":1}\n\ndata: {"b":2}\n\n');
  });

  it('gives the bytes of an event spread over many chunks as one frame', () => {
    const long = `data: {"text":"${'x'.repeat(50_000)}"}\n\n`;
    const b = bytes(long);
    const pieces = Array.from({ length: Math.ceil(b.length / 1000) }, (_, i) => b.subarray(i * 1000, (i + 1) * 1000));
    const { events, wire } = frame(pieces);
    expect(events).toHaveLength(1);
    expect(wire).toBe(long);
  });

  it('treats an event larger than the limit as a broken stream, whether or not its lines end', () => {
    const big = Buffer.alloc(MAX_FRAME_SIZE, 0x61);
    const oneLine = sseFramer('test');
    oneLine.push(bytes('data: '));
    expect(() => oneLine.push(big)).toThrow(StreamError);
    const manyLines = sseFramer('test');
    const line = bytes(`data: ${'a'.repeat(1024 * 1024)}\n`);
    expect(() => {
      for (let i = 0; i < 17; i++) manyLines.push(line);
    }).toThrow(/exceeded/);
  });
});
