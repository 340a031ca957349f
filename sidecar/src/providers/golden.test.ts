import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_BASE_URLS, type ProviderType } from '../config/schema.js';
import { MessagesRequest } from '../wire/anthropic.js';
import { ChatRequest, CompletionRequest, EmbeddingsRequest } from '../wire/openai.js';
import { adapterFor } from './index.js';
import { outcome, readFixtures, splits, translate, UPDATE_GOLDEN, updateFixture, type Fixture } from './testing/golden.js';
import type { StreamTranslator, TranslateContext, UpstreamRequest, UpstreamTarget } from './types.js';

/**
 * Golden files of every adapter: `<type>/golden/*.json`. A fixture names the adapter method
 * (`call`), its input, and what it must return (`expected`) or throw (`throws`). Request inputs go
 * through the HTTP-boundary schema first, as in the server; request bodies are compared as JSON.
 * Stream fixtures name a raw file with the provider's exact bytes.
 */

const KEY = 'sk-test-golden-0123456789';
const context: TranslateContext = { requestedModel: 'agent-model', id: 'chatcmpl-golden1', created: 1700000000 };

function targetFor(type: ProviderType, fixture: Fixture): UpstreamTarget {
  return {
    baseURL: DEFAULT_BASE_URLS[type] ?? 'http://compatible.local:8000/v1',
    apiKey: KEY,
    model: 'upstream-model',
    headers: { 'x-team': 'agents' },
    ...(fixture.data.target as Partial<UpstreamTarget> | undefined),
  };
}

function readable(request: UpstreamRequest): unknown {
  return request.body === undefined ? request : { ...request, body: JSON.parse(String(request.body)) as unknown };
}

function streamOf(type: ProviderType, fixture: Fixture): StreamTranslator<unknown> {
  const adapter = adapterFor(type);
  return fixture.data.call === 'chatStream' ? adapter.chatStream(context) : adapter.completionsStream!(context);
}

function run(type: ProviderType, fixture: Fixture, dir: string): unknown {
  const adapter = adapterFor(type);
  const { input } = fixture.data;
  const target = targetFor(type, fixture);
  switch (fixture.data.call) {
    case 'chatRequest':
      return readable(adapter.chatRequest(ChatRequest.parse(input), target));
    case 'messagesRequest':
      return readable(adapter.messagesRequest!(MessagesRequest.parse(input), target, fixture.data.clientHeaders as never));
    case 'embeddingsRequest':
      return readable(adapter.embeddingsRequest!(EmbeddingsRequest.parse(input), target));
    case 'completionsRequest':
      return readable(adapter.completionsRequest!(CompletionRequest.parse(input), target));
    case 'modelsRequest':
      return readable(adapter.modelsRequest(target));
    case 'chatResponse':
      return adapter.chatResponse(input, context);
    case 'embeddingsResponse':
      return adapter.embeddingsResponse!(input, context, EmbeddingsRequest.parse(fixture.data.request));
    case 'completionsResponse':
      return adapter.completionsResponse!(input, context);
    case 'modelsResponse':
      return adapter.modelsResponse(input);
    case 'error':
      return adapter.error(fixture.data.status as number, input as string);
    case 'chatStream':
    case 'completionsStream': {
      const bytes = readFileSync(join(dir, fixture.data.raw as string));
      return translate(streamOf(type, fixture), [bytes]);
    }
    default:
      throw new Error(`unknown call ${String(fixture.data.call)}`);
  }
}

const TYPES: [ProviderType, string][] = [
  ['openai', 'openai'],
  ['anthropic', 'anthropic'],
  ['gemini', 'gemini'],
  ['ollama', 'ollama'],
];

for (const [defaultType, folder] of TYPES) {
  const dir = join(import.meta.dirname, folder, 'golden');
  describe(`${folder} adapter golden files`, () => {
    for (const fixture of readFixtures(dir)) {
      const type = (fixture.data.adapter as ProviderType | undefined) ?? defaultType;
      const title = `${fixture.name}: ${String(fixture.data.description ?? fixture.data.call)}`;
      it(title, () => {
        const result = outcome(() => run(type, fixture, dir));
        if (UPDATE_GOLDEN) return updateFixture(fixture, result);
        if ('throws' in result) expect({ throws: result.throws }).toEqual({ throws: fixture.data.throws });
        else expect(result.expected).toEqual(fixture.data.expected);
      });

      if (fixture.data.call === 'chatStream' || fixture.data.call === 'completionsStream') {
        it(`${fixture.name}: same chunks however the bytes are split`, () => {
          const bytes = new Uint8Array(readFileSync(join(dir, fixture.data.raw as string)));
          for (const [how, pieces] of splits(bytes)) {
            expect(translate(streamOf(type, fixture), pieces), how).toEqual(fixture.data.expected);
          }
        });
      }
    }
  });
}
