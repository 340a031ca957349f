import { describe, expect, it } from 'vitest';
import { estimateUsage, scanUsage } from './usage.js';

describe('scanUsage', () => {
  it('reads OpenAI usage from the tail, past content that mentions usage', () => {
    const body = { id: 'x', choices: [{ message: { content: 'the "usage" of {braces}', tool_calls: [{ function: { arguments: '{"usage":{"prompt_tokens":999}}' } }] } }], usage: { prompt_tokens: 12, completion_tokens: 5, total_tokens: 17 }, service_tier: 'default' };
    expect(scanUsage(Buffer.from(JSON.stringify(body)))).toEqual({ input: 12, output: 5 });
  });

  it('reads Anthropic usage, cached prompt tokens included', () => {
    const body = { id: 'msg_1', content: [{ type: 'tool_use', input: { usage: { input_tokens: 999 } } }], usage: { input_tokens: 10, output_tokens: 4, cache_read_input_tokens: 3, cache_creation_input_tokens: 2 } };
    expect(scanUsage(Buffer.from(JSON.stringify(body)))).toEqual({ input: 15, output: 4 });
  });

  it('finds nothing in a body without usage, a null usage or a cut-off one', () => {
    expect(scanUsage(Buffer.from('{"choices":[]}'))).toBeUndefined();
    expect(scanUsage(Buffer.from('{"choices":[],"usage":null}'))).toBeUndefined();
    expect(scanUsage(Buffer.from('{"choices":[],"usage":{"prompt_tokens":1,'))).toBeUndefined();
  });
});

it('estimates about four characters a token, rounding up', () => {
  expect(estimateUsage(10, 9)).toEqual({ input: 3, output: 3 });
});
