/**
 * Why a stdio server could not start, said without its arguments or environment. Node's own
 * errors quote them: `spawn()` refuses a value with a NUL byte with "... must be a string without
 * null bytes. Received 'tok-…\x00…'" (util.inspect's spelling, which no redaction form matches),
 * and a value there may be a secret from a file. The sidecar (a local child) and the stdio host
 * both report a failed start through this, so neither a log line nor the agent sees one.
 */

/**
 * A stdio server that did not start; the message names the command, a reason class and, where
 * known (the sidecar), the backend, and never the cause's text, which is not kept either.
 */
export class SpawnError extends Error {
  constructor(
    readonly command: string,
    readonly reason: string,
    readonly backend?: string,
  ) {
    super(`${backend === undefined ? '' : `backend ${JSON.stringify(backend)}: `}stdio server ${command} could not start: ${reason}`);
    this.name = 'SpawnError';
  }
}

/** Node's validation codes: a value spawn() cannot take (a NUL byte, a non-string), quoted in the message. */
const INVALID_VALUE = new Set(['ERR_INVALID_ARG_VALUE', 'ERR_INVALID_ARG_TYPE']);

/**
 * Whether `err` is spawn()'s own refusal or failure (rather than, say, an MCP error of the
 * handshake after the process ran): a validation code, or a system error of the `spawn` call.
 */
export function isSpawnFailure(err: unknown): boolean {
  if (err instanceof SpawnError) return true;
  const { code, syscall } = (err ?? {}) as { code?: unknown; syscall?: unknown };
  return (typeof code === 'string' && INVALID_VALUE.has(code)) || (typeof syscall === 'string' && syscall.startsWith('spawn'));
}

/** `err` of spawn() as a {@link SpawnError}: the reason class and the system's code, never its text. */
export function spawnError(command: string, err: unknown, backend?: string): SpawnError {
  if (err instanceof SpawnError) return err.backend === backend ? err : new SpawnError(err.command, err.reason, backend);
  return new SpawnError(command, spawnReason((err as { code?: unknown } | undefined)?.code), backend);
}

function spawnReason(code: unknown): string {
  if (typeof code === 'string' && INVALID_VALUE.has(code)) return 'invalid argument or environment value (a NUL byte or a value that is not text)';
  if (code === 'ENOENT') return 'command or working directory not found (ENOENT)';
  if (code === 'EACCES') return 'permission denied (EACCES)';
  if (typeof code === 'string' && /^E[A-Z0-9]+$/.test(code)) return `system error ${code}`;
  return 'the process could not be created';
}
