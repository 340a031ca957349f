/**
 * The request bodies the sidecar holds at once, bounded. A body is read whole before its route
 * runs and lives, with its parsed JSON, until the response ends; each costs the sidecar a few times
 * its size. Without a bound four concurrent 30 MiB bodies took a sidecar from 114 to 471 MiB and
 * twelve to 781 MiB (for a model that does not exist: nothing was spent), past the 512 MiB the
 * injected container may use, so the agent could have it OOM-killed at will — the pod's only door,
 * and with it the spend it had not reported yet (ADR 14 counts a restarted sidecar from zero).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Bytes of request bodies in flight across every listener of the process. */
export class BodyBudget {
  private inFlight = 0;

  /**
   * @param maxBytes what bodies in flight may add up to (`listen.maxBodyBytesInFlight`)
   * @param maxBodyBytes the largest body (`listen.maxBodyBytes`): what a body of unknown length reserves
   */
  constructor(
    readonly maxBytes: number,
    private readonly maxBodyBytes: number,
  ) {}

  /**
   * Reserves the body of `req` until `res` closes; false (nothing reserved) when it would take the
   * bodies in flight past the bound. A body alone is always admitted, whatever its size, so one
   * as large as the body limit still passes when nothing else is in flight.
   */
  admit(req: IncomingMessage, res: ServerResponse): boolean {
    const size = bodySize(req, this.maxBodyBytes);
    if (size === 0) return true;
    if (this.inFlight > 0 && this.inFlight + size > this.maxBytes) return false;
    this.inFlight += size;
    res.once('close', () => {
      this.inFlight -= size;
    });
    return true;
  }
}

/** What a request's body may take: its declared length (at most the body limit), the body limit when chunked, nothing without one. */
function bodySize(req: IncomingMessage, maxBodyBytes: number): number {
  const length = req.headers['content-length'];
  if (length !== undefined) return Math.min(Number(length) || 0, maxBodyBytes);
  return req.headers['transfer-encoding'] !== undefined ? maxBodyBytes : 0;
}
