/**
 * The OpenAI Agents SDK for Python (test/python/cases_agents.py) completes a tool run through the
 * socket against every provider mock: Runner.run calls the model, runs the function_tool, hands
 * back its output and answers, on the Responses API and on chat completions.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PythonDriver } from '../../python/driver.js';
import { PROVIDERS, startPythonStack, VENV_BUILD_TIMEOUT_MS } from './stack.js';

let python: PythonDriver;
let close: () => Promise<void>;

beforeAll(async () => {
  ({ python, close } = await startPythonStack('python-agents', ['cases_agents']));
}, VENV_BUILD_TIMEOUT_MS);

afterAll(() => close?.());

describe.each(PROVIDERS)('an Agents SDK (Python) run through a %s provider', (kind) => {
  it.each(['responses', 'chat_completions'])('calls the function tool and answers from its result (%s)', async (api) => {
    const result = await python.value('agents.run', { model: `via-${kind}`, city: 'Oslo', api });
    expect(result).toEqual({ calls: ['Oslo'], final: 'tool result: sunny in Oslo', items: ['tool_call_item', 'tool_call_output_item', 'message_output_item'] });
  });
});
