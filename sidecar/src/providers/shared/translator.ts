/** The skeleton every stream translator shares: framing, per-frame handling, and failure order. */
import type { Usage } from '../../wire/openai.js';
import type { StreamTranslator } from '../types.js';
import type { Framer } from './framing.js';

/** What a provider supplies: how to handle one frame, how to finish, and the chunks produced. */
export interface FrameSink<F, T> {
  /** Handles one frame; throws StreamError on a provider error event or malformed data. */
  frame(frame: F): void;
  /** Called once at the end of the bytes; throws StreamError if the stream was cut short. */
  end(): void;
  /** Returns and forgets the chunks produced so far. */
  drain(): T[];
  /** Whether the provider has said the stream is complete. */
  complete?(): boolean;
  /** StreamTranslator.earlyUsage. */
  earlyUsage?(): Usage | undefined;
}

/**
 * A StreamTranslator from a framer and a sink. When a frame fails after others in the same push
 * produced chunks, those chunks are returned first and the error is thrown by the next call (the
 * router always calls `end` when the upstream closes), so a client sees every token that arrived
 * before the error.
 */
export function frameTranslator<F, T>(framer: Framer<F>, sink: FrameSink<F, T>): StreamTranslator<T> {
  return new FrameTranslator(framer, sink);
}

/** A class rather than closures: one object per stream, and no closures for the bundle to name (keepNames). */
class FrameTranslator<F, T> implements StreamTranslator<T> {
  private failure: unknown;
  // The frames handled by the last call, kept as objects: encoded only if asked for.
  private handled: F[] = [];

  constructor(
    private readonly framer: Framer<F>,
    private readonly sink: FrameSink<F, T>,
  ) {}

  push(bytes: Uint8Array): T[] {
    if (this.failure !== undefined) throw this.failure;
    return this.run(this.framer.push(bytes));
  }

  end(): T[] {
    if (this.failure !== undefined) throw this.failure;
    const out = this.run(this.framer.end());
    // Nothing comes after end: an error found now is thrown now.
    if (this.failure !== undefined) throw this.failure;
    this.sink.end();
    return out.concat(this.sink.drain());
  }

  frames(): Buffer {
    return this.framer.wire(this.handled);
  }

  complete(): boolean {
    return this.sink.complete?.() ?? false;
  }

  earlyUsage(): Usage | undefined {
    return this.sink.earlyUsage?.();
  }

  private run(frames: F[]): T[] {
    const sink = this.sink;
    // Whatever comes after the provider's own end is not part of the stream: the frames handled
    // are those before the first one that came after it (usually all, and then no copy).
    let after = -1;
    let i = 0;
    try {
      for (; i < frames.length; i++) {
        if (after < 0 && sink.complete?.()) after = i;
        sink.frame(frames[i]!);
      }
    } catch (err) {
      this.handled = frames.slice(0, after < 0 ? i : after);
      this.failure = err;
      const produced = sink.drain();
      if (produced.length === 0) throw err;
      return produced;
    }
    this.handled = after < 0 ? frames : frames.slice(0, after);
    return sink.drain();
  }
}
