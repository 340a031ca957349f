/**
 * LangChain JS (`@langchain/openai` on chat completions and on the Responses API,
 * `@langchain/anthropic`, `@langchain/google-genai`) through the sidecar, each configured as its
 * docs say, against every provider type: invoke, stream, bindTools with a tool loop, structured
 * output, usage metadata, errors, and a LangGraph ReAct agent. The OpenAI and Anthropic classes
 * take a `fetch` that dials the socket; `@langchain/google-genai` (on `@google/generative-ai`)
 * takes no fetch, so it is pointed at the sidecar's loopback port.
 */
import { ChatAnthropic } from '@langchain/anthropic';
import type { BaseChatModel } from '@langchain/core/language_models/chat_models';
import { HumanMessage, type AIMessage, type AIMessageChunk, type BaseMessage } from '@langchain/core/messages';
import { tool } from '@langchain/core/tools';
import { ChatGoogleGenerativeAI } from '@langchain/google-genai';
import { createReactAgent } from '@langchain/langgraph/prebuilt';
import { ChatOpenAI } from '@langchain/openai';
import { fetch as undiciFetch } from 'undici';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { EVERY_PROVIDER, freePort, providerStackForFile } from './harness.js';

const loopbackPort = await freePort();
// o4-mini: an OpenAI model that reasons, for the runs with reasoning on (via-openai does not, and
// OpenAI refuses reasoning_effort there, as the mock does).
const suite = providerStackForFile('langchain', { extra: { listen: { loopbackPort } }, models: { openai: ['o4-mini'] } });

const CLIENTS = ['openai', 'openai responses', 'anthropic', 'google'] as const;
type Client = (typeof CLIENTS)[number];

/** A LangChain chat model for the sandbox model `model`, set up as an agent in the pod would; `reasoning` turns each class's own reasoning option on. */
function chatModel(client: Client, model: string, reasoning = false): BaseChatModel {
  // The URL's host is never looked up: every connection goes to the socket.
  const fetch = ((url: string, init?: Parameters<typeof undiciFetch>[1]) => undiciFetch(url, { ...init, dispatcher: suite.stack.dispatcher })) as unknown as typeof globalThis.fetch;
  switch (client) {
    case 'openai':
    case 'openai responses':
      return new ChatOpenAI({ model, apiKey: 'unused', maxRetries: 0, useResponsesApi: client === 'openai responses', ...(reasoning ? { reasoning: { effort: 'low' } } : {}), configuration: { baseURL: 'http://airlock/v1', fetch } });
    case 'anthropic':
      return new ChatAnthropic({ model, apiKey: 'unused', maxRetries: 0, ...(reasoning ? { maxTokens: 3000, thinking: { type: 'enabled', budget_tokens: 1024 } } : {}), clientOptions: { baseURL: 'http://airlock', fetch } });
    case 'google':
      return new ChatGoogleGenerativeAI({ model, apiKey: 'unused', maxRetries: 0, ...(reasoning ? { thinkingConfig: { thinkingBudget: 1024, includeThoughts: true } } : {}), baseUrl: `http://127.0.0.1:${loopbackPort}` });
  }
}

const weather = () => {
  const calls: string[] = [];
  const getWeather = tool(
    async ({ input }: { input: string }) => {
      calls.push(input);
      return `sunny in ${input}`;
    },
    { name: 'get_weather', description: 'Current weather for a city', schema: z.object({ input: z.string() }) },
  );
  return { calls, getWeather };
};

const text = (message: BaseMessage) => (typeof message.content === 'string' ? message.content : message.content.map((p) => ('text' in p ? p.text : '')).join(''));

describe.each(CLIENTS)('LangChain %s', (client) => {
  describe.each(EVERY_PROVIDER)('through a %s provider', (kind) => {
    const model = () => chatModel(client, `via-${kind}`);
    // @langchain/google-genai sends a tool's result as functionResponse.response = {result}; a
    // model served by another provider reads that object as JSON text (the sidecar unwraps only
    // Gemini's documented `output` field).
    const answerFrom = (result: string) => (client === 'google' && kind !== 'gemini' ? `tool result: ${JSON.stringify({ result })}` : `tool result: ${result}`);

    it('invokes and reports usage', async () => {
      const reply = (await model().invoke('hello there')) as AIMessage;
      expect(text(reply)).toBe('echo: hello there');
      expect(reply.usage_metadata).toMatchObject({ input_tokens: expect.any(Number), output_tokens: 3 });
      expect(reply.usage_metadata!.input_tokens).toBeGreaterThan(0);
    });

    it('continues a conversation with its earlier answer', async () => {
      const llm = model();
      const first = await llm.invoke('first question');
      const second = await llm.invoke([new HumanMessage('first question'), first, new HumanMessage('second question')]);
      expect(text(second)).toBe('echo: second question');
      expect(JSON.stringify(suite.mocks.get(kind)!.received.at(-1)!.body)).toContain('echo: first question');
    });

    it('streams the answer in pieces, with usage', async () => {
      let whole: AIMessageChunk | undefined;
      let pieces = 0;
      for await (const chunk of await model().stream('stream these words please')) {
        whole = whole ? whole.concat(chunk as AIMessageChunk) : (chunk as AIMessageChunk);
        if (text(chunk)) pieces++;
      }
      expect(text(whole!)).toBe('echo: stream these words please');
      expect(pieces).toBeGreaterThan(1);
      // ChatAnthropic adds message_start's output count (Anthropic sends 1 there) to message_delta's
      // cumulative one, against Anthropic itself too; a translated stream starts at 0.
      expect(whole!.usage_metadata?.output_tokens).toBe(client === 'anthropic' && kind === 'anthropic' ? 6 : 5);
    });

    it('raises a provider error in the middle of a stream after the text so far', async () => {
      suite.mocks.get(kind)!.script({ midStreamError: { afterChunks: 6, message: 'upstream fell over' } });
      let received = '';
      const error = await (async () => {
        for await (const chunk of await model().stream('one two three four five six seven eight nine ten')) received += text(chunk);
      })().catch((e: unknown) => e);
      // @google/generative-ai, under ChatGoogleGenerativeAI, passes Gemini's error frame on as an
      // empty chunk: the stream just ends, against Gemini itself too (docs/agents.md).
      if (client === 'google') expect(error).toBeUndefined();
      else expect(String((error as Error)?.message)).toContain('upstream fell over');
      expect(received).toMatch(/^echo: one/);
      expect(received).not.toContain('ten');
    });

    it.each([false, true])('binds a tool and runs the loop to the answer (reasoning on: %s)', async (reasoning) => {
      const { calls, getWeather } = weather();
      const llm = chatModel(client, reasoning && kind === 'openai' ? 'o4-mini' : `via-${kind}`, reasoning).bindTools!([getWeather]);
      const messages: BaseMessage[] = [new HumanMessage('Oslo')];
      const first = await llm.invoke(messages);
      expect(first.tool_calls?.map((c) => [c.name, c.args])).toEqual([['get_weather', { input: 'Oslo' }]]);
      expect(first.tool_calls![0]!.id).toMatch(/\S/);
      messages.push(first);
      for (const call of first.tool_calls!) messages.push(await getWeather.invoke(call));
      const final = await llm.invoke(messages);
      expect(calls).toEqual(['Oslo']);
      expect(text(final)).toBe(answerFrom('sunny in Oslo'));
    });

    it('streams a tool call whose arguments arrive whole', async () => {
      const { getWeather } = weather();
      let whole: AIMessageChunk | undefined;
      for await (const chunk of await model().bindTools!([getWeather]).stream('Narvik')) whole = whole ? whole.concat(chunk) : chunk;
      expect(whole!.tool_calls?.map((c) => [c.name, c.args])).toEqual([['get_weather', { input: 'Narvik' }]]);
      expect(whole!.tool_calls![0]!.id).toMatch(/\S/);
    });

    const schema = z.object({ city: z.string(), days: z.number() });
    it('gives structured output of a schema', async () => {
      expect(await model().withStructuredOutput(schema).invoke('weather for two days')).toEqual({ city: expect.stringContaining('weather for two days'), days: expect.any(Number) });
    });

    it('runs a LangGraph ReAct agent with a tool', async () => {
      const { calls, getWeather } = weather();
      const agent = createReactAgent({ llm: model(), tools: [getWeather] });
      const { messages } = await agent.invoke({ messages: [new HumanMessage('Bergen')] });
      expect(calls).toEqual(['Bergen']);
      expect(text(messages.at(-1)!)).toBe(answerFrom('sunny in Bergen'));
    });
  });

  it('surfaces a model outside the sandbox as an error naming it', async () => {
    const error = await chatModel(client, 'gpt-secret').invoke('hi').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(String((error as Error).message)).toContain('gpt-secret');
  });
});
