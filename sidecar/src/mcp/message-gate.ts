/**
 * One large message from MCP backends handled at a time, across the sidecar. A backend's message is
 * read as bytes (counted against the answer budget while read, upstream/answer-budget.ts), then
 * decoded, parsed, scrubbed of the backend's secrets and written again to its client: a few copies
 * of it are alive on V8's heap until it is written. The budget bounds the bytes read, not those
 * copies: eight 30 MiB sampling requests at once from a backend took a sidecar without a memory
 * limit to 979 MiB at its peak, and one with the heap V8 gives a 512 MiB container past it (red
 * team 24). So a message larger than {@link LARGE_MESSAGE_BYTES} is handed to the parser only when
 * no other large message is being handled; the others wait as the bytes read (still counted against
 * the budget). Its handling is what that hand-over sets off before the event loop turns: the MCP
 * SDK parses it and the gateway passes it on to its client's response, where it is counted again
 * (mcp/sessions.ts) until the client reads it. The gate is free again after that turn, whatever
 * the client does: nobody waits on a client's reading.
 */

/** Size from which a backend's message waits for {@link MessageGate}. */
export const LARGE_MESSAGE_BYTES = 1024 * 1024;

export class MessageGate {
  private busy = false;
  private readonly waiting: (() => void)[] = [];

  /** Whether a large message is being handled now (for tests). */
  get held(): boolean {
    return this.busy;
  }

  /**
   * Runs `handOver` (which hands one large message to the code that parses and handles it) once no
   * other large message is being handled: at once when none is, else in its turn, first come first
   * served. The gate is held until the turn `handOver` runs in has run.
   */
  handOver(handOver: () => void): Promise<void> {
    return new Promise((resolve, reject) => {
      const run = () => {
        try {
          handOver();
          resolve();
        } catch (err) {
          reject(err as Error);
        } finally {
          setImmediate(() => this.next());
        }
      };
      if (this.busy) this.waiting.push(run);
      else {
        this.busy = true;
        run();
      }
    });
  }

  private next(): void {
    const run = this.waiting.shift();
    if (run) run();
    else this.busy = false;
  }
}

/** The sidecar's gate: every backend's large messages take turns here. */
export const largeMessages = new MessageGate();
