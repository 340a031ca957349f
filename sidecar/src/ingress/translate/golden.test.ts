import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { outcome, readFixtures, UPDATE_GOLDEN, updateFixture, type Fixture } from '../../providers/testing/golden.js';
import type { ProviderError } from '../../providers/types.js';
import { MessagesRequest } from '../../wire/anthropic.js';
import { CompletionRequest, type ChatCompletion, type ChatCompletionChunk } from '../../wire/openai.js';
import { anthropicStreamEncoder, anthropicToChat, chatToAnthropic } from './anthropic.js';
import { chatChunkToCompletion, chatToCompletion, completionToChat } from './completions.js';

/**
 * Golden files of the ingress translations: `golden/*.json` name the function (`call`), the input,
 * and the expected output. The Anthropic stream encoder's output is compared byte for byte with a
 * `.sse` file, since that text is exactly what an Anthropic client reads.
 */
const dir = join(import.meta.dirname, 'golden');

interface EncodeInput {
  id: string;
  model: string;
  chunks: ChatCompletionChunk[];
  error?: ProviderError;
}

function encode(input: EncodeInput): string {
  const encoder = anthropicStreamEncoder({ id: input.id, model: input.model });
  const text = input.chunks.map((c) => encoder.encode(c)).join('');
  return text + (input.error ? encoder.error(input.error) : encoder.end());
}

function run(fixture: Fixture): unknown {
  const { input } = fixture.data;
  switch (fixture.data.call) {
    case 'anthropicToChat':
      return anthropicToChat(MessagesRequest.parse(input));
    case 'chatToAnthropic':
      return chatToAnthropic(input as ChatCompletion);
    case 'completionToChat':
      return completionToChat(CompletionRequest.parse(input));
    case 'chatToCompletion':
      return chatToCompletion(input as ChatCompletion);
    case 'chatChunksToCompletion':
      return (input as ChatCompletionChunk[]).map((c) => chatChunkToCompletion(c) ?? null);
    default:
      throw new Error(`unknown call ${String(fixture.data.call)}`);
  }
}

describe('ingress translation golden files', () => {
  for (const fixture of readFixtures(dir)) {
    it(`${fixture.name}: ${String(fixture.data.description)}`, () => {
      if (fixture.data.call === 'encodeAnthropicStream') {
        const path = join(dir, fixture.data.expectedRaw as string);
        const actual = encode(fixture.data.input as EncodeInput);
        if (UPDATE_GOLDEN) return writeFileSync(path, actual);
        return expect(actual).toBe(readFileSync(path, 'utf8'));
      }
      const result = outcome(() => run(fixture));
      if (UPDATE_GOLDEN) return updateFixture(fixture, result);
      if ('throws' in result) expect({ throws: result.throws }).toEqual({ throws: fixture.data.throws });
      else expect(result.expected).toEqual(fixture.data.expected);
    });
  }
});
