import { describe, expect, it } from 'vitest';
import { openThinking, ResponsesRequest } from '../../wire/responses.js';
import type { ResponseThinkingBlock } from '../../wire/openai-responses.js';
import { responsesToChat } from './responses.js';
import { reasoningItem } from './responses-output.js';

describe("a reasoning item made from Anthropic's thinking", () => {
  const blocks: ResponseThinkingBlock[] = [
    { type: 'thinking', thinking: 'First I think A.', signature: 'SIG_A' },
    { type: 'redacted_thinking', data: 'REDACTED' },
    { type: 'thinking', thinking: 'Then I think B.', signature: 'SIG_B' },
  ];

  it('gives every block back unchanged, in order, redacted ones too (Anthropic requires them as they were)', () => {
    const item = reasoningItem('rs_1', 'First I think A.Then I think B.', blocks);
    expect(item.encrypted_content).toMatch(/^airlock:anthropic:/);
    expect(openThinking(item.encrypted_content)).toEqual(blocks);
    const chat = responsesToChat(
      ResponsesRequest.parse({
        model: 'm',
        input: [{ role: 'user', content: 'q' }, item, { type: 'function_call', call_id: 'c1', name: 'f', arguments: '{}' }, { type: 'function_call_output', call_id: 'c1', output: 'ok' }],
      }),
    );
    const assistant = chat.messages.find((m) => m.role === 'assistant') as { thinking_blocks?: unknown };
    expect(assistant.thinking_blocks).toEqual(blocks);
  });

  it('is the bare mark without signed blocks, and anything else opens to no blocks', () => {
    expect(reasoningItem('rs_2', 'thoughts', [{ type: 'thinking', thinking: 'unsigned' }]).encrypted_content).toBe('airlock:');
    for (const encrypted of ['airlock:', 'gAAAABxyz', 'airlock:anthropic:not-base64-json', `airlock:anthropic:${Buffer.from('{"a":1}').toString('base64url')}`, null, undefined]) {
      expect(openThinking(encrypted)).toEqual([]);
    }
  });
});
