import { describe, expect, it } from 'vitest';
import type { ChatRequest } from '../../wire/openai.js';
import { CallToolNames, toolNamesFor, withSentToolNames } from './tool-names.js';

const tool = (name: string) => ({ type: 'function' as const, function: { name, parameters: { type: 'object' } } });

function request(names: string[], history: string[] = []): ChatRequest {
  return {
    model: 'm',
    tools: names.map(tool),
    messages: [
      { role: 'user', content: 'hi' },
      ...(history.length ? [{ role: 'assistant' as const, content: null, tool_calls: history.map((name, i) => ({ id: `c${i}`, type: 'function' as const, function: { name, arguments: '{}' } })) }] : []),
    ],
  };
}

describe('tool names a provider refuses', () => {
  it('leaves a request whose names the provider takes as it is', () => {
    const sent = request(['get_weather', 'fs.read_file']);
    expect(toolNamesFor(sent, 'gemini')).toBeUndefined();
    expect(withSentToolNames(sent, 'gemini')).toBe(sent);
    expect(toolNamesFor(sent, 'ollama')).toBeUndefined();
  });

  it('renames dots and colons for OpenAI and Anthropic, the history included, and no two names share one', () => {
    for (const type of ['openai', 'openai-compatible', 'anthropic'] as const) {
      const sent = withSentToolNames(request(['fs.read_file', 'fs:read_file', 'fs_read_file'], ['fs:read_file']), type);
      const names = sent.tools!.map((t) => t.function.name);
      expect(names[2]).toBe('fs_read_file');
      expect(names[0]).toMatch(/^fs_read_file_[0-9a-f]{8}$/);
      expect(new Set(names).size).toBe(3);
      expect(names.every((n) => /^[a-zA-Z0-9_-]{1,64}$/.test(n))).toBe(true);
      const turn = sent.messages[1];
      expect(turn?.role === 'assistant' && turn.tool_calls?.[0]?.function.name).toBe(names[1]);
    }
  });

  it('gives the same names to every turn of a conversation', () => {
    const first = withSentToolNames(request(['a.b', 'a:b']), 'openai').tools;
    const later = withSentToolNames(request(['a.b', 'a:b'], ['a:b', 'a.b']), 'openai').tools;
    expect(later).toEqual(first);
  });

  it('cuts a name past the most and prefixes one Gemini refuses to start', () => {
    const long = `t${'x'.repeat(99)}`;
    const openai = withSentToolNames(request([long]), 'openai').tools![0]!.function.name;
    expect(openai).toHaveLength(64);
    expect(openai).toMatch(/_[0-9a-f]{8}$/);
    expect(withSentToolNames(request([long]), 'anthropic').tools![0]!.function.name).toBe(long);
    expect(withSentToolNames(request(['1st-tool']), 'gemini').tools![0]!.function.name).toBe('_1st-tool');
  });

  it('names the answer back, leaving names it never sent', () => {
    const asked = request(['fs.read_file']);
    const completion = {
      id: 'x',
      object: 'chat.completion' as const,
      created: 0,
      model: 'm',
      choices: [{ index: 0, finish_reason: 'tool_calls', message: { role: 'assistant' as const, content: null, tool_calls: ['fs_read_file', 'other'].map((name, i) => ({ id: `c${i}`, type: 'function' as const, function: { name, arguments: '{}' } })) } }],
    };
    const names = new CallToolNames();
    expect(names.sent(asked, 'openai').tools![0]!.function.name).toBe('fs_read_file');
    const back = names.completion(completion as never, 'openai');
    expect(back.choices[0]!.message.tool_calls!.map((c) => c.function.name)).toEqual(['fs.read_file', 'other']);
  });
});
