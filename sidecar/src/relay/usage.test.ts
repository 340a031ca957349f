import { describe, expect, it } from 'vitest';
import { scanHead, scanUsage, usageFromObject } from './usage.js';

describe('scanUsage', () => {
  it('reads OpenAI usage from the tail, past content that mentions usage', () => {
    const body = { id: 'x', choices: [{ message: { content: 'the "usage" of {braces}', tool_calls: [{ function: { arguments: '{"usage":{"prompt_tokens":999}}' } }] } }], usage: { prompt_tokens: 12, completion_tokens: 5, total_tokens: 17 }, service_tier: 'default' };
    expect(scanUsage(Buffer.from(JSON.stringify(body)))).toEqual({ input: 12, output: 5 });
  });

  it('reads Anthropic usage, cached prompt tokens included', () => {
    const body = { id: 'msg_1', content: [{ type: 'tool_use', input: { usage: { input_tokens: 999 } } }], usage: { input_tokens: 10, output_tokens: 4, cache_read_input_tokens: 3, cache_creation_input_tokens: 2 } };
    expect(scanUsage(Buffer.from(JSON.stringify(body)))).toEqual({ input: 15, output: 4, cacheCreation: { ephemeral_5m_input_tokens: 2, ephemeral_1h_input_tokens: 0 } });
  });

  it("takes no usage key from the model's own objects: a Gemini function call's args, an Anthropic tool input after the answer's usage", () => {
    // Gemini's usage is usageMetadata; the args are raw JSON the agent can have the model write.
    const gemini = { candidates: [{ content: { role: 'model', parts: [{ functionCall: { name: 'report', args: { usage: { prompt_tokens: 1, completion_tokens: 1 } } } }] }, finishReason: 'STOP' }], usageMetadata: { promptTokenCount: 900_000, candidatesTokenCount: 60_000 }, modelVersion: 'gemini-x' };
    expect(scanUsage(Buffer.from(JSON.stringify(gemini)))).toBeUndefined();
    expect(scanUsage(Buffer.from(JSON.stringify(gemini, null, 2)))).toBeUndefined();
    const reordered = { usage: { input_tokens: 10, output_tokens: 4 }, content: [{ type: 'tool_use', input: { usage: { input_tokens: 1 } } }] };
    expect(scanUsage(Buffer.from(JSON.stringify(reordered)))).toBeUndefined();
    // The body's own, followed by other members and whitespace, still counts.
    expect(scanUsage(Buffer.from('{"choices":[{"message":{"content":"}]"}}],"usage":{"prompt_tokens":3,"completion_tokens":2},"x":[{"y":"]}"}]}\n'))).toEqual({ input: 3, output: 2 });
  });

  it('finds nothing in a body without usage, a null usage or a cut-off one', () => {
    expect(scanUsage(Buffer.from('{"choices":[]}'))).toBeUndefined();
    expect(scanUsage(Buffer.from('{"choices":[],"usage":null}'))).toBeUndefined();
    expect(scanUsage(Buffer.from('{"choices":[],"usage":{"prompt_tokens":1,'))).toBeUndefined();
  });
});

it("reads Anthropic's cache writes by how long they are kept, the rest of the total as five-minute ones", () => {
  expect(usageFromObject({ input_tokens: 10, output_tokens: 2, cache_creation_input_tokens: 300, cache_creation: { ephemeral_5m_input_tokens: 100, ephemeral_1h_input_tokens: 200 } })).toEqual({
    input: 310,
    output: 2,
    cacheCreation: { ephemeral_5m_input_tokens: 100, ephemeral_1h_input_tokens: 200 },
  });
  expect(usageFromObject({ input_tokens: 10, output_tokens: 2, cache_creation_input_tokens: 300 })).toMatchObject({ input: 310, cacheCreation: { ephemeral_5m_input_tokens: 300, ephemeral_1h_input_tokens: 0 } });
  expect(usageFromObject({ input_tokens: 10, output_tokens: 2, cache_creation_input_tokens: 0, cache_read_input_tokens: 50 })).toEqual({ input: 60, output: 2 });
});

describe('scanHead', () => {
  const head = (body: unknown) => scanHead(Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)));

  it('reads the id and model OpenAI and Anthropic write first', () => {
    expect(head({ id: 'chatcmpl-1', object: 'chat.completion', created: 1, model: 'gpt-4o-2024-08-06', choices: [] })).toEqual({ id: 'chatcmpl-1', model: 'gpt-4o-2024-08-06' });
    expect(head({ id: 'msg_01', type: 'message', role: 'assistant', model: 'claude-sonnet-4-5', content: [] })).toEqual({ id: 'msg_01', model: 'claude-sonnet-4-5' });
    expect(head('{ "id" : "a\\"b" ,\n "created": 17, "model":"m\\u00e9" }')).toEqual({ id: 'a"b', model: 'mé' });
  });

  it("takes only the body's own members: not one inside a value, not a non-string, not past its first KiB", () => {
    expect(head({ choices: [{ message: { id: 'x', model: 'fake' } }], id: 'real' })).toEqual({ id: 'real' });
    expect(head({ meta: { model: 'fake', s: '"model":"also fake"' }, model: 'real' })).toEqual({ model: 'real' });
    expect(head({ id: 7, model: ['m'] })).toEqual({});
    expect(head({ pad: 'x'.repeat(2000), id: 'late', model: 'late' })).toEqual({});
    expect(head('not json')).toEqual({});
    expect(head('{"id":"cut')).toEqual({});
  });
});
