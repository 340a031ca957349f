import { describe, expect, it } from 'vitest';
import { ChatRequest } from '../../wire/openai.js';
import { adapterFor } from '../index.js';
import type { ProviderAdapter, UpstreamTarget } from '../types.js';

const target: UpstreamTarget = { baseURL: 'http://ollama.test:11434', apiKey: undefined, model: 'llama3.1:8b', headers: {} };
const thinking = ChatRequest.parse({ model: 'agent', reasoning_effort: 'low', messages: [{ role: 'user', content: 'hi' }] });
/** The `think` field of the body the adapter sends for `thinking` (the body is built when read). */
const thinkOf = (adapter: ProviderAdapter, unconstrained = false) =>
  (JSON.parse(adapter.chatRequest(thinking, unconstrained ? { ...target, unconstrained } : target).body as string) as { think?: boolean }).think;

describe('the models an Ollama provider remembers as refusing think', () => {
  it('are asked without it after their refusal, by that provider', () => {
    const ollama = adapterFor('ollama');
    expect(thinkOf(ollama)).toBe(true);
    // The second try after Ollama's 400 "does not support thinking".
    expect(thinkOf(ollama, true)).toBeUndefined();
    expect(thinkOf(ollama)).toBeUndefined();
  });

  it('are not shared with another Ollama provider at the same server', () => {
    const first = adapterFor('ollama');
    const second = adapterFor('ollama');
    thinkOf(first, true);
    expect(thinkOf(first)).toBeUndefined();
    // Before: one module-wide set, so a refusal through one provider (or one test) held for all.
    expect(thinkOf(second)).toBe(true);
  });
});
