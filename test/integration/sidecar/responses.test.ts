/**
 * The OpenAI SDK's Responses client (`client.responses`) through the socket, against every
 * provider type: plain, streamed (the SDK's own event accumulator checks the event order),
 * function tools and their outputs, `previous_response_id`, and errors in OpenAI's shape.
 */
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { EVERY_PROVIDER, keyFile, providerStackForFile, stackDir, startStack } from './harness.js';

const PROVIDERS = EVERY_PROVIDER;
const suite = providerStackForFile('responses');

/** The path each provider's call arrives at: OpenAI's own Responses API, the others' chat APIs. */
const UPSTREAM_PATH: Record<string, RegExp> = {
  openai: /^\/v1\/responses$/,
  anthropic: /^\/v1\/messages$/,
  gemini: /^\/v1beta\/models\/[^/]+:(generateContent|streamGenerateContent)$/,
  ollama: /^\/api\/chat$/,
};

const weather = {
  type: 'function' as const,
  name: 'get_weather',
  description: 'Current weather for a city',
  parameters: { type: 'object', properties: { input: { type: 'string' } }, required: ['input'], additionalProperties: false },
  strict: true,
};

describe.each(PROVIDERS)('responses through a %s provider', (kind) => {
  const model = `via-${kind}`;
  const lastPath = () => suite.mocks.get(kind)!.received.at(-1)?.path;

  it('answers a plain request', async () => {
    const response = await suite.stack.openai().responses.create({ model, input: 'hello from the responses api', instructions: 'Be brief.' });
    expect(response.object).toBe('response');
    expect(response.id).toMatch(/^resp_/);
    expect(response.status).toBe('completed');
    expect(response.model).toBe(model);
    expect(response.output_text).toBe('echo: hello from the responses api');
    expect(response.output).toEqual([expect.objectContaining({ type: 'message', role: 'assistant', id: expect.stringMatching(/^msg_/) })]);
    expect(response.usage?.input_tokens).toBeGreaterThan(0);
    expect(response.usage?.output_tokens).toBeGreaterThan(0);
    expect(lastPath()).toMatch(UPSTREAM_PATH[kind]!);
  });

  it('streams typed events that the SDK accumulates into the final response', async () => {
    const stream = suite.stack.openai().responses.stream({ model, input: 'stream these words please' });
    const types: string[] = [];
    let deltas = '';
    stream.on('event', (event) => types.push(event.type));
    stream.on('response.output_text.delta', (event) => (deltas += event.delta));
    const response = await stream.finalResponse();
    expect(deltas).toBe('echo: stream these words please');
    expect(response.output_text).toBe('echo: stream these words please');
    expect(response.status).toBe('completed');
    expect(response.usage?.output_tokens).toBeGreaterThan(0);
    expect(types.slice(0, 4)).toEqual(['response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added']);
    expect(types.filter((t) => t === 'response.output_text.delta').length).toBeGreaterThan(1);
    expect(types.slice(-4)).toEqual(['response.output_text.done', 'response.content_part.done', 'response.output_item.done', 'response.completed']);
    expect(lastPath()).toMatch(UPSTREAM_PATH[kind]!);
  });

  it('round-trips a function call with its function_call_output', async () => {
    const client = suite.stack.openai();
    const first = await client.responses.create({ model, input: 'weather in Oslo', tools: [weather] });
    const call = first.output.find((item) => item.type === 'function_call');
    expect(call).toMatchObject({ type: 'function_call', name: 'get_weather', call_id: expect.any(String) });
    expect(JSON.parse((call as { arguments: string }).arguments)).toEqual({ input: 'weather in Oslo' });
    const second = await client.responses.create({
      model,
      tools: [weather],
      input: [{ role: 'user', content: 'weather in Oslo' }, ...(first.output as OpenAI.Responses.ResponseInputItem[]), { type: 'function_call_output', call_id: (call as { call_id: string }).call_id, output: 'sunny, 21 degrees' }],
    });
    expect(second.output_text).toBe('tool result: sunny, 21 degrees');
  });

  it('hands back a function_call_output that carries an image (a screenshot tool)', async () => {
    const client = suite.stack.openai();
    const first = await client.responses.create({ model, input: 'take a screenshot', tools: [weather], tool_choice: 'required' });
    const call = first.output.find((item) => item.type === 'function_call') as { call_id: string };
    const png = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
    const second = await client.responses.create({
      model,
      tools: [weather],
      input: [{ role: 'user', content: 'take a screenshot' }, ...(first.output as OpenAI.Responses.ResponseInputItem[]), { type: 'function_call_output', call_id: call.call_id, output: [{ type: 'input_text', text: 'the screen' }, { type: 'input_image', image_url: png, detail: 'auto' }] }],
    });
    expect(second.status).toBe('completed');
    expect(JSON.stringify(suite.mocks.get(kind)!.received.at(-1)!.body)).toContain(png.slice(-40));
  });

  it('streams a function call as argument deltas', async () => {
    const stream = suite.stack.openai().responses.stream({ model, input: 'weather in Lima', tools: [weather] });
    let args = '';
    stream.on('response.function_call_arguments.delta', (event) => (args += event.delta));
    const response = await stream.finalResponse();
    const call = response.output.find((item) => item.type === 'function_call');
    expect(call).toMatchObject({ name: 'get_weather', status: 'completed' });
    expect(JSON.parse(args)).toEqual({ input: 'weather in Lima' });
    expect((call as { arguments: string }).arguments).toBe(args);
  });

  it('continues a conversation with previous_response_id', async () => {
    const client = suite.stack.openai();
    const first = await client.responses.create({ model, input: 'weather in Rome', tools: [weather] });
    const call = first.output.find((item) => item.type === 'function_call') as { call_id: string } | undefined;
    expect(call).toBeDefined();
    const second = await client.responses.create({
      model,
      tools: [weather],
      previous_response_id: first.id,
      input: [{ type: 'function_call_output', call_id: call!.call_id, output: 'rainy, 14 degrees' }],
    });
    expect(second.output_text).toBe('tool result: rainy, 14 degrees');
    expect(second.previous_response_id).toBe(first.id);
  });
});

describe('responses on OpenAI', () => {
  it('passes reasoning items through both ways, encrypted_content intact', async () => {
    const client = suite.stack.openai();
    const first = await client.responses.create({ model: 'via-openai', input: 'think first', reasoning: { effort: 'low' }, include: ['reasoning.encrypted_content'], store: false });
    const reasoning = first.output.find((item) => item.type === 'reasoning');
    expect(reasoning).toMatchObject({ type: 'reasoning', encrypted_content: expect.stringMatching(/^gAAAAB/) });
    await client.responses.create({
      model: 'via-openai',
      store: false,
      include: ['reasoning.encrypted_content'],
      input: [{ role: 'user', content: 'think first' }, ...(first.output as OpenAI.Responses.ResponseInputItem[]), { role: 'user', content: 'and again' }],
    });
    const sent = suite.mocks.get('openai')!.received.at(-1)!.body as { input: unknown[] };
    expect(sent.input).toContainEqual(expect.objectContaining({ type: 'reasoning', encrypted_content: (reasoning as { encrypted_content: string }).encrypted_content }));
  });
});

describe('input items of a response the sidecar holds', () => {
  it('pages them as OpenAI does: limit, order and after, and the SDK walks every page', async () => {
    const client = suite.stack.openai();
    const words = ['one', 'two', 'three', 'four', 'five'];
    const response = await client.responses.create({ model: 'via-anthropic', input: words.map((w) => ({ role: 'user' as const, content: w })) });
    const text = (item: unknown) => ((item as { content: { text: string }[] }).content[0]!.text);
    const page = await client.responses.inputItems.list(response.id, { limit: 2, order: 'asc' });
    expect(page.data.map(text)).toEqual(['one', 'two']);
    expect(page.has_more).toBe(true);
    const next = await client.responses.inputItems.list(response.id, { limit: 2, order: 'asc', after: page.data.at(-1)!.id });
    expect(next.data.map(text)).toEqual(['three', 'four']);
    const walked: string[] = [];
    for await (const item of client.responses.inputItems.list(response.id, { limit: 2 })) walked.push(text(item));
    expect(walked).toEqual([...words].reverse());
    // The same item keeps its id from one listing to the next.
    expect((await client.responses.inputItems.list(response.id, { order: 'asc' })).data[0]!.id).toBe(page.data[0]!.id);
    await expect(client.responses.inputItems.list(response.id, { limit: 101 })).rejects.toBeInstanceOf(OpenAI.BadRequestError);
  });

  it('lists an item under one id in every response whose input holds it, never an output item id', async () => {
    const client = suite.stack.openai();
    const first = await client.responses.create({ model: 'via-anthropic', input: 'first' });
    const second = await client.responses.create({ model: 'via-anthropic', input: 'second', previous_response_id: first.id });
    const ids = async (id: string) => (await client.responses.inputItems.list(id, { order: 'asc' })).data.map((item) => item.id);
    const [firstInput] = await ids(first.id);
    const secondInputs = await ids(second.id);
    expect(secondInputs[0]).toBe(firstInput);
    expect(secondInputs[1]).toBe(first.output[0]!.id);
    expect(new Set(secondInputs).size).toBe(secondInputs.length);
    for (const item of [...first.output, ...second.output]) expect(secondInputs.slice(2)).not.toContain(item.id);
  });
});

describe('reasoning handed from one provider to another (a handoff, a model switch, a failover)', () => {
  type Input = OpenAI.Responses.ResponseInputItem[];
  const callOf = (output: OpenAI.Responses.ResponseOutputItem[]) => output.find((item) => item.type === 'function_call')!;

  it("OpenAI's reasoning goes to Claude as no thinking: Anthropic refuses a signature it did not make", async () => {
    const client = suite.stack.openai();
    const first = await client.responses.create({ model: 'via-openai', input: 'weather in Lima', reasoning: { effort: 'low' }, include: ['reasoning.encrypted_content'], store: false, tools: [weather] });
    expect(first.output.find((item) => item.type === 'reasoning')).toMatchObject({ encrypted_content: expect.stringMatching(/^gAAAAB/) });
    const second = await client.responses.create({
      model: 'via-anthropic',
      reasoning: { effort: 'low' },
      store: false,
      tools: [weather],
      input: [{ role: 'user', content: 'weather in Lima' }, ...(first.output as Input), { type: 'function_call_output', call_id: callOf(first.output).call_id, output: 'sunny' }],
    });
    expect(second.output_text).toBe('tool result: sunny');
    expect(JSON.stringify(suite.mocks.get('anthropic')!.received.at(-1)!.body)).not.toContain('gAAAAB');
  });

  it("Claude's reasoning goes to OpenAI as nothing, handed back or by previous_response_id: OpenAI refuses encrypted content it did not make", async () => {
    const client = suite.stack.openai();
    const first = await client.responses.create({ model: 'via-anthropic', input: 'weather in Lima', reasoning: { effort: 'low' }, tools: [weather] });
    const reasoning = first.output.find((item) => item.type === 'reasoning');
    expect(reasoning).toMatchObject({ encrypted_content: expect.stringMatching(/^airlock:anthropic:/) });
    const output = { type: 'function_call_output' as const, call_id: callOf(first.output).call_id, output: 'sunny' };
    const handed = await client.responses.create({ model: 'via-openai', store: false, tools: [weather], input: [{ role: 'user', content: 'weather in Lima' }, ...(first.output as Input), output] });
    expect(handed.output_text).toBe('tool result: sunny');
    const sent = () => (suite.mocks.get('openai')!.received.at(-1)!.body as { input: { type?: string }[] }).input;
    expect(sent().filter((item) => item.type === 'reasoning')).toEqual([]);
    const continued = await client.responses.create({ model: 'via-openai', tools: [weather], previous_response_id: first.id, input: [output] });
    expect(continued.output_text).toBe('tool result: sunny');
    expect(sent().filter((item) => item.type === 'reasoning')).toEqual([]);
    // Back on Claude, the same items carry its signed thinking again (the mock checks the signature).
    const back = await client.responses.create({ model: 'via-anthropic', reasoning: { effort: 'low' }, tools: [weather], input: [{ role: 'user', content: 'weather in Lima' }, ...(first.output as Input), output] });
    expect(back.output_text).toBe('tool result: sunny');
    expect(JSON.stringify(suite.mocks.get('anthropic')!.received.at(-1)!.body)).toContain('"signature"');
  });
});

describe('a reasoning item of the sidecar handed back bare (its id, no encrypted_content), as clients that keep items by id do', () => {
  it('is the item the sidecar made: kept from OpenAI, and Claude gets its thinking back', async () => {
    const client = suite.stack.openai();
    const first = await client.responses.create({ model: 'via-anthropic', input: 'weather in Lima', reasoning: { effort: 'low' }, tools: [weather] });
    const reasoning = first.output.find((item) => item.type === 'reasoning')!;
    const call = first.output.find((item) => item.type === 'function_call')!;
    const history = [{ role: 'user' as const, content: 'weather in Lima' }, { type: 'reasoning' as const, id: reasoning.id, summary: [] }, call, { type: 'function_call_output' as const, call_id: call.call_id, output: 'sunny' }];
    const onOpenAI = await client.responses.create({ model: 'via-openai', tools: [weather], input: history as OpenAI.Responses.ResponseInputItem[] });
    expect(onOpenAI.output_text).toBe('tool result: sunny');
    expect((suite.mocks.get('openai')!.received.at(-1)!.body as { input: { type?: string }[] }).input.filter((item) => item.type === 'reasoning')).toEqual([]);
    const onClaude = await client.responses.create({ model: 'via-anthropic', reasoning: { effort: 'low' }, tools: [weather], input: history as OpenAI.Responses.ResponseInputItem[] });
    expect(onClaude.output_text).toBe('tool result: sunny');
    expect(JSON.stringify(suite.mocks.get('anthropic')!.received.at(-1)!.body)).toContain('"signature"');
  });
});

describe('responses on OpenAI under another model name', () => {
  it('sends the upstream name and reports the asked one, in the body and in every streamed event', async () => {
    const dir = await stackDir();
    const renamed = await startStack(dir, {
      version: 1,
      sandbox: { name: 'responses-renamed' },
      providers: [{ name: 'oa', type: 'openai', baseURL: suite.mocks.get('openai')!.url, apiKeys: [{ file: await keyFile(dir, 'openai', suite.keys.openai!) }], models: [{ name: 'house-model', upstreamName: 'gpt-4o-mini' }] }],
    });
    try {
      const client = renamed.openai();
      const plain = await client.responses.create({ model: 'house-model', input: 'hello' });
      expect(plain.model).toBe('house-model');
      expect(plain.output_text).toBe('echo: hello');
      expect((suite.mocks.get('openai')!.received.at(-1)!.body as { model: string }).model).toBe('gpt-4o-mini');
      const stream = client.responses.stream({ model: 'house-model', input: 'stream it' });
      const sequence: number[] = [];
      const models: string[] = [];
      stream.on('event', (event) => {
        sequence.push(event.sequence_number);
        if ('response' in event) models.push(event.response.model);
      });
      const final = await stream.finalResponse();
      expect(final.output_text).toBe('echo: stream it');
      expect(sequence).toEqual(sequence.map((_, i) => i));
      expect(new Set(models)).toEqual(new Set(['house-model']));
    } finally {
      await renamed.close();
    }
  });
});

describe.each(['anthropic', 'gemini'] as const)('a function in a namespace and a plain function of one flattened name, through a %s provider', (kind) => {
  const model = `via-${kind}`;
  const parameters = { type: 'object', properties: { input: { type: 'string' } }, required: ['input'] };
  // `b__c` in namespace `a` and the plain `a__b__c`: both were the chat tool `a__b__c`.
  const tools = [
    { type: 'namespace', name: 'a', description: 'a namespace', tools: [{ type: 'function', name: 'b__c', parameters, strict: false }] },
    { type: 'function', name: 'a__b__c', parameters, strict: false },
  ] as never;
  interface Sent {
    tools: { name?: string; functionDeclarations?: { name: string }[] }[];
    messages?: { content: string | { type: string; name?: string }[] }[];
    contents?: { parts: { functionCall?: { name: string } }[] }[];
  }
  /** The tool names the provider was sent, and the names of the calls in the history it was sent. */
  const sent = () => {
    const body = suite.mocks.get(kind)!.received.at(-1)!.body as Sent;
    if (kind === 'anthropic') {
      const blocks = body.messages!.flatMap((m) => (typeof m.content === 'string' ? [] : m.content));
      return { tools: body.tools.map((t) => t.name), calls: blocks.filter((b) => b.type === 'tool_use').map((b) => b.name) };
    }
    const parts = body.contents!.flatMap((c) => c.parts);
    return { tools: body.tools[0]!.functionDeclarations!.map((f) => f.name), calls: parts.flatMap((p) => (p.functionCall ? [p.functionCall.name] : [])) };
  };
  const callOf = (response: OpenAI.Responses.Response) => response.output.find((item) => item.type === 'function_call') as OpenAI.Responses.ResponseFunctionToolCall & { namespace?: string };

  it('stay two tools, each call comes back as the tool the model called (plain and streamed), and the next turn sends each under its own name', async () => {
    const client = suite.stack.openai();
    const plain = await client.responses.create({ model, input: 'go', tools, tool_choice: { type: 'function', name: 'a__b__c' }, store: false });
    const names = sent().tools;
    expect(names).toHaveLength(2);
    expect(new Set(names).size).toBe(2);
    expect(callOf(plain)).toMatchObject({ name: 'a__b__c' });
    expect(callOf(plain)).not.toHaveProperty('namespace');
    // tool_choice required: the model calls the first tool, the function in the namespace.
    const streamed = await client.responses.stream({ model, input: 'go', tools, tool_choice: 'required', store: false }).finalResponse();
    expect(callOf(streamed)).toMatchObject({ name: 'b__c', namespace: 'a' });
    const output = (call: OpenAI.Responses.ResponseFunctionToolCall) => ({ type: 'function_call_output' as const, call_id: call.call_id, output: 'done' });
    const next = await client.responses.create({
      model,
      tools,
      store: false,
      input: [{ role: 'user', content: 'go' }, callOf(plain), output(callOf(plain)), callOf(streamed), output(callOf(streamed))] as OpenAI.Responses.ResponseInputItem[],
    });
    expect(next.output_text).toBe('tool result: done');
    expect(sent()).toEqual({ tools: names, calls: [names[1], names[0]] });
  });
});

describe('responses errors', () => {
  it('ends a translated stream that breaks after content with an error the SDK raises', async () => {
    suite.mocks.get('anthropic')!.script({ reply: 'one two three four five six seven eight', midStreamError: { afterChunks: 6, message: 'Overloaded' } });
    const stream = suite.stack.openai().responses.stream({ model: 'via-anthropic', input: 'long answer please' });
    let text = '';
    stream.on('response.output_text.delta', (event) => (text += event.delta));
    await expect(stream.finalResponse()).rejects.toThrow(/Overloaded/);
    expect(text.length).toBeGreaterThan(0);
  });

  it('finishes a translated stream whose provider errs after its finish frame: the SDK gets response.completed', async () => {
    // Past every frame: after the one that carries finishReason.
    suite.mocks.get('gemini')!.script({ midStreamError: { afterChunks: 1000, status: 500 } });
    const final = await suite.stack.openai().responses.stream({ model: 'via-gemini', input: 'after the end' }).finalResponse();
    expect(final.status).toBe('completed');
    expect(final.output_text).toBe('echo: after the end');
  });

  it.each([
    ['conversation, which only OpenAI holds', { conversation: 'conv_123' }, 'conversation', 'can only be served by an OpenAI provider'],
    ['a stored prompt, which only OpenAI holds', { prompt: { id: 'pmpt_123' } }, 'prompt', 'can only be served by an OpenAI provider'],
    ['no input', { input: [] }, 'input', 'input'],
    ['a function tool without a name', { tools: [{ type: 'function', parameters: {} }] }, 'tools[0].name', 'tools[0].name'],
    ['a tool_choice naming no tool', { tool_choice: { type: 'function', name: 'nowhere' } }, 'tool_choice', 'nowhere'],
    ['temperature above 2', { temperature: 3 }, 'temperature', 'temperature'],
    ['a custom tool', { tools: [{ type: 'custom', name: 'shell' }] }, 'tools[0]', 'custom tools can only be served by an OpenAI provider'],
    ['allowed_tools naming no tool of tools', { tools: [{ type: 'function', name: 'a', parameters: {} }], tool_choice: { type: 'allowed_tools', mode: 'required', tools: [{ type: 'function', name: 'zzz' }] } }, 'tool_choice', 'allowed_tools names no tool'],
    ['a function_call_output with no function_call before it', { input: [{ type: 'function_call_output', call_id: 'call_gone', output: 'x' }] }, 'input', 'No tool call found for function call output with call_id call_gone.'],
  ] as const)('refuses %s with 400 naming the field, for a model another provider serves, before any call upstream', async (_what, extra, param, message) => {
    const received = suite.mocks.get('anthropic')!.received.length;
    const error = await suite.stack
      .openai()
      .responses.create({ model: 'via-anthropic', input: 'hi', ...extra } as never)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as InstanceType<typeof OpenAI.BadRequestError>).param).toBe(param);
    expect((error as Error).message).toContain(message);
    expect(suite.mocks.get('anthropic')!.received.length).toBe(received);
  });

  it.each([
    ['via-openai', 'openai'],
    ['via-anthropic', 'anthropic'],
  ] as const)('refuses background: true on %s with 400 naming the field, before any call upstream: the job would run and be billed past the limits', async (model, kind) => {
    const received = suite.mocks.get(kind)!.received.length;
    const error = await suite.stack
      .openai()
      .responses.create({ model, input: 'think for an hour', background: true, max_output_tokens: 100_000 })
      .catch((e: unknown) => e);
    // Before: OpenAI queued the job (status queued, no usage) and the sidecar counted the queued answer's size.
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('background');
    expect((error as Error).message).toContain("the sandbox's token and budget limits cannot count it");
    expect(suite.mocks.get(kind)!.received.length).toBe(received);
  });

  it.each(['via-openai', 'via-anthropic', 'via-gemini'])('takes tool_choice allowed_tools on %s: the model calls only the allowed tools', async (model) => {
    const tool = (name: string) => ({ type: 'function' as const, name, strict: false, parameters: { type: 'object', properties: { input: { type: 'string' } } } });
    const response = await suite.stack.openai().responses.create({
      model,
      input: 'answer now',
      tools: [tool('search'), tool('final_result')],
      tool_choice: { type: 'allowed_tools', mode: 'required', tools: [{ type: 'function', name: 'final_result' }] },
    });
    expect(response.output.filter((item) => item.type === 'function_call').map((item) => (item as { name: string }).name)).toEqual(['final_result']);
  });

  it('refuses an unknown previous_response_id for a model no OpenAI provider serves, in OpenAI shape', async () => {
    const error = await suite.stack
      .openai()
      .responses.create({ model: 'via-gemini', input: 'hi', previous_response_id: 'resp_unknown' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('previous_response_id');
    expect((error as Error).message).toMatch(/resp_unknown/);
  });

  it('passes an unknown previous_response_id to OpenAI, which refuses it', async () => {
    const error = await suite.stack
      .openai()
      .responses.create({ model: 'via-openai', input: 'hi', previous_response_id: 'resp_unknown' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect(suite.mocks.get('openai')!.received.at(-1)?.path).toBe('/v1/responses');
  });

  it('refuses a hosted tool for a translated provider, naming it', async () => {
    const error = await suite.stack
      .openai()
      .responses.create({ model: 'via-anthropic', input: 'search', tools: [{ type: 'web_search' }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as Error).message).toMatch(/web_search/);
  });

  it('names the field of an invalid body', async () => {
    const error = await suite.stack
      .openai()
      .responses.create({ model: 'via-ollama', input: 42 as never })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('input');
  });
});
