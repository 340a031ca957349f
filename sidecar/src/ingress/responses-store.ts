/**
 * The conversations behind `previous_response_id` for responses the sidecar itself made by
 * translation (OpenAI keeps its own; see ADR 0011). Bounded: least recently used entries go first
 * once the total size passes {@link MAX_CHARS}, and every entry expires after {@link TTL_MS}.
 * In memory only: a restarted sidecar answers an old id with a 400, as OpenAI does for an
 * expired or unstored response.
 */
import { LRUCache } from 'lru-cache';
import type { InputItem, ResponseObject } from '../wire/responses.js';

/** Total JSON characters kept (about 64 MiB of UTF-16 at most). */
export const MAX_CHARS = 32 * 1024 * 1024;
/** How long a response can be continued. */
export const TTL_MS = 60 * 60 * 1000;

/** What is kept of one response: its whole conversation, and the response itself for retrieval. */
interface Entry {
  /** Every item of the conversation up to and including the response's output, in order. */
  items: InputItem[];
  /** The response as the client got it (`responses.retrieve`). */
  response?: ResponseObject;
}

/** Response id → its conversation (inputs and outputs, in order) and the response object. */
export class ResponseStore {
  private readonly cache = new LRUCache<string, Entry>({
    maxSize: MAX_CHARS,
    ttl: TTL_MS,
    sizeCalculation: (value) => Math.max(1, JSON.stringify(value.items).length + (value.response ? JSON.stringify(value.response).length : 0)),
  });

  /** The conversation up to and including response `id`, if the sidecar holds it. */
  get(id: string): InputItem[] | undefined {
    return this.cache.get(id)?.items;
  }

  /** The response `id` as its client got it, if the sidecar holds it. */
  response(id: string): ResponseObject | undefined {
    return this.cache.get(id)?.response;
  }

  /** Keeps a response's conversation; one larger than the whole store is not kept. */
  put(id: string, items: InputItem[], response?: ResponseObject): void {
    this.cache.set(id, response ? { items, response } : { items });
  }

  /** Forgets response `id` (`responses.delete`); false when it was not held. */
  delete(id: string): boolean {
    return this.cache.delete(id);
  }
}
