/** The client side of a call as the relay writes to it; the HTTP server supplies it. */
import type { AnswerBudget } from '../upstream/answer-budget.js';

export interface ClientSink {
  /** Whether the response has started (a stream's headers went out). */
  readonly started: boolean;
  /** Whether the client is gone (nothing written reaches it). */
  readonly gone: boolean;
  /** A whole JSON answer (a Buffer is written as it is). */
  json(status: number, body: unknown, headers?: Record<string, string>): void;
  /** Starts an event stream (status 200). */
  startStream(): void;
  /** Starts a JSON answer (status 200) whose body follows in write()s. */
  startJson(): void;
  /** Writes stream data; resolves when the client can take more. */
  write(data: string | Buffer): Promise<void>;
  end(): void;
  /** Cuts off an answer that started and cannot be completed: the client sees it broken, not ended. */
  abort(): void;
  /** Calls `listener` once if the client goes away before the answer is complete. */
  onClose(listener: () => void): void;
  /** Told what the answered call cost, for a client that reports it (the MCP model tools). */
  accounted?(spend: CallSpend): void;
  /**
   * Keeps `bytes` of the answer counted against `budget` until the client has taken the answer
   * (its response is done or gone), then releases them. A sink without it holds nothing: the
   * relay releases them at once.
   */
  keepUntilDone?(bytes: number, budget: AnswerBudget): void;
}

/** What one call used: the provider and model entry that answered, tokens, and cost at that entry's prices. */
export interface CallSpend {
  provider: string;
  model: string;
  inputTokens: number;
  outputTokens: number;
  costUSD: number;
  /** Whether the tokens are the sidecar's estimate (a stream that reported no usage). */
  estimated: boolean;
}
