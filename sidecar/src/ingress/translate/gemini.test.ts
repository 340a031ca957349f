import { describe, expect, it } from 'vitest';
import { GenerateContentRequest } from '../../wire/gemini.js';
import { geminiToChat, sealedThinking } from './gemini.js';
import { chatToGemini, geminiStreamEncoder } from './gemini-output.js';

const request = (body: object) => GenerateContentRequest.parse({ contents: [{ role: 'user', parts: [{ text: 'hi' }] }], ...body });
const fn = (name: string, parameters?: object) => ({ name, ...(parameters ? { parameters } : {}) });

describe('geminiToChat: tools', () => {
  it("turns Gemini's Schema into JSON Schema: lower-case types, nullable as a null type, example as examples, no propertyOrdering, property names kept", () => {
    const parameters = {
      type: 'OBJECT',
      properties: {
        city: { type: 'STRING', nullable: true, example: 'Oslo' },
        tags: { type: 'ARRAY', items: { type: 'STRING' }, minItems: 1 },
        nullable: { anyOf: [{ type: 'INTEGER' }, { type: 'STRING' }], nullable: true },
        propertyOrdering: { type: 'BOOLEAN' },
      },
      required: ['city'],
      propertyOrdering: ['city', 'tags'],
    };
    const chat = geminiToChat(request({ tools: [{ functionDeclarations: [fn('get_weather', parameters)] }] }), 'm', false);
    expect(chat.tools![0]!.function.parameters).toEqual({
      type: 'object',
      properties: {
        city: { type: ['string', 'null'], examples: ['Oslo'] },
        tags: { type: 'array', items: { type: 'string' }, minItems: 1 },
        nullable: { anyOf: [{ type: 'integer' }, { type: 'string' }, { type: 'null' }] },
        propertyOrdering: { type: 'boolean' },
      },
      required: ['city'],
    });
  });

  it('offers only the allowed functions when mode ANY names several (OpenAI and Anthropic cannot name a few in tool_choice)', () => {
    const tools = [{ functionDeclarations: [fn('a'), fn('b'), fn('c')] }];
    const several = geminiToChat(request({ tools, toolConfig: { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['b', 'c'] } } }), 'm', false);
    expect(several.tools!.map((t) => t.function.name)).toEqual(['b', 'c']);
    expect(several.tool_choice).toBe('required');
    const one = geminiToChat(request({ tools, toolConfig: { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['c'] } } }), 'm', false);
    expect(one.tools!.map((t) => t.function.name)).toEqual(['a', 'b', 'c']);
    expect(one.tool_choice).toEqual({ type: 'function', function: { name: 'c' } });
    const auto = geminiToChat(request({ tools, toolConfig: { functionCallingConfig: { mode: 'AUTO' } } }), 'm', false);
    expect(auto.tools).toHaveLength(3);
    // VALIDATED: the model may answer in text, from the allowed functions only.
    const validated = geminiToChat(request({ tools, toolConfig: { functionCallingConfig: { mode: 'VALIDATED', allowedFunctionNames: ['c'] } } }), 'm', false);
    expect(validated.tools!.map((t) => t.function.name)).toEqual(['c']);
    expect(validated.tool_choice).toBe('auto');
  });

  it('refuses allowedFunctionNames naming a function that is not declared', () => {
    const tools = [{ functionDeclarations: [fn('a')] }];
    expect(() => geminiToChat(request({ tools, toolConfig: { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['zzz'] } } }), 'm', false)).toThrow(/allowedFunctionNames names 'zzz'/);
  });
});

describe('geminiToChat: thinking', () => {
  const thinking = (thinkingConfig: object) => geminiToChat(request({ generationConfig: { thinkingConfig } }), 'm', false);
  it('takes a budget as a budget, 0 as minimal, -1 (the model decides) as medium, and Gemini 3 levels as efforts', () => {
    expect(thinking({ thinkingBudget: 2048 }).thinking).toEqual({ type: 'enabled', budget_tokens: 2048 });
    expect(thinking({ thinkingBudget: 0 }).reasoning_effort).toBe('minimal');
    expect(thinking({ thinkingBudget: -1 }).reasoning_effort).toBe('medium');
    expect(thinking({ thinkingLevel: 'HIGH' }).reasoning_effort).toBe('high');
    expect(thinking({ thinkingLevel: 'low' }).reasoning_effort).toBe('low');
    expect(thinking({ thinkingLevel: 'THINKING_LEVEL_UNSPECIFIED' })).not.toHaveProperty('reasoning_effort');
  });
});

describe("Claude's signed thinking as a Gemini thought signature", () => {
  const blocks = [
    { type: 'thinking' as const, thinking: 'First A.', signature: 'SIG_A' },
    { type: 'redacted_thinking' as const, data: 'REDACTED' },
  ];
  const completion = {
    id: 'c',
    object: 'chat.completion' as const,
    created: 0,
    model: 'm',
    choices: [{ index: 0, finish_reason: 'tool_calls' as const, logprobs: null, message: { role: 'assistant' as const, content: null, reasoning_content: 'First A.', thinking_blocks: blocks, tool_calls: [{ id: 'call_1', type: 'function' as const, function: { name: 'f', arguments: '{}' } }] } }],
  };

  it('rides on the first answer part, plain and streamed, and reads back as the same blocks, in base64 or URL-safe base64', () => {
    const parts = ((chatToGemini(completion as never) as { candidates: { content: { parts: Record<string, unknown>[] } }[] }).candidates[0]!.content.parts);
    const signature = parts.find((p) => p.functionCall)!.thoughtSignature as string;
    expect(sealedThinking(signature)).toEqual(blocks);
    expect(sealedThinking(Buffer.from(signature, 'base64').toString('base64url'))).toEqual(blocks);
    const encoder = geminiStreamEncoder({ id: 'c', model: 'm' });
    const frames = [
      encoder.chunk({ id: 'c', object: 'chat.completion.chunk', created: 0, model: 'm', choices: [{ index: 0, delta: { thinking_blocks: blocks }, finish_reason: null }] } as never),
      encoder.chunk({ id: 'c', object: 'chat.completion.chunk', created: 0, model: 'm', choices: [{ index: 0, delta: { tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'f', arguments: '{}' } }] }, finish_reason: 'tool_calls' }] } as never),
      encoder.end(),
    ].join('');
    expect(frames).toContain(`"thoughtSignature":"${signature}"`);
  });

  it("reads Gemini's own signatures as nothing", () => {
    expect(sealedThinking('EqQBCgIYAhIMsigAAAA=')).toEqual([]);
    expect(sealedThinking(undefined)).toEqual([]);
  });
});
