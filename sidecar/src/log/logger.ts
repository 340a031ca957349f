/**
 * The one logger configuration of Airlock, used by the sidecar, the stdio host (airlock-tools) and
 * the operator: pino, JSON lines, a `component` on every line, what `context` adds (the trace a
 * line was written in: telemetry/log-trace.ts), every line scrubbed of known secret values before
 * it is written.
 *
 * Lines go to stdout asynchronously, so the process never waits on its log reader; what is not
 * written yet waits in memory, and that is bounded ({@link STDOUT_BACKLOG_BYTES}): a flood faster
 * than stdout drains (a backend's stderr, refused requests, a stalled log pipeline) grew it without
 * bound, ~130 MiB/s, until the container's memory limit killed the sidecar (red teams 21 and 22).
 * Past the bound a line is dropped and counted ({@link logDrops}), and once stdout takes lines
 * again one line says how many were dropped. Sources an outsider controls are bounded before
 * they reach here as well (./throttle.ts).
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
  /** Bytes stdout may hold unwritten ({@link STDOUT_BACKLOG_BYTES} unless said otherwise); with `destination`, not used. */
  maxBacklogBytes?: number;
}

/**
 * Bytes of log the stdout stream holds unwritten at most: a few seconds of a busy sidecar's log,
 * 1% of its 512 MiB memory limit.
 */
export const STDOUT_BACKLOG_BYTES = 4 * 1024 * 1024;

/** Lines a logger's destination did not write, by why (the `airlock_log_lines_dropped_total` reasons). */
export interface LogDrops {
  /** Dropped because stdout held {@link STDOUT_BACKLOG_BYTES} unwritten. */
  backlog: number;
  /** Held back by a per-source rate bound (./throttle.ts). */
  rate: number;
}

/** Drop counts by destination stream: a logger and its children share theirs. */
const drops = new WeakMap<object, LogDrops>();

function streamOf(log: Logger): object {
  return (log as unknown as Record<symbol, object>)[pino.symbols.streamSym]!;
}

/** The lines `log` (or any logger sharing its destination) dropped so far, by reason. */
export function logDrops(log: Logger): LogDrops {
  const stream = streamOf(log);
  let counts = drops.get(stream);
  if (!counts) drops.set(stream, (counts = { backlog: 0, rate: 0 }));
  return counts;
}

/** Creates a logger with Airlock's configuration. */
export function createLogger(options: LoggerOptions): Logger {
  const { secrets } = options;
  const stdout = options.destination ? undefined : stdoutDestination(options.maxBacklogBytes ?? STDOUT_BACKLOG_BYTES);
  const log = pino(
    {
      level: options.level,
      base: { component: options.component ?? 'airlock-sidecar' },
      ...(options.context ? { mixin: options.context } : {}),
      ...(secrets ? { hooks: { streamWrite: (line: string) => secrets.scrub(line) } } : {}),
      // Headers are never logged: requests to providers carry keys in them.
      serializers: { req: (req: { method?: string; url?: string }) => ({ method: req.method, url: req.url }) },
    },
    stdout ?? options.destination!,
  );
  if (stdout) reportDrops(log, stdout);
  return log;
}

/** How often, after a drop, the line saying how many were dropped is tried again. */
const DROP_REPORT_MS = 1_000;

/**
 * Counts the lines `stdout` drops and, once it takes a line again, writes one saying how many.
 * The report goes through the same bound: when it is dropped too, it is tried again later.
 */
function reportDrops(log: Logger, stdout: Stdout): void {
  const counts = logDrops(log);
  let lines = 0;
  let chars = 0;
  let reporting = false;
  let reportDropped = false;
  let timer: NodeJS.Timeout | undefined;
  const report = () => {
    // Ended (endLog): nothing may be written any more.
    if (!stdouts.has(stdout)) return clearInterval(timer);
    reporting = true;
    reportDropped = false;
    log.warn({ droppedLines: lines, droppedChars: chars }, `dropped ${lines} log lines: stdout did not take them as fast as they were written`);
    reporting = false;
    if (reportDropped) return;
    lines = chars = 0;
    clearInterval(timer);
    timer = undefined;
  };
  stdout.on('drop', (data: string | Buffer) => {
    if (reporting) {
      reportDropped = true;
      return;
    }
    counts.backlog++;
    lines++;
    chars += data.length;
    timer ??= setInterval(report, DROP_REPORT_MS).unref();
  });
}

type Stdout = ReturnType<typeof pino.destination>;

/** The stdout destinations made here, the ones `endLog` waits for. */
const stdouts = new WeakSet<object>();

function stdoutDestination(maxBacklogBytes: number): Stdout {
  const stdout = pino.destination({ dest: 1, sync: false, maxLength: maxBacklogBytes });
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

