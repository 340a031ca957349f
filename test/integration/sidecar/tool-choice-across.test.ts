/**
 * A tool choice the client's own API takes reaches every provider type as one that provider
 * takes: the mocks refuse, as their APIs do, a tool choice without tools (OpenAI: any; Anthropic:
 * any but none), a named choice of no declared tool, and Gemini's allowedFunctionNames outside
 * mode ANY or without function declarations.
 */
import { FunctionCallingConfigMode } from '@google/genai';
import { describe, expect, it } from 'vitest';
import { EVERY_PROVIDER, genaiClient, providerStackForFile } from './harness.js';

const suite = providerStackForFile('tool-choice-across');
const lookup = { name: 'lookup', description: 'look things up', input_schema: { type: 'object' as const, properties: { input: { type: 'string' } } } };

describe.each(EVERY_PROVIDER)('tool choices to a %s provider', (kind) => {
  const model = `via-${kind}`;

  it('answers an Anthropic client with tool_choice none and no tools (Anthropic takes it)', async () => {
    const answer = await suite.stack.anthropic().messages.create({ model, max_tokens: 50, messages: [{ role: 'user', content: 'just talk' }], tool_choice: { type: 'none' } });
    expect(answer.content).toEqual([{ type: 'text', text: 'echo: just talk' }]);
  });

  it('answers an Anthropic client forcing a declared tool', async () => {
    const answer = await suite.stack.anthropic().messages.create({ model, max_tokens: 50, messages: [{ role: 'user', content: 'find cats' }], tools: [lookup], tool_choice: { type: 'tool', name: 'lookup' } });
    expect(answer.content).toMatchObject([{ type: 'tool_use', name: 'lookup' }]);
  });

  it('answers a Responses client with tool_choice auto and no tools (OpenAI takes it)', async () => {
    const answer = await suite.stack.openai().responses.create({ model, input: 'just talk', tool_choice: 'auto' });
    expect(answer.output_text).toBe('echo: just talk');
  });

  it('answers a Gemini client restricting ANY to a declared function', async () => {
    const config = { tools: [{ functionDeclarations: [{ name: 'lookup' }, { name: 'search' }] }], toolConfig: { functionCallingConfig: { mode: FunctionCallingConfigMode.ANY, allowedFunctionNames: ['search'] } } };
    const answer = await genaiClient(suite.stack).models.generateContent({ model, contents: 'find cats', config });
    // Ollama cannot force or restrict a call: it gets every tool, and its mock calls the first.
    expect(answer.functionCalls?.map((c) => c.name)).toEqual([kind === 'ollama' ? 'lookup' : 'search']);
  });

  it('answers a Gemini client forcing a function whose name other providers refuse (renamed, the choice too)', async () => {
    const config = { tools: [{ functionDeclarations: [{ name: 'fs.read_file' }, { name: 'search' }] }], toolConfig: { functionCallingConfig: { mode: FunctionCallingConfigMode.ANY, allowedFunctionNames: ['fs.read_file'] } } };
    const answer = await genaiClient(suite.stack).models.generateContent({ model, contents: 'read it', config });
    expect(answer.functionCalls?.map((c) => c.name)).toEqual(['fs.read_file']);
  });

  it('answers an Anthropic client forcing a tool whose name Gemini refuses (renamed, the choice too)', async () => {
    const answer = await suite.stack.anthropic().messages.create({ model, max_tokens: 50, messages: [{ role: 'user', content: 'find cats' }], tools: [lookup, { ...lookup, name: '2lookup' }], tool_choice: { type: 'tool', name: '2lookup' } });
    // Ollama cannot force a call: the first tool is called.
    expect(answer.content).toMatchObject([{ type: 'tool_use', name: kind === 'ollama' ? 'lookup' : '2lookup' }]);
  });

  it('answers an OpenAI chat client naming a declared function', async () => {
    const tools = [{ type: 'function' as const, function: { name: 'lookup', parameters: { type: 'object', properties: { input: { type: 'string' } } } } }];
    const answer = await suite.stack.openai().chat.completions.create({ model, messages: [{ role: 'user', content: 'find cats' }], tools, tool_choice: { type: 'function', function: { name: 'lookup' } } });
    expect(answer.choices[0]!.message.tool_calls?.[0]).toMatchObject({ function: { name: 'lookup' } });
  });
});
