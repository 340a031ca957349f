import { describe, expect, it } from 'vitest';
import { decodeJson, encodeFrame, encodeJson, Exited, FrameDecoder, FrameError, FrameType, MAX_FRAME_BYTES, SpawnRequest, Spawned } from './frames.js';

describe('stdio host frames', () => {
  const frames = [
    encodeJson(FrameType.spawn, { command: 'npx', args: ['-y', 'server'], env: { TOKEN: 'x' } }),
    encodeFrame(FrameType.stdin, '{"jsonrpc":"2.0","id":1,"method":"initialize"}\n'),
    encodeFrame(FrameType.stdout, Buffer.from('héllo wörld\n')),
    encodeFrame(FrameType.close),
  ];
  const stream = Buffer.concat(frames);

  it('decodes the same frames however the stream is cut, even inside a multi-byte character', () => {
    for (let cut = 1; cut < stream.length; cut++) {
      const decoder = new FrameDecoder();
      const got = [...decoder.push(stream.subarray(0, cut)), ...decoder.push(stream.subarray(cut))];
      expect(got.map((f) => f.type)).toEqual([FrameType.spawn, FrameType.stdin, FrameType.stdout, FrameType.close]);
      expect(got[2]!.payload.toString('utf8')).toBe('héllo wörld\n');
    }
  });

  it('parses the spawn request with its schema, defaults filled in', () => {
    const [spawn] = new FrameDecoder().push(encodeJson(FrameType.spawn, { command: 'server' }));
    expect(decodeJson(SpawnRequest, spawn!)).toEqual({ command: 'server', args: [], env: {} });
  });

  it('refuses an unknown type, an oversized length and a malformed spawn request, naming the problem', () => {
    expect(() => new FrameDecoder().push(Buffer.from([99, 0, 0, 0, 0]))).toThrow(new FrameError('unknown frame type 99'));
    const huge = Buffer.alloc(5);
    huge.writeUInt8(FrameType.stdout, 0);
    huge.writeUInt32BE(MAX_FRAME_BYTES + 1, 1);
    expect(() => new FrameDecoder().push(huge)).toThrow(/exceeds/);
    const [bad] = new FrameDecoder().push(encodeJson(FrameType.spawn, { command: '', extra: true }));
    expect(() => decodeJson(SpawnRequest, bad!)).toThrow(/frame type 1: command: .*; <root>: Unrecognized key: "extra"/);
  });

  it('refuses spawn requests whose args, env or cwd are not strings, and malformed spawned and exit frames', () => {
    const decode = <T>(schema: Parameters<typeof decodeJson<T>>[0], type: FrameType, value: unknown) => decodeJson(schema, new FrameDecoder().push(encodeJson(type, value))[0]!);
    expect(() => decode(SpawnRequest, FrameType.spawn, { command: 'x', args: ['a', 1] })).toThrow(/args: expected an array of strings/);
    expect(() => decode(SpawnRequest, FrameType.spawn, { command: 'x', env: { TOKEN: 1 } })).toThrow(/env: expected an object of strings/);
    expect(() => decode(SpawnRequest, FrameType.spawn, { command: 'x', cwd: '' })).toThrow(/cwd: expected a non-empty string/);
    expect(() => decode(SpawnRequest, FrameType.spawn, ['x'])).toThrow(/<root>: expected an object/);
    expect(decode(SpawnRequest, FrameType.spawn, { command: 'x', args: ['a'], env: { A: 'b' }, cwd: '/tmp' })).toEqual({ command: 'x', args: ['a'], env: { A: 'b' }, cwd: '/tmp' });
    expect(() => decode(Spawned, FrameType.spawned, { pid: 1.5 })).toThrow(/pid: expected an integer/);
    expect(decode(Exited, FrameType.exit, { code: null, signal: 'SIGTERM' })).toEqual({ code: null, signal: 'SIGTERM' });
    expect(() => decode(Exited, FrameType.exit, { code: 0 })).toThrow(/signal: expected a string or null/);
  });
});
