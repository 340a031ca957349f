import { describe, expect, it } from 'vitest';
import { contentAttributes, CUT_MARKER, cutContent, inputContent, MAX_CONTENT_CHARS, OutputContent } from './content.js';

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

  it('cuts an attribute longer than the cap, after redaction, with a marker that says so', () => {
    const prompt = `sk-abcdefghijkl ${'x'.repeat(100_000)}`;
    const attributes = contentAttributes(inputContent({ messages: [{ role: 'user', content: prompt }] }), [], (text) => text.replace(/sk-\w+/g, '[REDACTED]'));
    const value = attributes['gen_ai.input.messages']!;
    expect(value).toHaveLength(MAX_CONTENT_CHARS);
    const whole = JSON.stringify([{ role: 'user', parts: [{ type: 'text', content: `[REDACTED] ${'x'.repeat(100_000)}` }] }]);
    expect(value).toBe(whole.slice(0, MAX_CONTENT_CHARS - CUT_MARKER.length) + CUT_MARKER);
  });

  it('redacts a key that ends where the cut begins, and one past it never shows', () => {
    const key = 'sk-abcdefghijklmnopqrstuvwxyz0123456789';
    const redact = (text: string) => text.replace(/sk-\w{30,}/g, '[REDACTED]');
    for (const at of [MAX_CONTENT_CHARS - 120, MAX_CONTENT_CHARS - 60, 2 * MAX_CONTENT_CHARS - 20]) {
      const prompt = `${'y'.repeat(at)} ${key} ${'z'.repeat(3 * MAX_CONTENT_CHARS)}`;
      const value = contentAttributes(inputContent({ messages: [{ role: 'user', content: prompt }] }), [], redact)['gen_ai.input.messages']!;
      expect(value).toHaveLength(MAX_CONTENT_CHARS);
      expect(value).not.toMatch(/sk-a/);
    }
  });

  it('writes out and redacts no more of a huge prompt than the cut can keep', () => {
    const seen: number[] = [];
    const messages = [{ role: 'user' as const, content: 'x'.repeat(20 * 1024 * 1024) }, { role: 'user' as const, content: 'the newest' }];
    contentAttributes(inputContent({ messages }), [], (text) => (seen.push(text.length), text));
    expect(seen).toHaveLength(1);
    expect(seen[0]).toBeLessThanOrEqual(2 * MAX_CONTENT_CHARS + 100);
  });

  it('leaves a value at the cap whole, and never splits a surrogate pair', () => {
    expect(cutContent('a'.repeat(MAX_CONTENT_CHARS))).toHaveLength(MAX_CONTENT_CHARS);
    for (let shift = 0; shift < 2; shift++) {
      const cut = cutContent('a'.repeat(shift) + '😀'.repeat(MAX_CONTENT_CHARS));
      expect(cut.length).toBeLessThanOrEqual(MAX_CONTENT_CHARS);
      expect(cut.endsWith(CUT_MARKER)).toBe(true);
      expect(cut.slice(0, -CUT_MARKER.length)).toMatch(/^a*(?:\ud83d\ude00)+$/);
    }
  });
});
