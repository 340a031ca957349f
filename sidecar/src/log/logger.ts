/**
 * The one logger configuration of Airlock, used by the sidecar and the operator: pino, JSON lines,
 * a `component` on every line, what `context` adds (the trace a line was written in:
 * telemetry/log-trace.ts), every line scrubbed of known secret values before it is written.
 */
import { once } from 'node:events';
import { pino, type DestinationStream, type Logger } from 'pino';
import type { SecretRegistry } from './redact.js';

export type { Logger } from 'pino';

export interface LoggerOptions {
  level: string;
  /** `airlock-sidecar` unless said otherwise. */
  component?: string;
  /** Secret values to scrub from every line; the sidecar registers its keys here. */
  secrets?: SecretRegistry;
  /** Where lines go; default stdout. Tests pass a capturing stream. */
  destination?: DestinationStream;
  /** Fields for each line as it is written (the active trace); none for a process without telemetry (airlock-tools). */
  context?: () => object;
}

/** Creates a logger with Airlock's configuration. */
export function createLogger(options: LoggerOptions): Logger {
  const { secrets } = options;
  const destination = options.destination ?? stdoutDestination();
  return pino(
    {
      level: options.level,
      base: { component: options.component ?? 'airlock-sidecar' },
      ...(options.context ? { mixin: options.context } : {}),
      ...(secrets ? { hooks: { streamWrite: (line: string) => secrets.scrub(line) } } : {}),
      // Headers are never logged: requests to providers carry keys in them.
      serializers: { req: (req: { method?: string; url?: string }) => ({ method: req.method, url: req.url }) },
    },
    destination,
  );
}

type Stdout = ReturnType<typeof pino.destination>;

/** The stdout destinations made here, the ones `endLog` waits for. */
const stdouts = new WeakSet<object>();

function stdoutDestination(): Stdout {
  const stdout = pino.destination({ dest: 1, sync: false });
  stdouts.add(stdout);
  return stdout;
}

/** How long `endLog` waits for stdout: a reader that stopped must not hold the exit past the pod's grace period. */
const END_WAIT_MS = 5_000;

/**
 * Resolves once every line given to the logger's stdout is written, for the step before
 * `process.exit`: the stream is closed after it, nothing may be logged. pino's own exit hook writes the lines
 * still buffered but skips a write already handed to libuv's thread pool (sonic-boom#101:
 * flushSync leaves the buffer in flight alone), so that write, when it ran at all, landed after
 * the lines logged later: on SIGTERM the "shutting down" line came out after the shutdown's last
 * lines. Ending the stream waits for the write in flight, then writes the rest in order.
 */
export async function endLog(log: Logger): Promise<void> {
  const stdout = (log as unknown as Record<symbol, Stdout | undefined>)[pino.symbols.streamSym];
  // Ended once: a second `end` throws.
  if (!stdout || !stdouts.delete(stdout)) return;
  let timer: NodeJS.Timeout | undefined;
  const closed = once(stdout, 'close').catch(() => undefined);
  stdout.end();
  const ended = await Promise.race([closed.then(() => true), new Promise<false>((resolve) => (timer = setTimeout(resolve, END_WAIT_MS, false)))]);
  clearTimeout(timer);
  // Nobody reads: what is left is dropped. Destroyed, the stream is skipped by pino's exit hook,
  // which would otherwise write it synchronously and, on a full pipe, retry for ever.
  if (!ended) stdout.destroy();
}

