/**
 * The OpenAI Agents SDK (`@openai/agents`) runs an agent with a function tool through the socket,
 * on the Responses API, against every provider type: the SDK's own loop (call the model, run the
 * tool, hand back function_call and function_call_output items, answer) must work unchanged.
 */
import { Agent, OpenAIProvider, Runner, setTracingDisabled, tool } from '@openai/agents';
import { beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { EVERY_PROVIDER, providerStackForFile } from './harness.js';

const PROVIDERS = EVERY_PROVIDER;
const suite = providerStackForFile('agents');

beforeAll(() => {
  // The SDK would export traces to OpenAI; the sandbox has no such door, and a test needs none.
  setTracingDisabled(true);
});

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
    const runner = new Runner({ modelProvider: new OpenAIProvider({ openAIClient: suite.stack.openai() as never, useResponses: true }) });
    const result = await runner.run(agent, 'Oslo');
    expect(calls).toEqual(['Oslo']);
    expect(result.finalOutput).toBe('tool result: sunny in Oslo');
    expect(suite.mocks.get(kind)!.received.length).toBeGreaterThanOrEqual(2);
  });
});
