import { describe, expect, it } from 'vitest';
import type { ChatCompletion, ChatCompletionChunk } from '../../wire/openai.js';
import { ResponsesRequest } from '../../wire/responses.js';
import { responsesToChat } from './responses.js';
import { namespaceNames } from './responses-namespaces.js';
import { chatToResponse, responseShell } from './responses-output.js';
import { responsesStreamEncoder } from './responses-stream.js';

// Codex's sub-agent tools, as it sends them: a namespace of function tools.
const spawn = { type: 'function', name: 'spawn_agent', description: 'Start a sub-agent', parameters: { type: 'object', properties: { task: { type: 'string' } } } };
const request = ResponsesRequest.parse({
  model: 'm',
  tools: [
    { type: 'function', name: 'exec_command', parameters: { type: 'object', properties: {} } },
    { type: 'namespace', name: 'multi_agent_v1', description: 'Sub-agents', tools: [spawn] },
  ],
  input: [
    { role: 'user', content: 'go' },
    { type: 'function_call', call_id: 'call_1', name: 'spawn_agent', namespace: 'multi_agent_v1', arguments: '{"task":"t"}' },
    { type: 'function_call_output', call_id: 'call_1', output: 'started' },
  ],
});

describe('namespace tools for a provider without them', () => {
  it('become function tools named <namespace>__<name>, and earlier calls of them are named so too', () => {
    const chat = responsesToChat(request);
    expect(chat.tools?.map((t) => t.function.name)).toEqual(['exec_command', 'multi_agent_v1__spawn_agent']);
    expect(chat.tools?.[1]?.function).toMatchObject({ description: 'Start a sub-agent', parameters: spawn.parameters });
    expect(chat.messages[1]).toMatchObject({ role: 'assistant', tool_calls: [{ id: 'call_1', function: { name: 'multi_agent_v1__spawn_agent' } }] });
    const custom = ResponsesRequest.parse({ model: 'm', input: 'x', tools: [{ type: 'namespace', name: 'n', tools: [{ type: 'custom', name: 'c' }] }] });
    expect(() => responsesToChat(custom)).toThrow(/custom tools can only be served by an OpenAI provider/);
  });

  it("come back to the client as calls with the function's name and its namespace, plain and streamed", () => {
    const shell = responseShell(request, 'resp_x', 0);
    const call = { id: 'call_2', type: 'function' as const, function: { name: 'multi_agent_v1__spawn_agent', arguments: '{}' } };
    const plainCall = { ...call, id: 'call_3', function: { name: 'exec_command', arguments: '{}' } };
    const completion = {
      id: 'c',
      object: 'chat.completion',
      created: 0,
      model: 'm',
      choices: [{ index: 0, message: { role: 'assistant', content: null, tool_calls: [call, plainCall] }, finish_reason: 'tool_calls' }],
    } as unknown as ChatCompletion;
    expect(chatToResponse(completion, shell).output).toMatchObject([
      { type: 'function_call', call_id: 'call_2', name: 'spawn_agent', namespace: 'multi_agent_v1' },
      { type: 'function_call', call_id: 'call_3', name: 'exec_command' },
    ]);
    expect(chatToResponse(completion, shell).output[1]).not.toHaveProperty('namespace');

    let done: unknown;
    const encoder = responsesStreamEncoder(shell, (response) => (done = response));
    const chunk = { id: 'c', object: 'chat.completion.chunk', created: 0, model: 'm', choices: [{ index: 0, delta: { tool_calls: [{ index: 0, ...call }] }, finish_reason: null }] };
    const sse = encoder.chunk(chunk as unknown as ChatCompletionChunk) + encoder.end();
    expect(sse).toContain('"name":"spawn_agent","namespace":"multi_agent_v1"');
    expect(done).toMatchObject({ output: [{ type: 'function_call', name: 'spawn_agent', namespace: 'multi_agent_v1' }] });
  });

  it('get a name of their own where <namespace>__<name> is taken, and each name comes back as its own tool', () => {
    const fn = (name: string) => ({ type: 'function', name });
    const tools = ResponsesRequest.parse({
      model: 'm',
      input: 'x',
      tools: [{ type: 'namespace', name: 'a', tools: [fn('b__c')] }, { type: 'namespace', name: 'a__b', tools: [fn('c')] }, fn('a__b__c')],
    }).tools!;
    const names = namespaceNames(tools);
    const sent = [names.sent('b__c', 'a'), names.sent('c', 'a__b'), names.sent('a__b__c')];
    expect(sent[2]).toBe('a__b__c');
    expect(sent[0]).toMatch(/^a__b__c_[0-9a-f]{8}$/);
    expect(sent[1]).toMatch(/^a__b__c_[0-9a-f]{8}$/);
    expect(new Set(sent).size).toBe(3);
    expect(sent.map((name) => names.client(name))).toEqual([{ name: 'b__c', namespace: 'a' }, { name: 'c', namespace: 'a__b' }, { name: 'a__b__c' }]);
    // The same tools give the same names (the next turn's request is parsed anew).
    expect(namespaceNames([...tools]).sent('c', 'a__b')).toBe(sent[1]);
  });
});
