/**
 * Fields that have the provider answer with another model than the one the request names (red
 * team 12): OpenRouter's `models` and `route`, LiteLLM's `fallbacks` and `user_config`,
 * Anthropic's server-side `fallbacks` with its beta. Passed through, the answer came from a model
 * the sandbox does not serve, billed at that model's price while the sidecar counted the named
 * one's. Each is refused with a 400 in the client's own shape naming the field, and nothing goes
 * upstream; the same calls without them are served.
 */
import Anthropic from '@anthropic-ai/sdk';
import { ApiError, ServiceTier } from '@google/genai';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import type { MockKind } from '../../mocks/index.js';
import { genaiClient, providerStackForFile, refusedUnsent } from './harness.js';

const KINDS: readonly MockKind[] = ['openai', 'openai-compatible', 'anthropic', 'gemini'];
const file = providerStackForFile('other-models', { kinds: KINDS });

const hi = [{ role: 'user' as const, content: 'hi' }];

/** [name, the call, the field the refusal names], through the OpenAI SDK (chat on an OpenRouter-like openai-compatible provider, Responses on OpenAI). */
const OPENAI: [string, (c: OpenAI) => Promise<unknown>, string][] = [
  ["OpenRouter's fallback models in chat", (c) => c.chat.completions.create({ model: 'via-openai-compatible', messages: hi, models: ['openai/o1-pro', 'anthropic/claude-opus-4.1'] } as never), 'models'],
  ["OpenRouter's fallback route in chat", (c) => c.chat.completions.create({ model: 'via-openai-compatible', messages: hi, route: 'fallback' } as never), 'route'],
  ["LiteLLM's client-side fallbacks in chat", (c) => c.chat.completions.create({ model: 'via-openai-compatible', messages: hi, fallbacks: ['gpt-5-pro'] } as never), 'fallbacks'],
  ["LiteLLM's per-request model list in chat", (c) => c.chat.completions.create({ model: 'via-openai-compatible', messages: hi, user_config: { model_list: [{ model_name: 'via-openai-compatible', litellm_params: { model: 'o1-pro' } }] } } as never), 'user_config'],
  ["LiteLLM's context window fallbacks in a legacy completion", (c) => c.completions.create({ model: 'via-openai-compatible', prompt: 'hi', context_window_fallbacks: [{ 'via-openai-compatible': ['o1-pro'] }] } as never), 'context_window_fallbacks'],
  ['fallback models in the Responses API', (c) => c.responses.create({ model: 'via-openai', input: 'hi', models: ['o1-pro'] } as never), 'models'],
  ["OpenRouter's preset, which may hold fallback models", (c) => c.chat.completions.create({ model: 'via-openai-compatible', messages: hi, preset: 'team-fallbacks' } as never), 'preset'],
];

/** Fields that pick a dearer way of serving the same model: [name, the call, the field]. */
const PRICE_TIERS: [string, (c: OpenAI) => Promise<unknown>, string][] = [
  ["OpenAI's priority tier in chat", (c) => c.chat.completions.create({ model: 'via-openai', messages: hi, service_tier: 'priority' }), 'service_tier'],
  ["OpenAI's scale tier in the Responses API", (c) => c.responses.create({ model: 'via-openai', input: 'hi', service_tier: 'scale' }), 'service_tier'],
];

/** The same through the Anthropic SDK: [name, the call, the field or header the message names]. */
const ANTHROPIC: [string, (c: Anthropic) => Promise<unknown>, string][] = [
  ["Anthropic's server-side fallback, as its docs write it", (c) => c.beta.messages.create({ model: 'via-anthropic', max_tokens: 64, messages: hi, betas: ['server-side-fallback-2026-06-01'], fallbacks: [{ model: 'claude-opus-4-8' }] } as never), 'fallbacks'],
  ['the fallback beta alone (the default fallback model)', (c) => c.beta.messages.create({ model: 'via-anthropic', max_tokens: 64, messages: hi, betas: ['files-api-2025-04-14', 'server-side-fallback-2026-06-01'] }), 'anthropic-beta'],
  ['fallbacks: "default" without the beta', (c) => c.messages.create({ model: 'via-anthropic', max_tokens: 64, messages: hi, fallbacks: 'default' } as never), 'fallbacks'],
  ['fallbacks in token counting', (c) => c.messages.countTokens({ model: 'via-anthropic', messages: hi, fallbacks: [{ model: 'claude-opus-4-8' }] } as never), 'fallbacks'],
  ["Anthropic's fast mode, as its docs write it", (c) => c.beta.messages.create({ model: 'via-anthropic', max_tokens: 64, messages: hi, betas: ['fast-mode-2026-02-01'], speed: 'fast' } as never), 'speed'],
  ["Anthropic's fast mode beta alone", (c) => c.beta.messages.create({ model: 'via-anthropic', max_tokens: 64, messages: hi, betas: ['fast-mode-2026-02-01'] }), 'anthropic-beta'],
];

describe('fields that ask the provider for other models', () => {
  it.each(OPENAI)('refuses %s in OpenAI\'s shape, naming the field', async (_name, call, param) => {
    const error = await refusedUnsent(file, OpenAI.BadRequestError, () => call(file.stack.openai({ maxRetries: 0 })));
    expect(error).toMatchObject({ status: 400, param, code: 'other_models_not_allowed', message: expect.stringContaining('another model than') });
  });

  it.each(ANTHROPIC)('refuses %s in Anthropic\'s shape, naming it', async (_name, call, named) => {
    const error = await refusedUnsent(file, Anthropic.BadRequestError, () => call(file.stack.anthropic({ maxRetries: 0 })));
    expect(error.error).toMatchObject({
      type: 'error',
      error: { type: 'invalid_request_error', message: expect.stringMatching(new RegExp(`^${named} .*(another model than 'via-anthropic'|serve 'via-anthropic' at another price)`)) },
    });
  });

  it.each(PRICE_TIERS)('refuses %s in OpenAI\'s shape, naming the field', async (_name, call, param) => {
    const error = await refusedUnsent(file, OpenAI.BadRequestError, () => call(file.stack.openai({ maxRetries: 0 })));
    expect(error).toMatchObject({ status: 400, param, code: 'price_tier_not_allowed', message: expect.stringContaining("serve 'via-openai' at another price than the sandbox counts") });
  });

  it.each([
    ['the SDK\'s priority tier', ServiceTier.PRIORITY],
    ['the enum spelling', 'SERVICE_TIER_PRIORITY'],
  ])("refuses Gemini's %s in Gemini's shape, and serves flex", async (_name, serviceTier) => {
    const genai = genaiClient(file.stack);
    const error = await refusedUnsent(file, ApiError, () => genai.models.generateContent({ model: 'via-openai', contents: 'hi', config: { serviceTier: serviceTier as ServiceTier } }));
    expect(error.status).toBe(400);
    expect(error.message).toContain("serve 'via-openai' at another price than the sandbox counts");
    const flex = await genai.models.generateContent({ model: 'via-openai', contents: 'hi', config: { serviceTier: ServiceTier.FLEX } });
    expect(flex.text).toBeTruthy();
  });

  it("refuses a fallback list sent to the Gemini API as well, in Google's shape: every ingress's calls pass the one check", async () => {
    const before = file.sentUpstream;
    const body = { contents: [{ role: 'user', parts: [{ text: 'hi' }] }], models: ['o1-pro'] };
    const response = await file.stack.fetch('/v1beta/models/via-openai:generateContent', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: { code: 400, status: 'INVALID_ARGUMENT', message: expect.stringContaining("another model than 'via-openai'") } });
    expect(file.sentUpstream).toBe(before);
  });

  it('serves the same calls without them, other betas and routing among one model\'s providers included', async () => {
    const openai = file.stack.openai();
    const chat = await openai.chat.completions.create({ model: 'via-openai-compatible', messages: hi, provider: { order: ['openai', 'azure'] } } as never);
    expect(chat.choices[0]!.message.content).toBeTruthy();
    expect(file.mocks.get('openai-compatible')!.received.at(-1)!.body).toMatchObject({ provider: { order: ['openai', 'azure'] } });
    const response = await openai.responses.create({ model: 'via-openai', input: 'hi' });
    expect(response.status).toBe('completed');
    // An empty fallback list asks for nothing (OpenRouter's AI SDK provider sends one); the flex tier is cheaper.
    await openai.chat.completions.create({ model: 'via-openai-compatible', messages: hi, models: [] } as never);
    await openai.chat.completions.create({ model: 'via-openai', messages: hi, service_tier: 'flex' });
    expect(file.mocks.get('openai')!.received.at(-1)!.body).toMatchObject({ service_tier: 'flex' });
    const message = await file.stack.anthropic().beta.messages.create({ model: 'via-anthropic', max_tokens: 64, messages: hi, betas: ['files-api-2025-04-14'] });
    expect(message.type).toBe('message');
    expect(file.mocks.get('anthropic')!.received.at(-1)!.headers['anthropic-beta']).toContain('files-api-2025-04-14');
  });
});

describe('one field the client may spell two ways, or a body that names another model than the call', () => {
  it.each([
    ['at once', { max_completion_tokens: 1, max_tokens: 100_000 }],
    ['the other way round', { max_completion_tokens: 100_000, max_tokens: 1 }],
  ])('refuses max_completion_tokens and max_tokens of different values (%s): a server reading only max_tokens generated past what the sidecar held', async (_how, limits) => {
    const error = await refusedUnsent(file, OpenAI.BadRequestError, () =>
      file.stack.openai({ maxRetries: 0 }).chat.completions.create({ model: 'via-openai-compatible', messages: hi, ...limits }),
    );
    expect(error).toMatchObject({ status: 400, param: 'max_tokens', code: 'invalid_parameter_combination', message: expect.stringContaining('both max_completion_tokens') });
  });

  it('serves both when they say the same', async () => {
    const chat = await file.stack.openai().chat.completions.create({ model: 'via-openai-compatible', messages: hi, max_completion_tokens: 50, max_tokens: 50 });
    expect(chat.choices[0]!.message.content).toBeTruthy();
  });

  /** A Gemini-native call of `path`'s method on via-gemini with `body`, as the client wrote it. */
  const gemini = (method: string, body: unknown) =>
    file.stack.fetch(`/v1beta/models/via-gemini:${method}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const contents = [{ role: 'user', parts: [{ text: 'hi' }] }];

  it.each([
    ['generateContent', 'model', { model: 'models/gpt-secret', contents }],
    ['countTokens', 'generateContentRequest.model', { generateContentRequest: { model: 'models/gpt-secret', contents } }],
  ])('refuses a Gemini %s body whose %s is not the path\'s: a server reading the body would answer with that model', async (method, field, body) => {
    const before = file.sentUpstream;
    const response = await gemini(method, body);
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: { code: 400, status: 'INVALID_ARGUMENT', message: expect.stringContaining(`${field}: names another model than the path's 'via-gemini'`) } });
    expect(file.sentUpstream).toBe(before);
    expect(file.mocks.get('gemini')!.received.some((r) => r.rawBody.toString().includes('gpt-secret'))).toBe(false);
  });

  it("serves a Gemini body that names the path's own model, as google-genai's countTokens does", async () => {
    expect((await gemini('generateContent', { model: 'models/via-gemini', contents })).status).toBe(200);
    expect((await gemini('countTokens', { generateContentRequest: { model: 'models/via-gemini', contents } })).status).toBe(200);
  });
});
