/**
 * Paces a backend's list re-reads: a re-read of one list starts at least `minMs` after the last
 * one started and after it finished. A backend that announces list_changed without pause (and
 * answers each re-read with a large list) would otherwise keep the sidecar's only thread
 * re-reading, hashing and re-indexing, with the agent's model calls waiting behind it; counted
 * from the start only, a re-read slower than `minMs` (a loaded machine, a large list) was followed
 * by the next at once, back to back, and the storm was never noticed. The caller re-reads after
 * the wait, so the last change is read.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { CounterMetric } from '../telemetry/cells.js';
import type { ListKind } from './listing.js';

/** Re-reads of one list held back this many times in a row mean the backend keeps announcing changes. */
const STORM_AFTER_HELD = 3;

/** The re-read pacing of one backend's lists. */
export class RereadPacer {
  /** When each list's last re-read started, then when it finished (performance.now()). */
  private readonly last = new Map<ListKind, number>();
  /** Re-reads of each list held back in a row. */
  private readonly heldInARow = new Map<ListKind, number>();
  private warned = false;

  constructor(
    private readonly backend: string,
    private readonly minMs: number,
    private readonly logger: Logger,
    private readonly held: CounterMetric<'backend' | 'list'> | undefined,
  ) {}

  /** Waits out the rest of the interval since `kind` was last re-read, then marks it re-read now; counts (and warns once of) a backend that keeps announcing. */
  async slot(kind: ListKind): Promise<void> {
    const last = this.last.get(kind);
    const wait = last === undefined ? 0 : last + this.minMs - performance.now();
    if (wait > 0) {
      const held = (this.heldInARow.get(kind) ?? 0) + 1;
      this.heldInARow.set(kind, held);
      this.held?.inc({ backend: this.backend, list: kind });
      if (held >= STORM_AFTER_HELD && !this.warned) {
        this.warned = true;
        this.logger.warn(
          { list: kind, minIntervalMs: this.minMs },
          'MCP backend keeps announcing list changes; its lists are re-read at most once per interval (the last change is still read)',
        );
      }
      await sleep(wait, undefined, { ref: false });
    } else {
      this.heldInARow.set(kind, 0);
    }
    this.last.set(kind, performance.now());
  }

  /** Marks the re-read of `kind` finished: the next one waits `minMs` from now. */
  finished(kind: ListKind): void {
    this.last.set(kind, performance.now());
  }
}
