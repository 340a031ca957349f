/**
 * Valid requests the HTTP fuzzer starts from, one per feature the sidecar translates or relays,
 * for the models the fuzz stack serves: `gpt-4o-mini` and `text-embedding-3-small` on an OpenAI
 * mock, `claude-sonnet-4-5` on an Anthropic mock (so a request to the other API's model takes
 * the translation path), and the MCP tools of one backend (prefix `tools`).
 */

export interface Seed {
  path: string;
  body: unknown;
}

const user = (content: unknown) => ({ role: 'user', content });
const weatherTool = { type: 'function', function: { name: 'get_weather', description: 'Weather of a city.', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } };

/** OpenAI API requests (chat, legacy completions, embeddings). */
export const OPENAI_SEEDS: Seed[] = [
  { path: '/v1/chat/completions', body: { model: 'gpt-4o-mini', messages: [user('hello')] } },
  { path: '/v1/chat/completions', body: { model: 'gpt-4o-mini', stream: true, stream_options: { include_usage: true }, messages: [user('stream me')] } },
  { path: '/v1/chat/completions', body: { model: 'claude-sonnet-4-5', messages: [{ role: 'system', content: 'Be brief.' }, user('translate me')], max_tokens: 32, temperature: 0.2, stop: ['\n\n'] } },
  { path: '/v1/chat/completions', body: { model: 'claude-sonnet-4-5', stream: true, messages: [user('stream through translation')] } },
  { path: '/v1/chat/completions', body: { model: 'fast', messages: [user('weather?')], tools: [weatherTool], tool_choice: 'auto', parallel_tool_calls: true } },
  {
    path: '/v1/chat/completions',
    body: {
      model: 'claude-sonnet-4-5',
      messages: [
        user('weather in Paris?'),
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: 'sunny' },
      ],
      tools: [weatherTool],
    },
  },
  {
    path: '/v1/chat/completions',
    body: { model: 'claude-sonnet-4-5', messages: [user([{ type: 'text', text: 'what is this?' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } }])] },
  },
  {
    path: '/v1/chat/completions',
    body: { model: 'gpt-4o-mini', messages: [user('json please')], response_format: { type: 'json_schema', json_schema: { name: 'answer', schema: { type: 'object', properties: { a: { type: 'number' } } } } }, n: 1, seed: 7 },
  },
  { path: '/v1/completions', body: { model: 'gpt-4o-mini', prompt: 'Say hi', max_tokens: 8 } },
  { path: '/v1/completions', body: { model: 'claude-sonnet-4-5', prompt: ['one', 'two'], stream: true } },
  { path: '/v1/embeddings', body: { model: 'text-embedding-3-small', input: ['alpha', 'beta'] } },
  { path: '/v1/embeddings', body: { model: 'text-embedding-3-small', input: 'gamma', encoding_format: 'base64', dimensions: 8 } },
];

const anthropicTool = { name: 'get_weather', description: 'Weather of a city.', input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } };

/** Anthropic Messages API requests. */
export const ANTHROPIC_SEEDS: Seed[] = [
  { path: '/v1/messages', body: { model: 'claude-sonnet-4-5', max_tokens: 64, messages: [user('hello')] } },
  { path: '/v1/messages', body: { model: 'claude-sonnet-4-5', max_tokens: 64, stream: true, system: 'Be brief.', messages: [user('stream me')] } },
  { path: '/v1/messages', body: { model: 'gpt-4o-mini', max_tokens: 64, messages: [user('translate me')], stop_sequences: ['END'], temperature: 0.5 } },
  { path: '/v1/messages', body: { model: 'gpt-4o-mini', max_tokens: 64, stream: true, messages: [user('stream through translation')] } },
  {
    path: '/v1/messages',
    body: {
      model: 'gpt-4o-mini',
      max_tokens: 64,
      tools: [anthropicTool],
      tool_choice: { type: 'auto' },
      messages: [
        user('weather in Paris?'),
        { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } }] },
        user([{ type: 'tool_result', tool_use_id: 'toolu_1', content: [{ type: 'text', text: 'sunny' }] }]),
      ],
    },
  },
  {
    path: '/v1/messages',
    body: {
      model: 'claude-sonnet-4-5',
      max_tokens: 64,
      system: [{ type: 'text', text: 'Look closely.', cache_control: { type: 'ephemeral' } }],
      messages: [user([{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } }, { type: 'text', text: 'what is this?' }])],
      metadata: { user_id: 'agent-1' },
    },
  },
  { path: '/v1/messages', body: { model: 'claude-sonnet-4-5', max_tokens: 2048, thinking: { type: 'enabled', budget_tokens: 1024 }, messages: [user('think')] } },
];

const initialize = (id: number | string) => ({
  jsonrpc: '2.0',
  id,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'fuzzer', version: '1.0.0' } },
});

/** MCP JSON-RPC messages (POSTed to /mcp). */
export const MCP_SEEDS: Seed[] = [
  { path: '/mcp', body: initialize(1) },
  { path: '/mcp', body: { jsonrpc: '2.0', method: 'notifications/initialized' } },
  { path: '/mcp', body: { jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} } },
  { path: '/mcp', body: { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'tools__add', arguments: { a: 2, b: 3 } } } },
  { path: '/mcp', body: { jsonrpc: '2.0', id: 'four', method: 'tools/call', params: { name: 'search_tools', arguments: { query: 'add numbers' } } } },
  { path: '/mcp', body: { jsonrpc: '2.0', id: 5, method: 'resources/list' } },
  { path: '/mcp', body: { jsonrpc: '2.0', id: 6, method: 'prompts/list' } },
  { path: '/mcp', body: { jsonrpc: '2.0', id: 7, method: 'ping' } },
  { path: '/mcp', body: [{ jsonrpc: '2.0', id: 8, method: 'tools/list' }, { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 3 } }] },
  { path: '/mcp', body: initialize('batch') },
];
