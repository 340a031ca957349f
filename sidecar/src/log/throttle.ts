/**
 * Bounds on log lines whose rate and size someone outside the sidecar sets: a stdio backend's
 * stderr, requests an agent can repeat at will. Unbounded, one such source wrote 80-130 MiB of log
 * a second (red teams 21 and 22), more than any log pipeline takes; the logger's own bound
 * (logger.ts) then keeps the sidecar alive, but drops everyone's lines alike. Here a source gets
 * so many lines (and bytes) per interval, the rest is counted, and once per interval in which lines
 * were held back one line says how many: Envoy's and Istio's practice for access logs.
 */
import { logDrops, type Logger } from './logger.js';

/** What one source may log. */
export interface LogThrottleOptions {
  /** What the lines are, for the line that says how many were held back ("MCP backend stderr"). */
  what: string;
  /** Lines per interval. */
  lines: number;
  /** Characters per interval, counted over the lines let through; no bound when absent. */
  chars?: number;
  intervalMs: number;
}

/** One source's bound: a fixed window of `intervalMs`. */
export class LogThrottle {
  private windowStart = -Infinity;
  private lines = 0;
  private chars = 0;
  private heldLines = 0;
  private heldChars = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly log: Logger,
    private readonly options: LogThrottleOptions,
  ) {}

  /** Whether a line of `size` characters may be logged now; when not, it is counted as held back. */
  admit(size: number): boolean {
    const { lines, chars, intervalMs } = this.options;
    const now = Date.now();
    if (now - this.windowStart >= intervalMs) {
      this.windowStart = now;
      this.lines = this.chars = 0;
    }
    if (this.lines < lines && (chars === undefined || this.chars + size <= chars || this.lines === 0)) {
      this.lines++;
      this.chars += size;
      return true;
    }
    this.heldLines++;
    this.heldChars += size;
    logDrops(this.log).rate++;
    this.timer ??= setTimeout(() => this.report(), this.windowStart + intervalMs - now).unref();
    return false;
  }

  private report(): void {
    const { what, lines, chars, intervalMs } = this.options;
    this.timer = undefined;
    const bound = `${lines} lines${chars === undefined ? '' : ` or ${chars} characters`} per ${intervalMs / 1000} s`;
    this.log.warn({ suppressedLines: this.heldLines, suppressedChars: this.heldChars }, `${what}: suppressed ${this.heldLines} log lines (more than ${bound})`);
    this.heldLines = this.heldChars = 0;
  }
}

/** `text` cut to `max` characters, saying how many more there were. */
export function cutForLog(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length - max} more characters)`;
}

/** What a stdio backend writes to stderr may fill: 100 lines or 64 Ki characters a second, each line cut to 2,000. */
const STDERR = { lines: 100, chars: 64 * 1024, intervalMs: 1_000 };
const STDERR_LINE_CHARS = 2_000;

/**
 * Logs a stdio backend's stderr lines at info, within {@link STDERR}'s bound, each line passed
 * through `redact` whole (before it is cut, so no part of a secret survives the cut) and cut.
 */
export function stderrLog(log: Logger, redact: (line: string) => string): (line: string) => void {
  const throttle = new LogThrottle(log, { what: 'MCP backend stderr', ...STDERR });
  return (line) => {
    if (throttle.admit(Math.min(line.length, STDERR_LINE_CHARS))) log.info({ stream: 'stderr' }, cutForLog(redact(line), STDERR_LINE_CHARS));
  };
}
