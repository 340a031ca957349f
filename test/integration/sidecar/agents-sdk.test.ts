/**
 * The OpenAI Agents SDK (`@openai/agents`) runs an agent with a function tool through the socket,
 * on the Responses API, against every provider type: the SDK's own loop (call the model, run the
 * tool, hand back function_call and function_call_output items, answer) must work unchanged.
 */
import { Agent, OpenAIProvider, Runner, setTracingDisabled, tool } from '@openai/agents';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { MockKind, MockProvider } from '../../mocks/index.js';
import { startProviderStack, type Stack } from './harness.js';

const PROVIDERS: MockKind[] = ['openai', 'anthropic', 'gemini', 'ollama'];
const KEYS: Partial<Record<MockKind, string>> = {
  openai: 'sk-proj-Aq3vT9mB2kLp7RwZ4nYc8HdF1sJ6aGe5uV0oKiEt',
  anthropic: 'sk-ant-api03-Z7tYp2QwE9mZx4VbN6cL1kJ8hG3fD5sA0uIoP-AbCdEfGh',
  gemini: 'AIzaSyT4k9Lm2Nq7Rs1Tv6Wx3Yz8Ab5Cd0Ef2Gh',
};

let stack: Stack;
let mocks: Map<MockKind, MockProvider>;
let close: () => Promise<void>;

beforeAll(async () => {
  // The SDK would export traces to OpenAI; the sandbox has no such door, and a test needs none.
  setTracingDisabled(true);
  ({ stack, mocks, close } = await startProviderStack(PROVIDERS, KEYS, { sandbox: { name: 'agents' } }));
});

afterAll(() => close?.());

describe.each(PROVIDERS)('an Agents SDK run through a %s provider', (kind) => {
  it('calls the tool and answers from its result', async () => {
    const calls: string[] = [];
    const getWeather = tool({
      name: 'get_weather',
      description: 'Current weather for a city',
      parameters: z.object({ input: z.string() }),
      execute: async ({ input }) => {
        calls.push(input);
        return `sunny in ${input}`;
      },
    });
    const agent = new Agent({ name: 'weather', instructions: 'Answer with the weather tool.', tools: [getWeather], model: `via-${kind}` });
    // The SDK's own openai (v7) client type differs from the test's; the client object is the same API.
    const runner = new Runner({ modelProvider: new OpenAIProvider({ openAIClient: stack.openai() as never, useResponses: true }) });
    const result = await runner.run(agent, 'Oslo');
    expect(calls).toEqual(['Oslo']);
    expect(result.finalOutput).toBe('tool result: sunny in Oslo');
    expect(mocks.get(kind)!.received.length).toBeGreaterThanOrEqual(2);
  });
});
