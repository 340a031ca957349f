/**
 * Faithful mock model providers for integration tests: one HTTP server per provider on
 * 127.0.0.1, speaking the provider's wire format, answering deterministically from the request
 * and scriptable per request (errors, latency, resets, stalls, broken JSON, mid-stream errors).
 *
 * @example
 * const mock = await startMock('anthropic', { keys: ['sk-ant-test'] });
 * mock.script({ status: 529 }, { resetAfterChunks: 3 });
 * // ...point the sidecar at mock.url...
 * await mock.close();
 */
import { anthropic } from './anthropic.js';
import { gemini } from './gemini.js';
import { ollama } from './ollama.js';
import { openai, openaiCompatible } from './openai.js';
import { startServer } from './server.js';
import type { ProviderSpec } from './server.js';
import type { MockKind, MockOptions, MockProvider } from './types.js';

export type { MidStreamError, MockKind, MockOptions, MockProvider, MockStep, RecordedRequest, ScriptedToolCall } from './types.js';
export { embed as mockEmbedding } from './turn.js';

const SPECS: Record<MockKind, ProviderSpec> = {
  openai,
  'openai-compatible': openaiCompatible,
  anthropic,
  gemini,
  ollama,
};

/** Starts a mock of one provider on 127.0.0.1 and a free port. */
export function startMock(kind: MockKind, options?: MockOptions): Promise<MockProvider> {
  return startServer(kind, SPECS[kind], options);
}
