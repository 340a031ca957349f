import { describe, expect, it } from 'vitest';
import { contentAttributes, inputContent, OutputContent } from './content.js';

describe('message content in the GenAI conventions\' shape', () => {
  it('splits instructions from the history and turns tool calls and results into parts', () => {
    const input = inputContent({
      messages: [
        { role: 'developer', content: [{ type: 'text', text: 'be brief' }] },
        { role: 'user', content: 'weather in Paris?' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: 'rainy' },
      ],
    });
    expect(input.system).toEqual([{ type: 'text', content: 'be brief' }]);
    expect(input.messages).toEqual([
      { role: 'user', parts: [{ type: 'text', content: 'weather in Paris?' }] },
      { role: 'assistant', parts: [{ type: 'tool_call', id: 'call_1', name: 'get_weather', arguments: { city: 'Paris' } }] },
      { role: 'tool', parts: [{ type: 'tool_call_response', id: 'call_1', response: 'rainy' }] },
    ]);
  });

  it('gathers a streamed tool call from its fragments, and a text answer per choice', () => {
    const output = new OutputContent();
    output.add({ choices: [{ index: 0, delta: { role: 'assistant', tool_calls: [{ index: 0, id: 'call_9', function: { name: 'look', arguments: '{"q":' } }] } }] });
    output.add({ choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: '"x"}' } }] }, finish_reason: 'tool_calls' }] });
    output.add({ choices: [{ index: 1, delta: { content: 'hel' } }] });
    output.add({ choices: [{ index: 1, delta: { content: 'lo' }, finish_reason: 'stop' }] });
    expect(output.messages()).toEqual([
      { role: 'assistant', parts: [{ type: 'tool_call', id: 'call_9', name: 'look', arguments: { q: 'x' } }], finish_reason: 'tool_calls' },
      { role: 'assistant', parts: [{ type: 'text', content: 'hello' }], finish_reason: 'stop' },
    ]);
  });

  it('reads a Responses answer, streamed as deltas and then whole, once', () => {
    const output = new OutputContent();
    output.add({ type: 'response.output_text.delta', delta: 'hi ' });
    output.add({ type: 'response.output_text.delta', delta: 'there' });
    output.add({ output: [{ type: 'message', content: [{ type: 'output_text', text: 'hi there' }] }] });
    expect(output.messages()).toEqual([{ role: 'assistant', parts: [{ type: 'text', content: 'hi there' }] }]);
  });

  it('redacts the JSON text of every attribute and leaves out empty lists', () => {
    const attributes = contentAttributes(inputContent({ messages: [{ role: 'user', content: 'key sk-abcdefghijkl' }] }), [], (text) => text.replace(/sk-\w+/g, '[REDACTED]'));
    expect(attributes).toEqual({ 'gen_ai.input.messages': JSON.stringify([{ role: 'user', parts: [{ type: 'text', content: 'key [REDACTED]' }] }]) });
  });
});
