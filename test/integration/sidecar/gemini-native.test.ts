/**
 * The google-genai SDK (`@google/genai`) through the socket, against every provider type:
 * generateContent, generateContentStream, a function-call round trip, countTokens, models.list
 * and models.get, and errors in Google's shape that the SDK raises as ApiError.
 */
import { ApiError, FunctionCallingConfigMode, GoogleGenAI, Type, type Content } from '@google/genai';
import { describe, expect, it } from 'vitest';
import { mockEmbedding } from '../../mocks/index.js';
import { EVERY_PROVIDER, providerStackForFile } from './harness.js';

const PROVIDERS = EVERY_PROVIDER;
// Names as vLLM and Ollama give them, served by the OpenAI mock.
const suite = providerStackForFile('gemini-native', { models: { openai: ['meta-llama/Llama-3.1-8B', 'qwen2.5:7b'] } });

/** The SDK pointed at the socket: its fetch goes through the stack's Unix-socket dispatcher. */
function genai(): GoogleGenAI {
  const fetchThroughSocket = (url: string | URL | Request, init?: RequestInit) => suite.stack.fetch(new URL(String(url)).pathname + new URL(String(url)).search, init as never) as unknown as Promise<Response>;
  return new GoogleGenAI({ apiKey: 'unused-by-airlock', httpOptions: { baseUrl: 'http://airlock', fetch: fetchThroughSocket as never, retryOptions: { attempts: 1 } } });
}

const UPSTREAM_PATH: Record<string, RegExp> = {
  openai: /^\/v1\/chat\/completions$/,
  anthropic: /^\/v1\/messages$/,
  gemini: /^\/v1beta\/models\/via-gemini:(generateContent|streamGenerateContent)$/,
  ollama: /^\/api\/chat$/,
};

const weather = {
  name: 'get_weather',
  description: 'Current weather for a city',
  parametersJsonSchema: { type: 'object', properties: { input: { type: 'string' } }, required: ['input'] },
};

describe.each(PROVIDERS)('google-genai SDK through a %s provider', (kind) => {
  const model = `via-${kind}`;
  const lastPath = () => suite.mocks.get(kind)!.received.at(-1)?.path;

  it('generates content', async () => {
    const response = await genai().models.generateContent({ model, contents: 'hello from genai', config: { systemInstruction: 'Be brief.' } });
    expect(response.text).toBe('echo: hello from genai');
    expect(response.candidates?.[0]?.finishReason).toBe('STOP');
    expect(response.usageMetadata?.promptTokenCount).toBeGreaterThan(0);
    expect(response.usageMetadata?.candidatesTokenCount).toBeGreaterThan(0);
    expect(lastPath()).toMatch(UPSTREAM_PATH[kind]!);
  });

  it('streams content', async () => {
    const stream = await genai().models.generateContentStream({ model, contents: 'stream these words please' });
    let text = '';
    let events = 0;
    let finish: string | undefined;
    let usage: number | undefined;
    for await (const chunk of stream) {
      events += 1;
      text += chunk.text ?? '';
      finish = chunk.candidates?.[0]?.finishReason ?? finish;
      usage = chunk.usageMetadata?.totalTokenCount ?? usage;
    }
    expect(text).toBe('echo: stream these words please');
    expect(events).toBeGreaterThan(1);
    expect(finish).toBe('STOP');
    expect(usage).toBeGreaterThan(0);
    expect(lastPath()).toMatch(UPSTREAM_PATH[kind]!);
  });

  it('round-trips a function call', async () => {
    const client = genai();
    const contents: Content[] = [{ role: 'user', parts: [{ text: 'weather in Oslo' }] }];
    const config = { tools: [{ functionDeclarations: [weather] }], toolConfig: { functionCallingConfig: { mode: FunctionCallingConfigMode.AUTO } } };
    const first = await client.models.generateContent({ model, contents, config });
    const call = first.functionCalls?.[0];
    expect(call).toMatchObject({ name: 'get_weather', args: { input: 'weather in Oslo' } });
    const second = await client.models.generateContent({
      model,
      config,
      contents: [...contents, first.candidates![0]!.content!, { role: 'user', parts: [{ functionResponse: { name: 'get_weather', id: call!.id, response: { output: 'sunny, 21 degrees' } } }] }],
    });
    expect(second.text).toBe('tool result: sunny, 21 degrees');
  });

  it('round-trips calls of functions named with a dot and a colon (fs.read_file, ns:tool), plain and streamed, under the names the client declared', async () => {
    const client = genai();
    const config = { tools: [{ functionDeclarations: [{ ...weather, name: 'fs.read_file' }, { ...weather, name: 'ns:tool' }] }] };
    const contents: Content[] = [{ role: 'user', parts: [{ text: 'read both in parallel' }] }];
    const first = await client.models.generateContent({ model, contents, config });
    expect(first.functionCalls?.map((c) => c.name)).toEqual(['fs.read_file', 'ns:tool']);
    const streamed: string[] = [];
    for await (const chunk of await client.models.generateContentStream({ model, contents, config })) streamed.push(...(chunk.functionCalls ?? []).map((c) => c.name!));
    expect(streamed).toEqual(['fs.read_file', 'ns:tool']);
    const answers = first.functionCalls!.map((c) => ({ functionResponse: { name: c.name!, id: c.id, response: { output: `read by ${c.name}` } } }));
    const second = await client.models.generateContent({ model, config, contents: [...contents, first.candidates![0]!.content!, { role: 'user', parts: answers }] });
    expect(second.text).toMatch(/^tool result: read by (fs\.read_file|ns:tool)$/);
  });

  it('answers a responseSchema with JSON the schema describes, constrained on OpenAI too (strict: every Gemini property required)', async () => {
    const responseSchema = { type: Type.OBJECT, properties: { city: { type: Type.STRING }, days: { type: Type.INTEGER } }, required: ['city', 'days'] };
    const response = await genai().models.generateContent({ model, contents: 'plan a trip', config: { responseMimeType: 'application/json', responseSchema } });
    expect(JSON.parse(response.text!)).toEqual({ city: expect.any(String), days: expect.any(Number) });
    if (kind === 'openai') {
      const format = (suite.mocks.get(kind)!.received.at(-1)!.body as { response_format: { json_schema: { strict?: boolean; schema: object } } }).response_format.json_schema;
      expect(format).toMatchObject({ strict: true, schema: { additionalProperties: false } });
    }
  });

  it('tells a model another provider serves the values of enum mode (text/x.enum), which only Gemini constrains', async () => {
    await genai().models.generateContent({ model, contents: 'which instrument', config: { responseMimeType: 'text/x.enum', responseSchema: { type: Type.STRING, enum: ['Percussion', 'String'] } } });
    if (kind === 'gemini') return;
    expect(JSON.stringify(suite.mocks.get(kind)!.received.at(-1)!.body)).toContain('Answer with exactly one of these values and nothing else: \\"Percussion\\", \\"String\\".');
  });

  it(kind === 'ollama' ? 'refuses a PDF sent as inline data (Ollama reads no files) with a 400' : 'reads a PDF sent as inline data (Part.from_bytes, pydantic-ai BinaryContent)', async () => {
    const pdf = Buffer.from('%PDF-1.4 inline').toString('base64');
    const asked = genai().models.generateContent({ model, contents: [{ role: 'user', parts: [{ inlineData: { mimeType: 'application/pdf', data: pdf } }, { text: 'summarise' }] }] });
    if (kind === 'ollama') return void (await expect(asked).rejects.toMatchObject({ status: 400 }));
    expect((await asked).text).toBeTruthy();
    expect(JSON.stringify(suite.mocks.get(kind)!.received.at(-1)!.body)).toContain(pdf);
  });

  it('counts tokens', async () => {
    const counted = await genai().models.countTokens({ model, contents: 'how many tokens are in this question about the weather in Oslo' });
    expect(counted.totalTokens).toBeGreaterThan(5);
  });

  it('counts the tokens of a generateContentRequest that asks for several candidates: counting generates none', async () => {
    const body = { generateContentRequest: { model: `models/${model}`, contents: [{ role: 'user', parts: [{ text: 'how many tokens is this' }] }], generationConfig: { candidateCount: 8, maxOutputTokens: 100 } } };
    const res = await suite.stack.fetch(`/v1beta/models/${model}:countTokens`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    // Before, on a model served by Anthropic: 400 "n > 1 is not supported".
    expect(res.status).toBe(200);
    expect(((await res.json()) as { totalTokens: number }).totalTokens).toBeGreaterThan(3);
  });

  it('gets the model', async () => {
    const info = await genai().models.get({ model });
    expect(info).toMatchObject({ name: `models/${model}`, displayName: model });
  });
});

describe('google-genai SDK models and errors', () => {
  it('ends a translated stream that breaks after content with an error the SDK raises', async () => {
    suite.mocks.get('anthropic')!.script({ reply: 'one two three four five six seven eight', midStreamError: { afterChunks: 6, message: 'Overloaded' } });
    const stream = await genai().models.generateContentStream({ model: 'via-anthropic', contents: 'long answer please' });
    let text = '';
    const consume = async () => {
      for await (const chunk of stream) text += chunk.text ?? '';
    };
    await expect(consume()).rejects.toThrow(/Overloaded/);
    expect(text.length).toBeGreaterThan(0);
  });

  it('lists the served models', async () => {
    const names: string[] = [];
    for await (const info of await genai().models.list()) names.push(info.name!);
    expect(names.sort()).toEqual([...PROVIDERS.map((k) => `models/via-${k}`), 'models/meta-llama/Llama-3.1-8B', 'models/qwen2.5:7b'].sort());
  });

  it('raises ApiError 404 NOT_FOUND for an unknown model', async () => {
    const error = await genai()
      .models.generateContent({ model: 'no-such-model', contents: 'hi' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(404);
    expect((error as ApiError).message).toMatch(/NOT_FOUND/);
  });

  it('raises ApiError 400 INVALID_ARGUMENT naming the field of an invalid body', async () => {
    const response = await suite.stack.fetch('/v1beta/models/via-ollama:generateContent', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ contents: 'not a list' }) });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: { code: 400, status: 'INVALID_ARGUMENT', message: expect.stringMatching(/^contents/) } });
  });

  it('refuses empty contents with 400 as Gemini does, whoever serves the model (the Node SDK checks this itself; Python sends it)', async () => {
    for (const kind of PROVIDERS) {
      const received = suite.mocks.get(kind)!.received.length;
      const response = await suite.stack.fetch(`/v1beta/models/via-${kind}:generateContent`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ contents: [] }) });
      expect(response.status, kind).toBe(400);
      expect(await response.json()).toMatchObject({ error: { code: 400, status: 'INVALID_ARGUMENT', message: expect.stringContaining('contents is not specified') } });
      expect(suite.mocks.get(kind)!.received.length, kind).toBe(received);
    }
  });

  it("gives a Claude model's thinking as thought parts only when includeThoughts asks, plain and streamed, as Gemini does", async () => {
    const ask = (includeThoughts?: boolean) => ({ model: 'via-anthropic', contents: 'think about it', config: { maxOutputTokens: 4096, thinkingConfig: { thinkingBudget: 1024, ...(includeThoughts === undefined ? {} : { includeThoughts }) } } });
    const thoughtsOf = (parts: { thought?: boolean; text?: string }[] | undefined) => (parts ?? []).filter((p) => p.thought).map((p) => p.text);
    expect(thoughtsOf((await genai().models.generateContent(ask())).candidates![0]!.content!.parts)).toEqual([]);
    const asked = await genai().models.generateContent(ask(true));
    expect(thoughtsOf(asked.candidates![0]!.content!.parts)).toEqual(['Considering: think about it']);
    expect(asked.text).toBe('echo: think about it');
    for (const [includeThoughts, expected] of [[undefined, []], [true, ['Considering: think about it']]] as const) {
      const streamed: (string | undefined)[] = [];
      for await (const chunk of await genai().models.generateContentStream(ask(includeThoughts))) streamed.push(...thoughtsOf(chunk.candidates?.[0]?.content?.parts));
      expect(streamed.join('') ? [streamed.join('')] : []).toEqual(expected);
    }
  });

  it("embeds with the client's taskType and title on a Gemini model, and the canonical input elsewhere", async () => {
    const gemini = suite.mocks.get('gemini')!;
    const response = await genai().models.embedContent({ model: 'via-gemini', contents: ['alpha', 'beta'], config: { taskType: 'RETRIEVAL_DOCUMENT', title: 'Field notes', outputDimensionality: 16 } });
    expect(response.embeddings?.map((e) => e.values)).toEqual([mockEmbedding('alpha', 16), mockEmbedding('beta', 16)]);
    const sent = gemini.received.at(-1)!;
    expect(sent.path).toBe('/v1beta/models/via-gemini:batchEmbedContents');
    expect((sent.body as { requests: unknown[] }).requests).toEqual(['alpha', 'beta'].map((text) => expect.objectContaining({ model: 'models/via-gemini', taskType: 'RETRIEVAL_DOCUMENT', title: 'Field notes', outputDimensionality: 16, content: expect.objectContaining({ parts: [{ text }] }) })));
    // Gemini's embeddings carry no usage: estimated, so they count against the limits.
    const metrics = await (await fetch(`http://127.0.0.1:${suite.stack.sidecar.adminPort}/metrics`)).text();
    expect(metrics).toMatch(/airlock_usage_estimated_total\{[^}]*model="via-gemini"[^}]*\} [1-9]/);
    const elsewhere = await genai().models.embedContent({ model: 'via-openai', contents: ['alpha'], config: { taskType: 'RETRIEVAL_QUERY' } });
    expect(elsewhere.embeddings?.[0]?.values).toEqual(mockEmbedding('alpha'));
  });

  it.each(['meta-llama/Llama-3.1-8B', 'qwen2.5:7b'])('gets, and generates with, a model named %s (a slash or a colon in its name)', async (name) => {
    const info = await genai().models.get({ model: name });
    expect(info).toMatchObject({ name: `models/${name}` });
    const response = await genai().models.generateContent({ model: name, contents: 'named oddly' });
    expect(response.text).toBe('echo: named oddly');
  });

  it('gets a model with a slash in its name as google-genai for Python asks for it (GET /v1/models/meta-llama/Llama-3.1-8B, unescaped), and as an OpenAI client does', async () => {
    const google = await suite.stack.fetch('/v1/models/meta-llama/Llama-3.1-8B', { method: 'GET', headers: { 'x-goog-api-client': 'google-genai-sdk/1.0 gl-python/3.11' } });
    expect(google.status).toBe(200);
    expect(await google.json()).toMatchObject({ name: 'models/meta-llama/Llama-3.1-8B' });
    const openai = await suite.stack.fetch('/v1/models/meta-llama/Llama-3.1-8B', { method: 'GET' });
    expect(await openai.json()).toMatchObject({ id: 'meta-llama/Llama-3.1-8B', object: 'model' });
  });

  it('answers unknown /v1beta paths in Google shape', async () => {
    const response = await suite.stack.fetch('/v1beta/cachedContents', { method: 'GET' });
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ error: { code: 404, status: 'NOT_FOUND' } });
  });
});
