/**
 * The conversations behind `previous_response_id` for responses the sidecar itself made by
 * translation (OpenAI keeps its own; see ADR 0011). Bounded: least recently used entries go first
 * once the total size passes {@link MAX_CHARS}, and every entry expires after {@link TTL_MS}.
 * In memory only: a restarted sidecar answers an old id with a 400, as OpenAI does for an
 * expired or unstored response. The output items of a held response can be named by their own
 * ids too (`item_reference`, which the Vercel AI SDK sends for earlier turns when `store` is on).
 */
import { LRUCache } from 'lru-cache';
import type { InputItem, ResponseObject } from '../wire/responses.js';
import { valueSize } from '../wire/json-scan.js';

/** Total JSON characters kept (about 64 MiB of UTF-16 at most). */
export const MAX_CHARS = 32 * 1024 * 1024;
/** Output item ids indexed (each maps to the response that holds the item). */
export const MAX_ITEM_IDS = 200_000;
/** How long a response can be continued. */
export const TTL_MS = 60 * 60 * 1000;

/** The items `item_reference`s name add up to more than the request may carry. */
export class ReferencesTooLarge extends Error {
  constructor(readonly maxChars: number) {
    super(`the items named by item_reference add up to more than ${maxChars} characters`);
    this.name = 'ReferencesTooLarge';
  }
}

/** What is kept of one response: its whole conversation, and the response itself for retrieval. */
interface Entry {
  /** Every item of the conversation up to and including the response's output, in order. */
  items: InputItem[];
  /** The response as the client got it (`responses.retrieve`). */
  response?: ResponseObject;
}

/**
 * What a held value takes, in the store's unit (about a character): its JSON text, and what its
 * objects, arrays and values take parsed (wire/json-scan.ts), at two bytes a character. By its
 * text alone, items full of members translation drops (`"x":[{},{},…]`, 3 characters and ~56
 * bytes each) let 20 small calls hold ~1 GiB for an hour (red team 19).
 */
function heldSize(value: unknown): number {
  const size = valueSize(value);
  return size.jsonBytes + Math.ceil(size.parsedBytes / 2);
}

/** Response id → its conversation (inputs and outputs, in order) and the response object. */
export class ResponseStore {
  /** @param maxChars what the held conversations may take, in the store's unit ({@link heldSize}); MAX_CHARS but in tests. */
  constructor(maxChars = MAX_CHARS) {
    this.cache = new LRUCache<string, Entry>({
      maxSize: maxChars,
      ttl: TTL_MS,
      sizeCalculation: (value) => Math.max(1, heldSize(value.items) + (value.response ? heldSize(value.response) : 0)),
    });
  }

  private readonly cache: LRUCache<string, Entry>;

  /**
   * Output item id → the id of the response whose output it is. Bounded by `maxSize` at one per
   * entry, not by `max`: lru-cache allocates its arrays for `max` entries up front (with the TTL's,
   * ~8.5 MiB for 200,000, held by every sidecar from its start although most never see a Responses
   * call), while under `maxSize` they grow with the entries. Same bound, same eviction order.
   */
  private readonly owners = new LRUCache<string, string>({ maxSize: MAX_ITEM_IDS, sizeCalculation: () => 1, ttl: TTL_MS });

  /**
   * Response id → the tokens its conversation holds (its input and output as counted), for the
   * responses OpenAI keeps and the sidecar passed through: a continuation of one is held against
   * the limits at that size, not at the model's whole context window (Operation.heldByProvider).
   */
  private readonly sizes = new LRUCache<string, number>({ maxSize: MAX_ITEM_IDS, sizeCalculation: () => 1, ttl: TTL_MS });

  /**
   * `items` with every `item_reference` to an output item the sidecar holds replaced by that item,
   * and every reasoning item of its own handed back bare (its id, no `encrypted_content`: clients
   * that keep items by id when `store` is on) by the item as it made it; references it does not
   * hold (OpenAI's) stay. The same array when nothing was replaced.
   * @param maxChars what the held items put in may add up to (JSON characters): a reference is a
   *   few bytes and its item can be a whole long answer, so without it a body of references
   *   expands far past the body limit. @throws {ReferencesTooLarge} past it.
   */
  resolve(items: InputItem[], maxChars = Infinity): InputItem[] {
    let replaced = false;
    let added = 0;
    const sizes = new Map<string, number>();
    const resolved = items.map((item) => {
      const bare = item.type === 'reasoning' && !(item as { encrypted_content?: unknown }).encrypted_content;
      const id = item.type === 'item_reference' || bare ? (item as { id?: unknown }).id : undefined;
      const owner = typeof id === 'string' ? this.owners.get(id) : undefined;
      const held = owner === undefined ? undefined : this.cache.get(owner)?.response?.output.find((o) => o.id === id);
      if (held === undefined) return item;
      let size = sizes.get(id as string);
      if (size === undefined) sizes.set(id as string, (size = JSON.stringify(held).length));
      added += size;
      if (added > maxChars) throw new ReferencesTooLarge(maxChars);
      replaced = true;
      return held as InputItem;
    });
    return replaced ? resolved : items;
  }

  /** The conversation up to and including response `id`, if the sidecar holds it. */
  get(id: string): InputItem[] | undefined {
    return this.cache.get(id)?.items;
  }

  /** The response `id` as its client got it, if the sidecar holds it. */
  response(id: string): ResponseObject | undefined {
    return this.cache.get(id)?.response;
  }

  /**
   * The ids the input items that came without one are listed under (`input_items`), given when
   * the item is first held, by the response it came with and its place there (`msg_<response>i<n>`,
   * never an output item's): a later response whose history holds the same item lists it under
   * the same id.
   */
  private readonly inputIds = new WeakMap<object, string>();

  /** The id an input item is listed under: its own, or the one the sidecar gave it. */
  inputItemId(item: InputItem): string | undefined {
    const own = (item as { id?: unknown }).id;
    return typeof own === 'string' ? own : this.inputIds.get(item);
  }

  /** Keeps a response's conversation; one larger than the whole store is not kept. */
  put(id: string, items: InputItem[], response?: ResponseObject): void {
    items.forEach((item, n) => {
      if (typeof (item as { id?: unknown }).id === 'string' || this.inputIds.has(item)) return;
      this.inputIds.set(item, `${(item.type ?? 'message') === 'message' ? 'msg' : 'item'}_${id.slice('resp_'.length)}i${n}`);
    });
    this.cache.set(id, response ? { items, response } : { items });
    for (const item of response?.output ?? []) if (typeof item.id === 'string') this.owners.set(item.id, id);
  }

  /** Notes the tokens of response `id`'s conversation (see `sizes`). */
  noteSize(id: string, tokens: number): void {
    this.sizes.set(id, tokens);
  }

  /** The tokens of response `id`'s conversation, when the sidecar saw it answered. */
  sizeOf(id: string): number | undefined {
    return this.sizes.get(id);
  }

  /** Forgets response `id` (`responses.delete`); false when it was not held. */
  delete(id: string): boolean {
    return this.cache.delete(id);
  }
}
