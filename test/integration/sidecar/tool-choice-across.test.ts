/**
 * A tool choice the client's own API takes reaches every provider type as one that provider
 * takes: the mocks refuse, as their APIs do, a tool choice without tools (OpenAI: any; Anthropic:
 * any but none), a named choice of no declared tool, and Gemini's allowedFunctionNames outside
 * mode ANY or without function declarations; the OpenAI-compatible mock refuses, as vLLM does, a
 * tool choice but none without tools.
 */
import { FunctionCallingConfigMode } from '@google/genai';
import { describe, expect, it } from 'vitest';
import { EVERY_PROVIDER, genaiClient, providerStackForFile } from './harness.js';

// An OpenAI-compatible server too: its mock refuses a tool_choice but none without tools, as vLLM does.
const KINDS = [...EVERY_PROVIDER, 'openai-compatible' as const];
const suite = providerStackForFile('tool-choice-across', { kinds: KINDS });
const lookup = { name: 'lookup', description: 'look things up', input_schema: { type: 'object' as const, properties: { input: { type: 'string' } } } };

describe.each(KINDS)('tool choices to a %s provider', (kind) => {
  const model = `via-${kind}`;

  it('answers an Anthropic client with tool_choice none and no tools (Anthropic takes it)', async () => {
    const answer = await suite.stack.anthropic().messages.create({ model, max_tokens: 50, messages: [{ role: 'user', content: 'just talk' }], tool_choice: { type: 'none' } });
    expect(answer.content).toEqual([{ type: 'text', text: 'echo: just talk' }]);
  });

  it('answers an Anthropic client forcing a declared tool', async () => {
    const answer = await suite.stack.anthropic().messages.create({ model, max_tokens: 50, messages: [{ role: 'user', content: 'find cats' }], tools: [lookup], tool_choice: { type: 'tool', name: 'lookup' } });
    expect(answer.content).toMatchObject([{ type: 'tool_use', name: 'lookup' }]);
  });

  it.each(['auto', 'none'] as const)('answers a Responses client with tool_choice %s and parallel_tool_calls but no tools (OpenAI takes them), plain and streamed', async (choice) => {
    const answer = await suite.stack.openai().responses.create({ model, input: 'just talk', tool_choice: choice, parallel_tool_calls: false });
    expect(answer.output_text).toBe('echo: just talk');
    let text = '';
    for await (const event of await suite.stack.openai().responses.create({ model, input: 'just talk', tool_choice: choice, parallel_tool_calls: true, stream: true })) {
      if (event.type === 'response.output_text.delta') text += event.delta;
    }
    expect(text).toBe('echo: just talk');
  });

  it('refuses a Responses client forcing a function it did not declare, in OpenAI\'s words', async () => {
    const forced = suite.stack.openai().responses.create({ model, input: 'find cats', tool_choice: { type: 'function', name: 'lookup' } });
    await expect(forced).rejects.toMatchObject({ status: 400, param: 'tool_choice', message: expect.stringContaining("Tool choice 'lookup' not found in 'tools' parameter.") });
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

// An `openai` provider takes a Responses call as sent: OpenAI judges its own tool choice.
describe.each(KINDS.filter((kind) => kind !== 'openai'))('a Responses call translated for a %s provider', (kind) => {
  it('is refused when it requires a tool call and declares no tools, naming tool_choice', async () => {
    const required = suite.stack.openai().responses.create({ model: `via-${kind}`, input: 'find cats', tool_choice: 'required' });
    await expect(required).rejects.toMatchObject({ status: 400, param: 'tool_choice', message: expect.stringContaining("tool_choice 'required' needs tools") });
  });
});
