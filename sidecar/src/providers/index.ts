/** The provider adapters by type: the one place the router looks them up. */
import type { ProviderType } from '../config/schema.js';
import { anthropicAdapter } from './anthropic/index.js';
import { geminiAdapter } from './gemini/index.js';
import { createOllamaAdapter } from './ollama/index.js';
import { openAIAdapter, openAICompatibleAdapter } from './openai/index.js';
import type { ProviderAdapter } from './types.js';

/** How each type's adapter is had: Ollama's is made anew, as it remembers what its provider's models refused. */
const ADAPTERS: Record<ProviderType, () => ProviderAdapter> = {
  openai: () => openAIAdapter,
  'openai-compatible': () => openAICompatibleAdapter,
  anthropic: () => anthropicAdapter,
  gemini: () => geminiAdapter,
  ollama: createOllamaAdapter,
};

/** The adapter for one configured provider of a type; each provider gets its own (server/runtime.ts). */
export function adapterFor(type: ProviderType): ProviderAdapter {
  return ADAPTERS[type]();
}

export * from './types.js';
