/**
 * Google's ADK for Python (test/python/cases_adk.py, google-adk pinned in
 * test/python/requirements-adk.txt, a venv of its own) completes a tool run through the socket
 * against every provider mock: an LlmAgent whose model is ADK's Gemini class on a google-genai
 * client that dials the socket, so ADK speaks the Gemini API (generateContent, and
 * streamGenerateContent with SSE streaming) to a model served natively by Gemini or translated for
 * OpenAI, Anthropic and Ollama; ADK runs the function tool, answers from its result, and the usage
 * it reads from the responses is what the sidecar counted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MockKind } from '../../mocks/index.js';
import type { PythonDriver } from '../../python/driver.js';
import { ADK_REQUIREMENTS } from '../../python/venv.js';
import { modelUsage, type Stack } from '../sidecar/harness.js';
import { PROVIDERS, startPythonStack, VENV_BUILD_TIMEOUT_MS } from './stack.js';

let python: PythonDriver;
let stack: Stack;
let keys: Partial<Record<MockKind, string>>;
let close: () => Promise<void>;

beforeAll(async () => {
  ({ python, stack, keys, close } = await startPythonStack('python-adk', ['cases_adk'], {}, ADK_REQUIREMENTS));
}, VENV_BUILD_TIMEOUT_MS);

afterAll(() => close?.());

interface AdkRun {
  calls: string[];
  called: string[];
  answered: unknown[];
  final: string;
  partials: number;
  usage: { input: number; output: number };
}

describe.each(PROVIDERS)('an ADK agent (Python) on a model served by %s', (kind) => {
  it.each([false, true])('calls the function tool and answers from its result (streaming: %s); ADK reads the usage the sidecar counted', async (stream) => {
    const model = `via-${kind}`;
    const before = await modelUsage(stack, model);
    const result = await python.value<AdkRun>('adk.run', { model, city: 'Oslo', stream });
    expect(result.calls).toEqual(['Oslo']);
    expect(result.called).toEqual(['get_weather']);
    expect(result.answered).toEqual([{ result: 'sunny in Oslo' }]);
    expect(result.final).toContain('sunny in Oslo');
    if (stream) expect(result.partials).toBeGreaterThan(1);
    // Neither what ADK returned nor anything the Python process printed holds the provider's key.
    const key = keys[kind];
    if (key !== undefined) expect(JSON.stringify(result) + python.stderr()).not.toContain(key);
    const after = await modelUsage(stack, model);
    expect({ requests: after.requests - before.requests, input: after.inputTokens - before.inputTokens, output: after.outputTokens - before.outputTokens }).toEqual({
      requests: 2,
      input: result.usage.input,
      output: result.usage.output,
    });
  });
});
