/**
 * Bytes of answers the sidecar holds at once, across calls: read from providers whole (to parse,
 * or to fail over while a pass-through answer is held: relay/attempt.ts) and not yet taken by
 * their clients. A client that never reads its answer leaves it in the sidecar's memory until its
 * connection closes, so without a bound an agent could ask for many large answers at once (40
 * embeddings of 2,048 inputs, a few cents) and read none: the sidecar held 16 MiB each, past its
 * container's memory limit, and was killed with the spend it had not yet reported (red team 18).
 *
 * Past the bound a pass-through answer is relayed as it comes, with its client's backpressure
 * (an answer nobody reads then stops its provider's connection, not the sidecar's memory), and an
 * answer that must be read whole (to translate it) fails with 503. One answer alone is always
 * held, up to its own bound (server/runtime.ts MAX_ANSWER_BYTES).
 */
export class AnswerBudget {
  private held = 0;

  /** @param maxBytes what answers held at once may add up to (`listen.maxAnswerBytesInFlight`, set again on each config) */
  constructor(public maxBytes: number) {}

  /** Bytes held now, for the gauge and tests. */
  get bytes(): number {
    return this.held;
  }

  /**
   * Counts `bytes` more of an answer that holds `own` bytes with them; false when that takes the
   * answers held past the bound while others are held too (the bytes are counted all the same:
   * the caller releases them with the rest of its answer).
   */
  hold(bytes: number, own: number): boolean {
    this.held += bytes;
    return this.held <= this.maxBytes || this.held === own;
  }

  release(bytes: number): void {
    this.held -= bytes;
  }

  /** Bytes held for each open response by {@link holdUntilClosed}, released together when it closes. */
  private readonly byResponse = new WeakMap<object, number>();

  /**
   * Holds `bytes` of an answer the sidecar writes itself (a stored response read back, an MCP
   * result) until `res` closes; false, holding nothing, when they would take the answers held past
   * the bound while others are held. What one response holds adds up and is released at once.
   */
  holdUntilClosed(res: { once(event: 'close', listener: () => void): unknown }, bytes: number): boolean {
    if (!this.hold(bytes, bytes)) {
      this.release(bytes);
      return false;
    }
    const before = this.byResponse.get(res);
    if (before === undefined) {
      res.once('close', () => {
        this.release(this.byResponse.get(res) ?? 0);
        this.byResponse.delete(res);
      });
    }
    this.byResponse.set(res, (before ?? 0) + bytes);
    return true;
  }
}
