/**
 * Relaying a pass-through JSON answer too large to hold (./attempt.ts, PASS_THROUGH_HELD_BYTES):
 * its start, then the rest as the provider sends it, with the client's backpressure. Its usage is
 * read from the tail once it has all gone by. After the first byte there is no failover: an
 * answer that breaks is cut off at the client too (the connection is closed), as a direct call's
 * would be.
 */
import type { Usage } from './operation.js';
import type { ClientSink } from './sink.js';
import { scanUsage } from './usage.js';

/** Bytes of the answer's end kept to read its usage from: the `usage` object is its last member. */
const TAIL_BYTES = 64 * 1024;

/**
 * Writes `start` and then `rest` to the client; resolves with the usage the answer ends with.
 * @throws what broke the rest (the upstream, the call's abort), with the client's answer cut off
 */
export async function jsonOut(start: Buffer, rest: AsyncIterable<Buffer> & { destroy(): void }, client: ClientSink): Promise<Usage | undefined> {
  client.startJson();
  // The last chunks, as few as hold TAIL_BYTES: joined once, at the end.
  const tail: Buffer[] = [start.subarray(-TAIL_BYTES)];
  let held = tail[0]!.length;
  try {
    await client.write(start);
    for await (const chunk of rest) {
      await client.write(chunk);
      tail.push(chunk);
      held += chunk.length;
      while (held - tail[0]!.length >= TAIL_BYTES) held -= tail.shift()!.length;
    }
  } catch (err) {
    client.abort();
    throw err;
  } finally {
    rest.destroy();
  }
  client.end();
  return scanUsage(Buffer.concat(tail).subarray(-TAIL_BYTES));
}
