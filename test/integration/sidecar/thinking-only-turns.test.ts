/**
 * A history whose assistant turn holds only reasoning (an Anthropic client replaying a turn where
 * the model only thought; a Gemini turn of thought parts) reaches every provider type as a
 * conversation it takes: where the provider has no such block the turn is left out rather than
 * sent empty, which OpenAI, Anthropic and Gemini refuse (their mocks do too).
 */
import type { Content } from '@google/genai';
import { describe, expect, it } from 'vitest';
import { EVERY_PROVIDER, genaiClient, providerStackForFile } from './harness.js';

const suite = providerStackForFile('thinking-only-turns');

describe.each(EVERY_PROVIDER)('a thinking-only assistant turn to a %s provider', (kind) => {
  const model = `via-${kind}`;

  it('from an Anthropic client (a thinking block alone)', async () => {
    const message = await suite.stack.anthropic().messages.create({
      model,
      max_tokens: 256,
      messages: [
        { role: 'user', content: 'first question' },
        { role: 'assistant', content: [{ type: 'thinking', thinking: 'Nothing to say yet.', signature: 'c2lnbmVk' }] },
        { role: 'user', content: 'second question' },
      ],
    });
    // Left out, the turns around it are one user turn where the provider merges them (Anthropic, Gemini).
    expect(message.content).toEqual([expect.objectContaining({ type: 'text', text: expect.stringMatching(/^echo: (first question )?second question$/) })]);
  });

  it('from a Gemini client (thought parts alone)', async () => {
    const contents: Content[] = [
      { role: 'user', parts: [{ text: 'first question' }] },
      { role: 'model', parts: [{ text: 'Nothing to say yet.', thought: true }] },
      { role: 'user', parts: [{ text: 'second question' }] },
    ];
    const response = await genaiClient(suite.stack).models.generateContent({ model, contents });
    expect(response.text).toMatch(/^echo: (first question )?second question$/);
  });
});
