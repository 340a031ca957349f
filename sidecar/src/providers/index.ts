/** The provider adapters by type: the one place the router looks them up. */
import type { ProviderType } from '../config/schema.js';
import { anthropicAdapter } from './anthropic/index.js';
import { geminiAdapter } from './gemini/index.js';
import { ollamaAdapter } from './ollama/index.js';
import { openAIAdapter, openAICompatibleAdapter } from './openai/index.js';
import type { ProviderAdapter } from './types.js';

const ADAPTERS: Record<ProviderType, ProviderAdapter> = {
  openai: openAIAdapter,
  'openai-compatible': openAICompatibleAdapter,
  anthropic: anthropicAdapter,
  gemini: geminiAdapter,
  ollama: ollamaAdapter,
};

/** The adapter of a provider type. */
export function adapterFor(type: ProviderType): ProviderAdapter {
  return ADAPTERS[type];
}

export * from './types.js';
