/**
 * Relaying a stream after its first content: frames go to the client as they come (natively as
 * the provider wrote them, else re-encoded in the client's API), usage is noted on the way, and a
 * stream that breaks ends with an error event in the client's format — never after the stream's
 * own end ([DONE], message_stop), and never as the provider's malformed bytes.
 */
import type { Logger } from '../log/logger.js';
import type { SecretRegistry } from '../log/redact.js';
import { StreamError, type ProviderError, type StreamTranslator, type TranslateContext } from '../providers/types.js';
import type { StreamEncoder } from '../server/ingress.js';
import { describeResult, type Described } from '../telemetry/model-call.js';
import { classifyError } from '../upstream/failure.js';
import type { StreamOutcome } from './attempt.js';
import { framesOf } from './attempt.js';
import { contentTokens } from './content.js';
import { usageOfCanonical } from './usage.js';
import type { Operation, StreamChunk, Usage } from './operation.js';
import type { ClientSink } from './sink.js';

/** What a relayed stream used: the provider's usage, or what the relay counted of the text. */
export interface StreamTally {
  usage: Usage | undefined;
  /** The streamed content's tokens as estimated (./content.ts contentTokens), for a stream cut before its usage. */
  outputTokens: number;
  /** Response model and finish reasons, for telemetry. */
  described: Described;
  /** The status of the error the stream ended with after it started (the client's answer was 200), for telemetry. */
  failedStatus?: number;
}

const EMPTY = Buffer.alloc(0);

/** Writes the stream to the client; resolves when it is over, whatever way it ended. */
export async function streamOut<C, K extends StreamChunk>(
  op: Operation<C, K>,
  outcome: StreamOutcome<K>,
  client: ClientSink,
  signal: AbortSignal,
  context: TranslateContext,
  log: Logger,
  secrets: SecretRegistry,
  /** Sees every canonical chunk (content capture), when given. */
  onChunk?: (chunk: K) => void,
): Promise<StreamTally> {
  const { native, translator, body } = outcome;
  const name = outcome.provider.config.name;
  const encoder = op.streamFrames!.encoder(context);
  const tally: StreamTally = { usage: undefined, outputTokens: 0, described: {} };
  // Module functions rather than closures: the bundle names every closure it creates (keepNames),
  // an Object.defineProperty per closure per call.
  client.startStream();
  note(tally, outcome.pendingChunks, onChunk);
  await send(client, native, encoder, outcome.pendingChunks, native ? Buffer.concat(outcome.pendingFrames) : EMPTY);
  try {
    if (!outcome.ended) {
      for (;;) {
        const next = await body.next();
        let chunks: K[];
        try {
          chunks = next.done ? translator.end() : translator.push(next.value);
        } catch (err) {
          log.warn({ provider: name, reason: (err as Error).message }, 'stream ended by a provider error or cut short');
          // An error after the provider's own end (its finish frame) is past the answer: the
          // client's stream ends as a finished one, with its API's closing events.
          if (translator.complete?.()) {
            if (!native) await client.write(encoder.end());
          } else {
            const error = streamError(err, name);
            tally.failedStatus = error.status;
            await fail(client, translator, encoder, secrets, error);
          }
          client.end();
          return tally;
        }
        note(tally, chunks, onChunk);
        await send(client, native, encoder, chunks, framesOf(translator));
        if (next.done) break;
      }
    }
    if (!native) await client.write(encoder.end());
    client.end();
  } catch (err) {
    if (translator.complete?.() && !client.gone) {
      // The provider had finished; only its connection's end went wrong.
      if (!native) await client.write(encoder.end());
      client.end();
      return tally;
    }
    if (signal.aborted && !client.gone && !(signal.reason instanceof DOMException && signal.reason.name === 'TimeoutError')) {
      client.end();
      return tally;
    }
    const failure = classifyError(signal.aborted ? signal.reason : err, name, 'body');
    tally.failedStatus = failure.error.status;
    log.warn({ provider: name, kind: failure.kind, reason: failure.error.message }, 'stream broke after it started; ending it with an error event');
    if (!client.gone) {
      await fail(client, translator, encoder, secrets, { ...failure.error, message: `the stream from provider ${name} broke: ${failure.error.message}` });
      client.end();
    }
  }
  return tally;
}

/** Notes what the chunks tell: usage, characters of content (for an estimate), model and finish. */
function note<K extends StreamChunk>(tally: StreamTally, chunks: K[], onChunk: ((chunk: K) => void) | undefined): void {
  for (const c of chunks) {
    if (c.usage) tally.usage = usageOfCanonical(c.usage);
    tally.outputTokens += contentTokens(c);
    describeResult(c, tally.described);
    onChunk?.(c);
  }
}

/**
 * One write per batch of frames: fewer syscalls than one per frame. Natively the frames are the
 * provider's bytes, written as they came (no decode, no re-encode).
 */
function send<K>(client: ClientSink, native: boolean, encoder: StreamEncoder<K>, chunks: K[], frames: Buffer): Promise<void> | undefined {
  if (native) return frames.length > 0 ? client.write(frames) : undefined;
  let out = '';
  for (const c of chunks) out += encoder.chunk(c);
  return out ? client.write(out) : undefined;
}

/**
 * What the client must see after a failure: natively the provider's own error event would be the
 * bad frame itself, so the sidecar always writes its own, in the client's format, redacted like a
 * plain error (an upstream may echo the key in its error event).
 */
async function fail<K>(client: ClientSink, translator: StreamTranslator<K>, encoder: StreamEncoder<K>, secrets: SecretRegistry, error: ProviderError): Promise<void> {
  if (translator.complete?.()) return;
  await client.write(encoder.error({ ...error, message: secrets.scrub(error.message) }));
}

function streamError(err: unknown, provider: string): ProviderError {
  return err instanceof StreamError ? err.error : { status: 502, type: 'api_error', message: `provider ${provider} sent a malformed stream` };
}
