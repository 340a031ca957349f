/**
 * The wire between the sidecar and the stdio host: one Unix-socket connection per child process,
 * carrying typed frames `[type: u8][length: u32 big-endian][payload]`. The child's stdout and
 * stderr travel as raw bytes, so the sidecar parses the MCP framing exactly as the SDK's
 * StdioClientTransport does on a pipe; the control frames carry JSON.
 */
import { z } from 'zod';

/** Frame types. Sidecar → host: spawn, stdin, stdin-end, close. Host → sidecar: the rest. */
export const FrameType = {
  /** JSON {@link SpawnRequest}; the first frame of every connection. */
  spawn: 1,
  /** Bytes for the child's stdin. */
  stdin: 2,
  /** Ends the child's stdin. */
  stdinEnd: 3,
  /** Ends the child as the SDK closes a stdio server: stdin closed, then SIGTERM, then SIGKILL. */
  close: 4,
  /** JSON {@link Spawned}: the child is running. */
  spawned: 5,
  /** Bytes the child wrote to stdout. */
  stdout: 6,
  /** Bytes the child wrote to stderr. */
  stderr: 7,
  /** JSON {@link Exited}: the child is gone (or never started); the host ends the connection after it. */
  exit: 8,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

const TYPES = new Set<number>(Object.values(FrameType));

/**
 * Largest payload accepted. A frame is one stdout chunk or one JSON-RPC message; a tool result
 * carrying a file can be large, but not this large.
 */
export const MAX_FRAME_BYTES = 64 * 1024 * 1024;

const HEADER_BYTES = 5;

/** How long a closing child gets after its stdin ends, and again after SIGTERM (the SDK's timings). */
export const CLOSE_GRACE_MS = 2_000;

/** What to start: the backend's command line and the env it was given, nothing of the sidecar's. */
export const SpawnRequest = z.strictObject({
  command: z.string().min(1),
  args: z.array(z.string()).default([]),
  env: z.record(z.string(), z.string()).default({}),
  cwd: z.string().min(1).optional(),
});
export type SpawnRequest = z.infer<typeof SpawnRequest>;

/** The child started. `pid` is in the host's PID namespace (informational). */
export const Spawned = z.strictObject({ pid: z.number().int() });
export type Spawned = z.infer<typeof Spawned>;

/** How the child ended; `error` when it never started (e.g. `spawn npx ENOENT`). */
export const Exited = z.strictObject({
  code: z.number().int().nullable(),
  signal: z.string().nullable(),
  error: z.string().optional(),
});
export type Exited = z.infer<typeof Exited>;

/** One decoded frame. */
export interface Frame {
  type: FrameType;
  payload: Buffer;
}

/** A frame the peer should not have sent. */
export class FrameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FrameError';
  }
}

/** Encodes one frame. */
export function encodeFrame(type: FrameType, payload: Buffer | string = Buffer.alloc(0)): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  if (body.length > MAX_FRAME_BYTES) throw new FrameError(`frame of ${body.length} bytes exceeds ${MAX_FRAME_BYTES}`);
  const header = Buffer.alloc(HEADER_BYTES);
  header.writeUInt8(type, 0);
  header.writeUInt32BE(body.length, 1);
  return Buffer.concat([header, body]);
}

/** Encodes a JSON control frame. */
export const encodeJson = (type: FrameType, value: unknown): Buffer => encodeFrame(type, JSON.stringify(value));

/** Parses a JSON control frame's payload with its schema; a FrameError names the frame type. */
export function decodeJson<T>(schema: z.ZodType<T>, frame: Frame): T {
  let value: unknown;
  try {
    value = JSON.parse(frame.payload.toString('utf8'));
  } catch {
    throw new FrameError(`frame type ${frame.type}: payload is not JSON`);
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new FrameError(`frame type ${frame.type}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '<root>'}: ${i.message}`).join('; ')}`);
  return parsed.data;
}

/** Splits a byte stream into frames, across arbitrary chunk boundaries. */
export class FrameDecoder {
  private buffered: Buffer = Buffer.alloc(0);

  /** Appends bytes and returns every frame now complete. Throws FrameError on a malformed header. */
  push(chunk: Buffer): Frame[] {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    const frames: Frame[] = [];
    while (this.buffered.length >= HEADER_BYTES) {
      const type = this.buffered.readUInt8(0);
      const length = this.buffered.readUInt32BE(1);
      if (!TYPES.has(type)) throw new FrameError(`unknown frame type ${type}`);
      if (length > MAX_FRAME_BYTES) throw new FrameError(`frame of ${length} bytes exceeds ${MAX_FRAME_BYTES}`);
      if (this.buffered.length < HEADER_BYTES + length) break;
      frames.push({ type: type as FrameType, payload: this.buffered.subarray(HEADER_BYTES, HEADER_BYTES + length) });
      this.buffered = this.buffered.subarray(HEADER_BYTES + length);
    }
    return frames;
  }
}
