/**
 * The wire between the sidecar and the stdio host: one Unix-socket connection per child process,
 * carrying typed frames `[type: u8][length: u32 big-endian][payload]`. The child's stdout and
 * stderr travel as raw bytes, so the sidecar parses the MCP framing exactly as the SDK's
 * StdioClientTransport does on a pipe; the control frames carry JSON.
 *
 * No zod here, unlike every other boundary: the stdio host (airlock-tools, in every pod) imports
 * this file, and zod alone is ~16 MiB of its resident memory (docs/adr/0015). The three control
 * frames are small and flat, so their checks are written out below, strict like `z.strictObject`.
 */

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
export interface SpawnRequest {
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd?: string;
  /**
   * Names of the `env` entries whose values are secrets (read from files): the host scrubs them
   * from its own log while the process runs, as the sidecar does from its.
   */
  secretEnv?: string[];
}

/** The child started. `pid` is in the host's PID namespace (informational). */
export interface Spawned {
  pid: number;
}

/** How the child ended; `error` when it never started (a fixed reason, spawn-error.ts: no argument or env value). */
export interface Exited {
  code: number | null;
  signal: string | null;
  error?: string;
}

/** Checks a control frame's parsed JSON: the typed value, or each problem as `path: message`. */
export type FrameSchema<T> = (value: unknown) => { ok: true; value: T } | { ok: false; issues: string[] };

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const isString = (value: unknown): value is string => typeof value === 'string';
const isInt = (value: unknown): value is number => Number.isInteger(value);

/**
 * A strict object check: `fields` maps each allowed key to its check (`optional` keys may be
 * absent); any other key is refused, as `z.strictObject` does.
 */
function strictObject<T>(fields: Record<string, { check: (v: unknown) => boolean; expected: string; optional?: boolean }>): FrameSchema<T> {
  return (value) => {
    if (!isRecord(value)) return { ok: false, issues: ['<root>: expected an object'] };
    const issues: string[] = [];
    for (const [key, field] of Object.entries(fields)) {
      if (value[key] === undefined ? !field.optional : !field.check(value[key])) issues.push(`${key}: expected ${field.expected}`);
    }
    for (const key of Object.keys(value)) if (!(key in fields)) issues.push(`<root>: Unrecognized key: "${key}"`);
    return issues.length > 0 ? { ok: false, issues } : { ok: true, value: value as T };
  };
}

const spawnFields = strictObject<Partial<SpawnRequest> & { command: string }>({
  command: { check: (v) => isString(v) && v.length > 0, expected: 'a non-empty string' },
  args: { check: (v) => Array.isArray(v) && v.every(isString), expected: 'an array of strings', optional: true },
  env: { check: (v) => isRecord(v) && Object.values(v).every(isString), expected: 'an object of strings', optional: true },
  cwd: { check: (v) => isString(v) && v.length > 0, expected: 'a non-empty string', optional: true },
  secretEnv: { check: (v) => Array.isArray(v) && v.every(isString), expected: 'an array of strings', optional: true },
});

/** Checks a spawn request; `args` and `env` default to empty. */
export const SpawnRequest: FrameSchema<SpawnRequest> = (value) => {
  const parsed = spawnFields(value);
  if (!parsed.ok) return parsed;
  const { command, args = [], env = {}, cwd, secretEnv } = parsed.value;
  return { ok: true, value: { command, args, env, ...(cwd === undefined ? {} : { cwd }), ...(secretEnv === undefined ? {} : { secretEnv }) } };
};

/** Checks a spawned frame. */
export const Spawned: FrameSchema<Spawned> = strictObject({ pid: { check: isInt, expected: 'an integer' } });

/** Checks an exit frame. */
export const Exited: FrameSchema<Exited> = strictObject({
  code: { check: (v) => v === null || isInt(v), expected: 'an integer or null' },
  signal: { check: (v) => v === null || isString(v), expected: 'a string or null' },
  error: { check: isString, expected: 'a string', optional: true },
});

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
export function decodeJson<T>(schema: FrameSchema<T>, frame: Frame): T {
  let value: unknown;
  try {
    value = JSON.parse(frame.payload.toString('utf8'));
  } catch {
    throw new FrameError(`frame type ${frame.type}: payload is not JSON`);
  }
  const parsed = schema(value);
  if (!parsed.ok) throw new FrameError(`frame type ${frame.type}: ${parsed.issues.join('; ')}`);
  return parsed.value;
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
