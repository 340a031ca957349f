/**
 * Gemini 3's multimodal function responses (an image inside `functionResponse.parts`, named in
 * the response by `{"$ref": displayName}`) from a google-genai client reach every provider type
 * with the image: a Gemini provider takes them as sent; elsewhere the image goes in the user
 * message after the tool messages, since OpenAI's tool messages take text only (its mock refuses
 * an image there, as OpenAI does), and Ollama reads it there too; Anthropic takes it inside the
 * tool_result, as its tool results take images.
 */
import { FunctionCallingConfigMode, createFunctionResponsePartFromBase64, createPartFromFunctionResponse, type Content } from '@google/genai';
import { describe, expect, it } from 'vitest';
import { EVERY_PROVIDER, genaiClient, providerStackForFile } from './harness.js';

const suite = providerStackForFile('gemini-function-media');
const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
// The model is to answer from the image, not call again.
const config = { tools: [{ functionDeclarations: [{ name: 'screenshot', description: 'Capture the screen' }] }], toolConfig: { functionCallingConfig: { mode: FunctionCallingConfigMode.NONE } } };

function history(): Content[] {
  const media = createFunctionResponsePartFromBase64(PNG, 'image/png');
  media.inlineData!.displayName = 'screen.png';
  return [
    { role: 'user', parts: [{ text: 'what is on my screen' }] },
    { role: 'model', parts: [{ functionCall: { id: 'shot-1', name: 'screenshot', args: {} } }] },
    { role: 'user', parts: [createPartFromFunctionResponse('shot-1', 'screenshot', { image: { $ref: 'screen.png' } }, [media])] },
  ];
}

type Sent = Record<string, unknown>;
const sent = (kind: (typeof EVERY_PROVIDER)[number]) => suite.mocks.get(kind)!.received.at(-1)!.body as Sent;

describe('an image in a Gemini function response', () => {
  it('reaches an OpenAI provider in a user message after the tool message, which keeps text only', async () => {
    const response = await genaiClient(suite.stack).models.generateContent({ model: 'via-openai', contents: history(), config });
    expect(response.text).toBe('echo: result of shot-1: screen.png: [image]');
    const messages = sent('openai').messages as Sent[];
    expect(messages.map((m) => m.role)).toEqual(['user', 'assistant', 'tool', 'user']);
    expect(JSON.stringify(messages[2]!.content)).toContain('{\\"image\\":{\\"$ref\\":\\"screen.png\\"}}');
    expect(messages[3]!.content).toContainEqual({ type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}` } });
  });

  it('reaches an Anthropic provider inside its tool_result, after the result\'s text and the name it goes by', async () => {
    const response = await genaiClient(suite.stack).models.generateContent({ model: 'via-anthropic', contents: history(), config });
    // The mock answers a tool result with what Claude reads in it: the image is the result's.
    expect(response.text).toBe('tool result: {"image":{"$ref":"screen.png"}} screen.png: [image]');
    const turn = (sent('anthropic').messages as Sent[]).at(-1)!;
    expect(turn.content).toEqual([
      {
        type: 'tool_result',
        tool_use_id: 'shot-1',
        content: [
          { type: 'text', text: '{"image":{"$ref":"screen.png"}}' },
          { type: 'text', text: 'screen.png:' },
          { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG } },
        ],
      },
    ]);
  });

  it('reaches an Anthropic provider inside its own tool_result when two calls answer in one turn, the turn\'s own text after them', async () => {
    const contents = history();
    contents[1]!.parts!.push({ functionCall: { id: 'shot-2', name: 'screenshot', args: {} } });
    const second = createFunctionResponsePartFromBase64('AAAA', 'image/jpeg');
    contents[2]!.parts!.push(createPartFromFunctionResponse('shot-2', 'screenshot', { status: 'taken' }, [second]), { text: 'compare them' });
    await genaiClient(suite.stack).models.generateContent({ model: 'via-anthropic', contents, config });
    const turn = (sent('anthropic').messages as Sent[]).at(-1)!.content as Sent[];
    expect(turn.map((b) => [b.type, b.tool_use_id])).toEqual([['tool_result', 'shot-1'], ['tool_result', 'shot-2'], ['text', undefined]]);
    expect((turn[0]!.content as Sent[]).at(-1)).toMatchObject({ type: 'image', source: { data: PNG } });
    expect(turn[1]!.content).toEqual([{ type: 'text', text: '{"status":"taken"}' }, { type: 'image', source: { type: 'base64', media_type: 'image/jpeg', data: 'AAAA' } }]);
    expect(turn[2]).toEqual({ type: 'text', text: 'compare them' });
  });

  it('reaches an Ollama provider as the images of the message after the tool message', async () => {
    const response = await genaiClient(suite.stack).models.generateContent({ model: 'via-ollama', contents: history(), config });
    expect(response.text).toBe('echo: result of shot-1:\nscreen.png: [image]');
    expect((sent('ollama').messages as Sent[]).at(-1)).toMatchObject({ role: 'user', images: [PNG] });
  });

  it('reaches a Gemini provider as sent', async () => {
    await genaiClient(suite.stack).models.generateContent({ model: 'via-gemini', contents: history(), config });
    const part = ((sent('gemini').contents as Sent[]).at(-1)!.parts as Sent[])[0]!;
    expect(part.functionResponse).toMatchObject({ parts: [{ inlineData: { mimeType: 'image/png', data: PNG, displayName: 'screen.png' } }] });
  });

  it('is counted by a Gemini provider as sent, media only Gemini reads included (a video, a file of its Files API)', async () => {
    const file = { fileUri: 'https://generativelanguage.googleapis.com/v1beta/files/screen-1', mimeType: 'image/png', displayName: 'screen.png' };
    for (const media of [{ inlineData: { data: 'AAAA', mimeType: 'video/mp4', displayName: 'clip.mp4' } }, { fileData: file }]) {
      const contents = history();
      contents[2]!.parts![0]!.functionResponse!.parts = [media];
      const counted = await genaiClient(suite.stack).models.countTokens({ model: 'via-gemini', contents });
      expect(counted.totalTokens).toBeGreaterThan(0);
      expect(((sent('gemini').contents as Sent[]).at(-1)!.parts as Sent[])[0]!.functionResponse).toMatchObject({ parts: [media] });
    }
  });
});

