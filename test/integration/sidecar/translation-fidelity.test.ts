/**
 * What translation carries across APIs, seen through the official SDKs on the socket: thinking
 * and its signature (the Anthropic mock refuses a tool round trip whose thinking came back
 * unsigned or not at all, as Anthropic does), reasoning effort and thinking budgets, `is_error`
 * on tool results, and `cache_control`; and what it drops by rule for providers without an
 * equivalent (ADR 0004).
 */
import Anthropic from '@anthropic-ai/sdk';
import type OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import type { MockKind } from '../../mocks/index.js';
import { providerStackForFile } from './harness.js';

// Two of OpenAI's models besides via-openai: one that reasons (takes reasoning_effort) and one that does not.
const suite = providerStackForFile('fidelity', { models: { openai: ['o4-mini', 'gpt-4o', 'gpt-5.1'], ollama: ['llama3.1:8b'], anthropic: ['claude-opus-4-1-20250805'], gemini: ['gemini-3-pro-preview', 'gemini-2.5-flash', 'gemini-2.5-pro'] }, extra: { models: { aliases: { everyday: 'gpt-4o' } } } });

const lastBody = (kind: MockKind) => suite.mocks.get(kind)!.received.at(-1)!.body as Record<string, unknown>;

const weatherChat = { type: 'function' as const, function: { name: 'get_weather', parameters: { type: 'object', properties: { input: { type: 'string' } } } } };
const weatherResponses = { type: 'function' as const, name: 'get_weather', parameters: { type: 'object', properties: { input: { type: 'string' } } }, strict: false };
const weatherAnthropic = { name: 'get_weather', input_schema: { type: 'object' as const, properties: { input: { type: 'string' } } } };

describe('OpenAI chat SDK to an Anthropic model with reasoning_effort', () => {
  it('asks for a thinking budget, returns the thinking, and hands its signature back on the tool round trip', async () => {
    const client = suite.stack.openai();
    const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [{ role: 'user', content: 'weather in Oslo' }];
    const first = await client.chat.completions.create({ model: 'via-anthropic', reasoning_effort: 'low', temperature: 0.3, max_tokens: 4000, messages, tools: [weatherChat] });
    expect(lastBody('anthropic')).toMatchObject({ thinking: { type: 'enabled', budget_tokens: 1024 } });
    expect(lastBody('anthropic')).not.toHaveProperty('temperature');
    const message = first.choices[0]!.message as typeof first.choices[0]['message'] & { reasoning_content?: string; thinking_blocks?: unknown[] };
    expect(message.reasoning_content).toBe('Considering: weather in Oslo');
    expect(message.thinking_blocks).toEqual([{ type: 'thinking', thinking: 'Considering: weather in Oslo', signature: expect.any(String) }]);
    const call = message.tool_calls![0]!;
    // The mock refuses this turn unless the signed thinking block leads the assistant turn.
    const second = await client.chat.completions.create({
      model: 'via-anthropic',
      reasoning_effort: 'low',
      max_tokens: 4000,
      tools: [weatherChat],
      messages: [...messages, message as OpenAI.Chat.ChatCompletionMessageParam, { role: 'tool', tool_call_id: call.id, content: 'sunny' }],
    });
    expect(second.choices[0]!.message.content).toBe('tool result: sunny');
    expect(lastBody('anthropic')).toMatchObject({ thinking: { type: 'enabled' } });
  });

  it('runs the tool round trip without thinking when the client does not hand the thinking back', async () => {
    // What the Vercel AI SDK's and LangChain's OpenAI chat models send: the assistant turn
    // without thinking_blocks. Anthropic refuses thinking on it; the step runs without.
    const client = suite.stack.openai();
    const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [{ role: 'user', content: 'weather in Bergen' }];
    const first = await client.chat.completions.create({ model: 'via-anthropic', reasoning_effort: 'low', max_tokens: 4000, messages, tools: [weatherChat] });
    const call = first.choices[0]!.message.tool_calls![0]!;
    const second = await client.chat.completions.create({
      model: 'via-anthropic',
      reasoning_effort: 'low',
      max_tokens: 4000,
      tools: [weatherChat],
      messages: [...messages, { role: 'assistant', content: null, tool_calls: [call] }, { role: 'tool', tool_call_id: call.id, content: 'rainy' }],
    });
    expect(second.choices[0]!.message.content).toBe('tool result: rainy');
    expect(lastBody('anthropic')).not.toHaveProperty('thinking');
  });

  it.each([
    ['a forced tool (tool_choice required, the Agents SDK and LangChain structured output)', { tool_choice: 'required' as const }, []],
    ['a named tool', { tool_choice: { type: 'function' as const, function: { name: 'get_weather' } } }, []],
    ['a prefill (a final assistant turn to continue, as Aider sends)', {}, [{ role: 'assistant' as const, content: '{' }]],
  ])('answers with %s by running without thinking, which Anthropic refuses there', async (_what, extra, tail) => {
    // Before: thinking went out with tool_choice any/tool or before the prefill, and Anthropic answered 400 about a field the agent never sent.
    const client = suite.stack.openai();
    const answer = await client.chat.completions.create({ model: 'via-anthropic', reasoning_effort: 'low', max_tokens: 4000, tools: [weatherChat], messages: [{ role: 'user', content: 'weather in Tromsø' }, ...tail], ...extra });
    expect(answer.choices[0]!.finish_reason).toMatch(/^(stop|tool_calls)$/);
    expect(lastBody('anthropic')).not.toHaveProperty('thinking');
  });

  it('keeps thinking and leaves out a top_p below the 0.95 Anthropic allows with it', async () => {
    const client = suite.stack.openai();
    await client.chat.completions.create({ model: 'via-anthropic', reasoning_effort: 'low', top_p: 0.5, max_tokens: 4000, messages: [{ role: 'user', content: 'weather in Alta' }] });
    expect(lastBody('anthropic')).toMatchObject({ thinking: { type: 'enabled' } });
    expect(lastBody('anthropic')).not.toHaveProperty('top_p');
    await client.chat.completions.create({ model: 'via-anthropic', reasoning_effort: 'low', top_p: 0.97, max_tokens: 4000, messages: [{ role: 'user', content: 'weather in Alta' }] });
    expect(lastBody('anthropic')).toMatchObject({ thinking: { type: 'enabled' }, top_p: 0.97 });
  });

  it('streams the thinking as reasoning_content deltas', async () => {
    const stream = await suite.stack.openai().chat.completions.create({ model: 'via-anthropic', reasoning_effort: 'low', max_tokens: 4000, stream: true, messages: [{ role: 'user', content: 'think aloud' }] });
    let reasoning = '';
    let text = '';
    for await (const chunk of stream) {
      const delta = chunk.choices[0]?.delta as { content?: string | null; reasoning_content?: string } | undefined;
      reasoning += delta?.reasoning_content ?? '';
      text += delta?.content ?? '';
    }
    expect(reasoning).toBe('Considering: think aloud');
    expect(text).toBe('echo: think aloud');
  });
});

describe('Responses API to an Anthropic model with reasoning', () => {
  it('returns a reasoning item whose encrypted_content carries the signature back on the next turn', async () => {
    const client = suite.stack.openai();
    const first = await client.responses.create({ model: 'via-anthropic', input: 'weather in Rome', reasoning: { effort: 'low' }, max_output_tokens: 4000, tools: [weatherResponses] });
    const reasoning = first.output.find((item) => item.type === 'reasoning');
    expect(reasoning).toMatchObject({ summary: [{ type: 'summary_text', text: 'Considering: weather in Rome' }], encrypted_content: expect.any(String) });
    const call = first.output.find((item) => item.type === 'function_call') as { call_id: string };
    const second = await client.responses.create({
      model: 'via-anthropic',
      reasoning: { effort: 'low' },
      max_output_tokens: 4000,
      tools: [weatherResponses],
      input: [{ role: 'user', content: 'weather in Rome' }, ...(first.output as OpenAI.Responses.ResponseInputItem[]), { type: 'function_call_output', call_id: call.call_id, output: 'rainy' }],
    });
    expect(second.output_text).toBe('tool result: rainy');
  });
});

describe('Anthropic SDK to other providers', () => {
  const tooled = async (model: string) => {
    const client = suite.stack.anthropic();
    const first = await client.messages.create({ model, max_tokens: 4000, thinking: { type: 'enabled', budget_tokens: 2048 }, tools: [weatherAnthropic], messages: [{ role: 'user', content: 'weather in Lima' }] });
    const use = first.content.find((b) => b.type === 'tool_use')!;
    return client.messages.create({
      model,
      max_tokens: 4000,
      thinking: { type: 'enabled', budget_tokens: 2048 },
      tools: [weatherAnthropic],
      system: [{ type: 'text', text: 'You are terse.', cache_control: { type: 'ephemeral' } }],
      messages: [
        { role: 'user', content: 'weather in Lima' },
        { role: 'assistant', content: first.content },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.type === 'tool_use' ? use.id : '', content: 'station offline', is_error: true }] },
      ],
    });
  };

  it('Gemini gets the thinking budget and the failed tool result as an error', async () => {
    const answer = await tooled('via-gemini');
    // The mock model echoes the function response it got: an error, not an output.
    expect(answer.content.at(-1)).toMatchObject({ type: 'text', text: 'tool result: {"error":"station offline"}' });
    const body = lastBody('gemini');
    expect(body.generationConfig).toMatchObject({ thinkingConfig: { thinkingBudget: 2048, includeThoughts: true } });
    expect(JSON.stringify(body.contents)).toContain('"functionResponse":{"name":"get_weather","response":{"error":"station offline"}}');
  });

  it('an OpenAI reasoning model gets the nearest reasoning_effort and none of the fields its API refuses', async () => {
    await tooled('o4-mini');
    const body = lastBody('openai');
    expect(body.reasoning_effort).toBe('low');
    expect(body).not.toHaveProperty('thinking');
    const text = JSON.stringify(body.messages);
    for (const field of ['is_error', 'thinking_blocks', 'cache_control']) expect(text).not.toContain(field);
  });

  it("the client's cap counts the thinking, as OpenAI's counts reasoning: Claude thinks within it, or not at all", async () => {
    const client = suite.stack.openai();
    await client.responses.create({ model: 'via-anthropic', input: 'capped', reasoning: { effort: 'high' }, max_output_tokens: 6000 });
    expect(lastBody('anthropic')).toMatchObject({ max_tokens: 6000, thinking: { type: 'enabled', budget_tokens: 3000 } });
    await client.chat.completions.create({ model: 'via-anthropic', reasoning_effort: 'high', max_completion_tokens: 1000, messages: [{ role: 'user', content: 'capped' }] });
    expect(lastBody('anthropic')).toMatchObject({ max_tokens: 1000 });
    expect(lastBody('anthropic')).not.toHaveProperty('thinking');
  });

  it('an OpenAI model that does not reason answers a request with thinking and top_k: both are dropped, as OpenAI refuses them there', async () => {
    // The mock answers 400 unsupported_parameter to reasoning_effort on gpt-4o and refuses top_k, as OpenAI does.
    const answer = await tooled('gpt-4o');
    expect(answer.content.at(-1)).toMatchObject({ type: 'text' });
    expect(lastBody('openai')).not.toHaveProperty('reasoning_effort');
    // top_k is Anthropic's (this SDK's types no longer list it; its API takes it).
    const sampled = await suite.stack.anthropic().messages.create({ model: 'gpt-4o', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }], ...{ top_k: 5 } });
    expect(sampled.content[0]).toMatchObject({ type: 'text', text: 'echo: hi' });
    expect(lastBody('openai')).not.toHaveProperty('top_k');
    // Gemini's thinkingBudget 0 is 'minimal', which the o-series does not take: low.
    const gemini = await suite.stack.fetch('/v1beta/models/o4-mini:generateContent', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'quick' }] }], generationConfig: { thinkingConfig: { thinkingBudget: 0 } } }) });
    expect(gemini.status).toBe(200);
    expect(lastBody('openai').reasoning_effort).toBe('low');
  });

  it('Ollama gets think: true on a model that thinks', async () => {
    await tooled('via-ollama');
    expect(lastBody('ollama')).toMatchObject({ think: true });
  });

  it('an Ollama model that cannot think answers without it (it refused think: true with a 400 before, every call)', async () => {
    const answer = await tooled('llama3.1:8b');
    expect(answer.content.at(-1)).toMatchObject({ type: 'text' });
    // The first call is refused once and asked again without think; the model is then asked without it.
    const received = suite.mocks.get('ollama')!.received.slice(-3).map((r) => r.body as Record<string, unknown>);
    expect(received[0]).toMatchObject({ think: true });
    expect(received[1]).not.toHaveProperty('think');
    expect(received[2]).not.toHaveProperty('think');
  });
});

describe('what each API refuses, from clients of the others (the mocks refuse it as the APIs do)', () => {
  it("OpenAI chat clients' reasoning_effort and Claude-shaped fields on an OpenAI model that does not reason: translated, not passed through to a 400", async () => {
    // Before: the client's bytes went to OpenAI as they were, and docs/agents.md's "reasoning_effort
    // works on every model" was OpenAI's 400; a body written for Claude (top_k, cache_control,
    // thinking) failing over to OpenAI was the same 400, exactly when the failover was needed.
    const client = suite.stack.openai();
    const answer = await client.chat.completions.create({ model: 'gpt-4o', reasoning_effort: 'high', messages: [{ role: 'user', content: 'plain' }] });
    expect(answer.choices[0]!.message.content).toBeTruthy();
    expect(lastBody('openai')).not.toHaveProperty('reasoning_effort');
    const claudeShaped = { top_k: 5, thinking: { type: 'enabled', budget_tokens: 2048 } } as Record<string, unknown>;
    await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: [{ type: 'text', text: 'cached', cache_control: { type: 'ephemeral' } } as OpenAI.Chat.ChatCompletionContentPartText] }], ...claudeShaped });
    const body = lastBody('openai');
    expect(body).toMatchObject({ model: 'gpt-4o', messages: [{ role: 'user', content: [{ type: 'text', text: 'cached' }] }] });
    for (const field of ['top_k', 'thinking', 'reasoning_effort']) expect(body).not.toHaveProperty(field);
    expect(JSON.stringify(body)).not.toContain('cache_control');
  });

  it("the Anthropic SDK's sampling fields and stop sequences on OpenAI models: a reasoning model gets none of them, another at most four stop sequences", async () => {
    const client = suite.stack.anthropic();
    const stop_sequences = ['A1', 'B2', 'C3', 'D4', 'E5', 'F6'];
    // (Cast: this SDK's types no longer list temperature, which the Messages API and older clients still send.)
    const sampled = { model: 'o4-mini', max_tokens: 400, temperature: 0.5, top_p: 0.8, stop_sequences, messages: [{ role: 'user', content: 'sample' }] } as unknown as Anthropic.MessageCreateParamsNonStreaming;
    await client.messages.create(sampled);
    for (const field of ['temperature', 'top_p', 'stop']) expect(lastBody('openai')).not.toHaveProperty(field);
    await client.messages.create({ ...sampled, model: 'gpt-4o', top_p: undefined } as unknown as Anthropic.MessageCreateParamsNonStreaming);
    expect(lastBody('openai')).toMatchObject({ temperature: 0.5, stop: ['A1', 'B2', 'C3', 'D4'] });
  });

  it("tool call ids Claude's pattern refuses (made by another model: Kimi's functions.get_weather:0) reach it rewritten, call and result alike", async () => {
    const client = suite.stack.openai();
    const id = 'functions.get_weather:0';
    const answer = await client.chat.completions.create({
      model: 'via-anthropic',
      tools: [weatherChat],
      messages: [
        { role: 'user', content: 'weather in Narvik' },
        { role: 'assistant', content: null, tool_calls: [{ id, type: 'function', function: { name: 'get_weather', arguments: '{"input":"Narvik"}' } }] },
        { role: 'tool', tool_call_id: id, content: 'windy' },
      ],
    });
    expect(answer.choices[0]!.message.content).toBe('tool result: windy');
    const [, assistant, results] = lastBody('anthropic').messages as { content: { id?: string; tool_use_id?: string }[] }[];
    expect(assistant!.content[0]!.id).toMatch(/^[a-zA-Z0-9_-]+$/);
    expect(results!.content[0]!.tool_use_id).toBe(assistant!.content[0]!.id);
  });

  it('gpt-5.1 keeps the sampling fields while it does not reason (effort none, its default), and loses them when asked to reason', async () => {
    const client = suite.stack.anthropic();
    const sampled = { model: 'gpt-5.1', max_tokens: 400, temperature: 0.5, messages: [{ role: 'user', content: 'sample' }] } as unknown as Anthropic.MessageCreateParamsNonStreaming;
    await client.messages.create(sampled);
    expect(lastBody('openai')).toMatchObject({ temperature: 0.5 });
    await client.messages.create({ ...sampled, max_tokens: 4000, thinking: { type: 'enabled', budget_tokens: 2048 } } as Anthropic.MessageCreateParamsNonStreaming);
    expect(lastBody('openai')).toMatchObject({ reasoning_effort: 'low' });
    expect(lastBody('openai')).not.toHaveProperty('temperature');
  });

  it("the most reasoning on Claude Opus 4.1 stays within the 32,000 tokens it writes (the budget no longer raises max_tokens past it)", async () => {
    const client = suite.stack.openai();
    await client.chat.completions.create({ model: 'claude-opus-4-1-20250805', reasoning_effort: 'xhigh' as 'high', messages: [{ role: 'user', content: 'think hard' }] });
    expect(lastBody('anthropic')).toMatchObject({ max_tokens: 32_000, thinking: { type: 'enabled', budget_tokens: 27_904 } });
  });

  it("reasoning settings become a thinking budget within the Gemini 2.5 model's range (2.5 Pro cannot stop thinking)", async () => {
    const client = suite.stack.openai();
    await client.chat.completions.create({ model: 'gemini-2.5-pro', reasoning_effort: 'minimal', messages: [{ role: 'user', content: 'think little' }] });
    expect(lastBody('gemini').generationConfig).toMatchObject({ thinkingConfig: { thinkingBudget: 128 } });
    await client.chat.completions.create({ model: 'gemini-2.5-flash', reasoning_effort: 'xhigh' as 'high', messages: [{ role: 'user', content: 'think much' }] });
    expect(lastBody('gemini').generationConfig).toMatchObject({ thinkingConfig: { thinkingBudget: 24_576 } });
    await client.chat.completions.create({ model: 'gemini-2.5-flash', reasoning_effort: 'minimal', messages: [{ role: 'user', content: 'think not' }] });
    expect(lastBody('gemini').generationConfig).toMatchObject({ thinkingConfig: { thinkingBudget: 0 } });
  });

  it('stop sequences Gemini and Claude refuse: more than five to Gemini, whitespace-only ones to Claude', async () => {
    const client = suite.stack.openai();
    await client.chat.completions.create({ model: 'via-gemini', stop: ['A1', 'B2', 'C3', 'D4', 'E5', 'F6'] as unknown as string[], messages: [{ role: 'user', content: 'sample' }] });
    expect((lastBody('gemini').generationConfig as { stopSequences: string[] }).stopSequences).toEqual(['A1', 'B2', 'C3', 'D4', 'E5']);
    await client.chat.completions.create({ model: 'via-anthropic', stop: ['\n', 'END'], messages: [{ role: 'user', content: 'sample' }] });
    expect(lastBody('anthropic').stop_sequences).toEqual(['END']);
  });
});

describe('OpenAI chat SDK to an Anthropic model with cache_control on parts', () => {
  it('carries cache_control onto the Anthropic blocks', async () => {
    await suite.stack.openai().chat.completions.create({
      model: 'via-anthropic',
      messages: [
        { role: 'system', content: [{ type: 'text', text: 'A long, stable system prompt.', cache_control: { type: 'ephemeral' } } as OpenAI.Chat.ChatCompletionContentPartText] },
        { role: 'user', content: 'hi' },
      ],
    });
    expect(lastBody('anthropic').system).toEqual([{ type: 'text', text: 'A long, stable system prompt.', cache_control: { type: 'ephemeral' } }]);
  });
});

describe('a tool loop another provider served (a failover) goes back to the primary in its own API', () => {
  // What the client holds after a fallback made the tool call: the call, with no signed thinking
  // (Anthropic) or thought signature (Gemini 3) of the primary's. Passed through as it is, each
  // primary refuses the next step with 400.
  it('Anthropic: thinking is left out of that step instead of a 400', async () => {
    const anthropic = suite.mocks.get('anthropic')!;
    const answer = await suite.stack.anthropic().messages.create({
      model: 'via-anthropic',
      max_tokens: 4000,
      thinking: { type: 'enabled', budget_tokens: 2048 },
      tools: [weatherAnthropic],
      messages: [
        { role: 'user', content: 'weather in Quito' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_from_fallback', name: 'get_weather', input: { input: 'Quito' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_from_fallback', content: 'cloudy' }] },
      ],
    });
    expect(answer.content.at(-1)).toMatchObject({ type: 'text', text: 'tool result: cloudy' });
    expect(anthropic.received.at(-1)!.body).not.toHaveProperty('thinking');
  });

  it('Gemini 3: the calls without a signature get the documented sentinel instead of a 400', async () => {
    const gemini = suite.mocks.get('gemini')!;
    const body = {
      contents: [
        { role: 'user', parts: [{ text: 'weather in Quito' }] },
        { role: 'model', parts: [{ functionCall: { name: 'get_weather', args: { input: 'Quito' } } }] },
        { role: 'user', parts: [{ functionResponse: { name: 'get_weather', response: { output: 'cloudy' } } }] },
      ],
      tools: [{ functionDeclarations: [{ name: 'get_weather', parametersJsonSchema: weatherChat.function.parameters }] }],
    };
    const response = await suite.stack.fetch('/v1beta/models/gemini-3-pro-preview:generateContent', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(response.status, await response.clone().text()).toBe(200);
    expect(JSON.stringify(await response.json())).toContain('tool result: cloudy');
    const sent = gemini.received.at(-1)!.body as { contents: { parts: { thoughtSignature?: string }[] }[] };
    expect(sent.contents[1]!.parts[0]!.thoughtSignature).toBe('skip_thought_signature_validator');
  });
});

describe.each(['gemini', 'ollama'] as const)('parallel_tool_calls: false on a %s model, which has no such switch', (kind) => {
  const tool = (name: string) => ({ type: 'function' as const, function: { name, parameters: { type: 'object', properties: { input: { type: 'string' } } } } });
  const model = `via-${kind}`;

  it('answers with one call, plain and streamed, through the chat API', async () => {
    const client = suite.stack.openai();
    const plain = await client.chat.completions.create({ model, parallel_tool_calls: false, tools: [tool('a'), tool('b')], messages: [{ role: 'user', content: 'do both in parallel' }] });
    expect(plain.choices[0]!.message.tool_calls?.map((c) => c.type === 'function' && c.function.name)).toEqual(['a']);
    const indexes = new Set<number>();
    for await (const chunk of await client.chat.completions.create({ model, stream: true, parallel_tool_calls: false, tools: [tool('a'), tool('b')], messages: [{ role: 'user', content: 'do both in parallel' }] })) {
      for (const call of chunk.choices[0]?.delta.tool_calls ?? []) indexes.add(call.index);
    }
    expect([...indexes]).toEqual([0]);
    // Left on, the model's two calls both arrive.
    const both = await client.chat.completions.create({ model, tools: [tool('a'), tool('b')], messages: [{ role: 'user', content: 'do both in parallel' }] });
    expect(both.choices[0]!.message.tool_calls).toHaveLength(2);
  });

  it('answers with one call through the Responses API (the Agents SDK sets it)', async () => {
    const tools = [tool('a'), tool('b')].map((t) => ({ type: 'function' as const, name: t.function.name, parameters: t.function.parameters, strict: false }));
    const response = await suite.stack.openai().responses.create({ model, parallel_tool_calls: false, tools, input: 'do both in parallel' });
    expect(response.output.filter((item) => item.type === 'function_call')).toHaveLength(1);
  });
});

it("Anthropic's rules for a thinking budget hold whoever serves the model: a budget past max_tokens is Anthropic's 400 on Gemini too", async () => {
  const client = suite.stack.anthropic();
  for (const model of ['via-anthropic', 'via-gemini', 'via-openai']) {
    const error = await client.messages.create({ model, max_tokens: 1000, thinking: { type: 'enabled', budget_tokens: 5000 }, messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(error, model).toBeInstanceOf(Anthropic.BadRequestError);
    expect((error as Error).message, model).toContain('`max_tokens` must be greater than `thinking.budget_tokens`');
  }
});

it('the Responses API asks an OpenAI model that does not reason for no reasoning when another name led to it (an alias, a failover): OpenAI refuses it there', async () => {
  const response = await suite.stack.openai().responses.create({ model: 'everyday', input: 'hi', reasoning: { effort: 'low' }, include: ['reasoning.encrypted_content', 'message.output_text.logprobs'] });
  expect(response.output_text).toBe('echo: hi');
  const body = lastBody('openai');
  expect(body.model).toBe('gpt-4o');
  expect(body).not.toHaveProperty('reasoning');
  expect(body.include).toEqual(['message.output_text.logprobs']);
});

describe("Claude's signed thinking through the Gemini API (google-genai, ADK keep a turn's parts as they came)", () => {
  const ask = (model: string, contents: unknown[]) =>
    suite.stack.fetch(`/v1beta/models/${model}:generateContent`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ contents, tools: [{ functionDeclarations: [{ name: 'get_weather', parametersJsonSchema: weatherChat.function.parameters }] }], generationConfig: { maxOutputTokens: 4096, thinkingConfig: { thinkingBudget: 1024 } } }),
    });
  type Content = { role: string; parts: { functionCall?: { name: string; args: unknown }; thoughtSignature?: string }[] };

  it('comes back to Claude on the next tool step, and never reaches a Gemini model', async () => {
    const user = { role: 'user', parts: [{ text: 'weather in Oslo' }] };
    const first = (await (await ask('via-anthropic', [user])).json()) as { candidates: { content: Content }[] };
    const turn = first.candidates[0]!.content;
    const call = turn.parts.find((p) => p.functionCall)!;
    expect(call.thoughtSignature).toEqual(expect.any(String));
    const answer = { role: 'user', parts: [{ functionResponse: { name: 'get_weather', response: { output: 'sunny' } } }] };
    const second = await ask('via-anthropic', [user, turn, answer]);
    expect(second.status, await second.clone().text()).toBe(200);
    const sent = lastBody('anthropic') as { thinking?: unknown; messages: { role: string; content: { type: string; signature?: string }[] }[] };
    expect(sent.thinking).toMatchObject({ type: 'enabled' });
    expect(sent.messages[1]!.content[0]).toMatchObject({ type: 'thinking', signature: expect.any(String) });
    // The same conversation moved to Gemini 3: its signature check sees no signature of Claude's.
    const onGemini = await ask('gemini-3-pro-preview', [user, turn, answer]);
    expect(onGemini.status, await onGemini.clone().text()).toBe(200);
    expect(JSON.stringify(lastBody('gemini'))).not.toContain(call.thoughtSignature!);
  });
});

describe('tools and a JSON schema together (the AI SDK with tools and Output.object, pydantic-ai NativeOutput)', () => {
  const schema = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false };
  const ask = (model: string) =>
    suite.stack.openai().chat.completions.create({ model, tools: [weatherChat], tool_choice: 'none', response_format: { type: 'json_schema', json_schema: { name: 'place', schema } }, messages: [{ role: 'user', content: 'which city' }] });

  it('reach Gemini 2 (which refuses function calling with a JSON response type) as tools and an instruction with the schema', async () => {
    const completion = await ask('gemini-2.5-flash');
    expect(completion.choices[0]!.message.content).toBeTruthy();
    const body = lastBody('gemini') as { generationConfig?: Record<string, unknown>; systemInstruction?: { parts: { text: string }[] } };
    expect(body.generationConfig?.responseMimeType).toBeUndefined();
    expect(body.systemInstruction?.parts.at(-1)?.text).toContain(JSON.stringify(schema));
  });

  it('give the client JSON even when Gemini 2, only asked, wraps it in a code fence', async () => {
    suite.mocks.get('gemini')!.script({ reply: '```json\n{"city": "Oslo"}\n```', toolCalls: [] });
    const strictWeather = { type: 'function' as const, function: { name: 'get_weather', strict: true, parameters: { type: 'object', properties: { input: { type: 'string' } }, required: ['input'], additionalProperties: false } } };
    const completion = await suite.stack.openai().chat.completions.parse({ model: 'gemini-2.5-flash', tools: [strictWeather], tool_choice: 'none', response_format: { type: 'json_schema', json_schema: { name: 'place', schema } }, messages: [{ role: 'user', content: 'which city' }] });
    expect(completion.choices[0]!.message.parsed).toEqual({ city: 'Oslo' });
  });

  it('reach Gemini 3, which takes both, constrained', async () => {
    const completion = await ask('gemini-3-pro-preview');
    expect(JSON.parse(completion.choices[0]!.message.content!)).toEqual({ city: expect.any(String) });
    expect(lastBody('gemini')).toMatchObject({ generationConfig: { responseMimeType: 'application/json', responseJsonSchema: schema } });
  });
});
