import { describe, expect, it } from 'vitest';
import type { InputItem, ResponseObject } from '../wire/responses.js';
import { MAX_CHARS, MAX_ITEM_IDS, ReferencesTooLarge, ResponseStore } from './responses-store.js';

const answer = { type: 'message', id: 'msg_held', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: 'held answer', annotations: [] }] };
const call = { type: 'function_call', id: 'fc_held', call_id: 'call_1', name: 'w', arguments: '{}', status: 'completed' };

describe('ResponseStore.resolve', () => {
  it('puts the held output item in place of its item_reference, and leaves the others', () => {
    const store = new ResponseStore();
    store.put('resp_1', [{ role: 'user', content: 'q' }], { id: 'resp_1', output: [answer, call] } as unknown as ResponseObject);
    const items = [{ role: 'user', content: 'q' }, { type: 'item_reference', id: 'msg_held' }, { type: 'item_reference', id: 'fc_held' }, { type: 'item_reference', id: 'msg_openai' }] as InputItem[];
    expect(store.resolve(items)).toEqual([items[0], answer, call, { type: 'item_reference', id: 'msg_openai' }]);
  });

  it('puts its own reasoning item, as it made it, in place of one handed back bare (id, no encrypted_content); others stay', () => {
    const store = new ResponseStore();
    const reasoning = { type: 'reasoning', id: 'rs_held', summary: [{ type: 'summary_text', text: 't' }], encrypted_content: 'airlock:anthropic:e30' };
    store.put('resp_1', [{ role: 'user', content: 'q' }], { id: 'resp_1', output: [reasoning, call] } as unknown as ResponseObject);
    const bare = { type: 'reasoning', id: 'rs_held', summary: [] };
    const openai = { type: 'reasoning', id: 'rs_openai', summary: [] };
    const sealed = { type: 'reasoning', id: 'rs_held', summary: [], encrypted_content: 'gAAAAB-from-the-client' };
    expect(store.resolve([bare, openai, sealed] as InputItem[])).toEqual([reasoning, openai, sealed]);
  });

  it('gives back the same array when nothing is held, and forgets the items of a deleted response', () => {
    const store = new ResponseStore();
    store.put('resp_1', [], { id: 'resp_1', output: [answer] } as unknown as ResponseObject);
    store.delete('resp_1');
    const items = [{ type: 'item_reference', id: 'msg_held' }] as InputItem[];
    expect(store.resolve(items)).toBe(items);
  });

  it('refuses references whose items add up to more than it may add, counting a repeated one each time', () => {
    const store = new ResponseStore();
    store.put('resp_1', [], { id: 'resp_1', output: [answer] } as unknown as ResponseObject);
    const size = JSON.stringify(answer).length;
    const refs = (n: number) => Array.from({ length: n }, () => ({ type: 'item_reference', id: 'msg_held' }) as InputItem);
    expect(store.resolve(refs(3), 3 * size)).toEqual([answer, answer, answer]);
    expect(() => store.resolve(refs(4), 3 * size)).toThrow(ReferencesTooLarge);
    // References it does not hold cost nothing here: they go to OpenAI as they came.
    expect(store.resolve([...refs(1), { type: 'item_reference', id: 'msg_openai' } as InputItem], size)).toEqual([answer, { type: 'item_reference', id: 'msg_openai' }]);
  });
});

describe('ResponseStore item index', () => {
  it('holds at most MAX_ITEM_IDS output item ids, forgetting the least recently used first', () => {
    // Room for every conversation, so only the index's own bound is at work.
    const store = new ResponseStore(8 * MAX_CHARS);
    const message = (id: string) => ({ type: 'message', id });
    store.put('resp_first', [], { id: 'resp_first', output: [message('msg_first')] } as unknown as ResponseObject);
    store.put('resp_kept', [], { id: 'resp_kept', output: [message('msg_kept')] } as unknown as ResponseObject);
    // One response holding the rest of the index's room plus one: the first item id goes.
    const output = Array.from({ length: MAX_ITEM_IDS - 1 }, (_, i) => message(`msg_${i}`));
    // Used since: the least recently used id is now msg_first.
    store.resolve([{ type: 'item_reference', id: 'msg_kept' }] as InputItem[]);
    store.put('resp_many', [], { id: 'resp_many', output } as unknown as ResponseObject);
    const ref = (id: string) => [{ type: 'item_reference', id }] as InputItem[];
    expect(store.resolve(ref('msg_first'))).toEqual(ref('msg_first'));
    expect(store.resolve(ref('msg_kept'))).toEqual([message('msg_kept')]);
    expect(store.resolve(ref(`msg_${MAX_ITEM_IDS - 2}`))).toEqual([message(`msg_${MAX_ITEM_IDS - 2}`)]);
  });

  it('counts what held items take parsed, not only their text: items full of members translation drops fill it sooner (red team 19)', () => {
    const store = new ResponseStore();
    // 600,000 characters of `{},` each, ~13 MiB parsed: the first is gone after six, not after fifty.
    const item = () => ({ type: 'message', role: 'user', content: 'hi', x: Array.from({ length: 200_000 }, () => ({})) }) as unknown as InputItem;
    for (let i = 0; i < 6; i++) store.put(`resp_${i}`, [item()]);
    expect(store.get('resp_0')).toBeUndefined();
    expect(store.get('resp_5')).toBeDefined();
  });
});
