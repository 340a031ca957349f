/**
 * The OpenAI Agents SDK for Python (test/python/cases_agents.py) completes a tool run through the
 * socket against every provider mock: Runner.run calls the model, runs the function_tool, hands
 * back its output and answers, on the Responses API and on chat completions; and with the
 * sandbox's MCP tools (MCPServerStreamableHttp on /mcp, a real npm MCP server behind the gateway).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MockKind, MockProvider } from '../../mocks/index.js';
import type { PythonDriver } from '../../python/driver.js';
import { npmServer } from '../mcp/harness.js';
import { PROVIDERS, startPythonStack, VENV_BUILD_TIMEOUT_MS } from './stack.js';

let python: PythonDriver;
let mocks: Map<MockKind, MockProvider>;
let close: () => Promise<void>;

beforeAll(async () => {
  const mcp = { backends: [{ name: 'everything', prefix: 'everything', transport: 'stdio' as const, stdio: npmServer('mcp-server-everything', 'stdio'), tools: { allow: ['echo'] } }] };
  ({ python, mocks, close } = await startPythonStack('python-agents', ['cases_agents'], { mcp }));
}, VENV_BUILD_TIMEOUT_MS);

afterAll(() => close?.());

describe.each(PROVIDERS)('an Agents SDK (Python) run through a %s provider', (kind) => {
  it.each(['responses', 'chat_completions'])('calls the function tool and answers from its result (%s)', async (api) => {
    const result = await python.value('agents.run', { model: `via-${kind}`, city: 'Oslo', api });
    expect(result).toEqual({ calls: ['Oslo'], final: 'tool result: sunny in Oslo', items: ['tool_call_item', 'tool_call_output_item', 'message_output_item'] });
  });
});

describe.each(PROVIDERS)('an Agents SDK (Python) run with the sandbox MCP tools through a %s provider', (kind) => {
  it('calls an MCP tool through the gateway and answers from its result', async () => {
    // The model picks the tool (a mock is told which); the SDK calls it on /mcp through the socket.
    mocks.get(kind)!.script({ toolCalls: [{ name: 'everything__echo', arguments: { message: 'via the agents sdk' } }] });
    const result = await python.value<{ final: string; items: string[]; outputs: string[] }>('agents.run_with_mcp', { model: `via-${kind}`, text: 'echo something' });
    expect(result.items).toEqual(['tool_call_item', 'tool_call_output_item', 'message_output_item']);
    expect(result.outputs[0]).toContain('Echo: via the agents sdk');
    expect(result.final).toContain('Echo: via the agents sdk');
  });
});
