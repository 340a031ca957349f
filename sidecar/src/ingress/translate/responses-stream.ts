/**
 * A Responses event stream, as OpenAI documents it, from canonical chunks (a translated
 * provider) or from an OpenAI provider's own events (passed on, renumbered):
 * `response.created`, `response.in_progress`; per output item `response.output_item.added`, its
 * deltas (`response.output_text.delta` inside a content part, `response.function_call_arguments.delta`,
 * `response.reasoning_summary_text.delta` inside a summary part) and their `.done` events, then
 * `response.output_item.done`; finally `response.completed` (or `response.incomplete` when cut
 * short). Every event carries `sequence_number`; there is no `[DONE]`.
 */
import type { ChatCompletionChunk, FinishReason, ResponseThinkingBlock, Usage } from '../../wire/openai.js';
import { responsesErrorEvent, responsesSSE, type OutputItem, type ResponseObject, type ResponsesEvent, type ResponsesPassthrough } from '../../wire/responses.js';
import type { ProviderError } from '../../providers/types.js';
import { finishStatus, itemId, reasoningItem, responsesUsage } from './responses-output.js';
import { clientCallName } from './responses-namespaces.js';

/** What a Responses stream is made from. */
export type ResponsesStreamItem = ChatCompletionChunk | ResponsesPassthrough;

/** A stateful encoder for one stream; each method returns the SSE text to write (maybe ""). */
export interface ResponsesStreamEncoder {
  chunk(item: ResponsesStreamItem): string;
  end(): string;
  error(error: ProviderError): string;
}

type Open =
  | { kind: 'message'; index: number; text: string }
  | { kind: 'reasoning'; index: number; text: string; blocks: ResponseThinkingBlock[] }
  | { kind: 'call'; index: number; tool: number; id: string; name: string; args: string };

/**
 * An encoder. `shell` is the response object before output (its id, model and echoed request);
 * `onDone` receives the final response of a translated stream (for previous_response_id).
 */
export function responsesStreamEncoder(shell: ResponseObject, onDone?: (response: ResponseObject) => void): ResponsesStreamEncoder {
  let sequence = 0;
  let started = false;
  let open: Open | undefined;
  const output: OutputItem[] = [];
  let finish: FinishReason | null = null;
  let usage: Usage | null = null;
  let out = '';

  const write = (event: ResponsesEvent) => {
    out += responsesSSE(event, sequence++);
  };
  const start = () => {
    if (started) return;
    started = true;
    write({ type: 'response.created', response: shell });
    write({ type: 'response.in_progress', response: shell });
  };
  const close = () => {
    if (!open) return;
    const o = open;
    open = undefined;
    const id = itemOf(o);
    if (o.kind === 'message') {
      const part = { type: 'output_text' as const, text: o.text, annotations: [], logprobs: [] };
      write({ type: 'response.output_text.done', item_id: id, output_index: o.index, content_index: 0, text: o.text, logprobs: [] });
      write({ type: 'response.content_part.done', item_id: id, output_index: o.index, content_index: 0, part });
      output[o.index] = { type: 'message', id, status: 'completed', role: 'assistant', content: [part] };
    } else if (o.kind === 'reasoning') {
      if (o.text) {
        write({ type: 'response.reasoning_summary_text.done', item_id: id, output_index: o.index, summary_index: 0, text: o.text });
        write({ type: 'response.reasoning_summary_part.done', item_id: id, output_index: o.index, summary_index: 0, part: { type: 'summary_text', text: o.text } });
      }
      output[o.index] = reasoningItem(id, o.text, o.blocks);
    } else {
      const named = clientCallName(shell.tools, o.name);
      write({ type: 'response.function_call_arguments.done', item_id: id, output_index: o.index, name: named.name, arguments: o.args });
      output[o.index] = { type: 'function_call', id, call_id: o.id, ...named, arguments: o.args, status: 'completed' };
    }
    write({ type: 'response.output_item.done', output_index: o.index, item: output[o.index] });
  };
  const itemOf = (o: Open) => itemId(o.kind === 'message' ? 'msg' : o.kind === 'reasoning' ? 'rs' : 'fc', shell.id, o.index);
  const openItem = (o: Open, item: OutputItem) => {
    close();
    open = o;
    output[o.index] = item;
    write({ type: 'response.output_item.added', output_index: o.index, item });
  };

  const reasoning = (delta: string, blocks: ResponseThinkingBlock[] | undefined) => {
    if (open?.kind !== 'reasoning') {
      const o: Open = { kind: 'reasoning', index: output.length, text: '', blocks: [] };
      openItem(o, { type: 'reasoning', id: itemOf(o), summary: [] });
    }
    const o = open as Extract<Open, { kind: 'reasoning' }>;
    if (delta) {
      if (!o.text) write({ type: 'response.reasoning_summary_part.added', item_id: itemOf(o), output_index: o.index, summary_index: 0, part: { type: 'summary_text', text: '' } });
      o.text += delta;
      write({ type: 'response.reasoning_summary_text.delta', item_id: itemOf(o), output_index: o.index, summary_index: 0, delta });
    }
    if (blocks) o.blocks.push(...blocks);
  };
  const text = (delta: string) => {
    if (open?.kind !== 'message') {
      const o: Open = { kind: 'message', index: output.length, text: '' };
      const id = itemOf(o);
      openItem(o, { type: 'message', id, status: 'in_progress', role: 'assistant', content: [] });
      write({ type: 'response.content_part.added', item_id: id, output_index: o.index, content_index: 0, part: { type: 'output_text', text: '', annotations: [], logprobs: [] } });
    }
    const o = open as Extract<Open, { kind: 'message' }>;
    o.text += delta;
    write({ type: 'response.output_text.delta', item_id: itemOf(o), output_index: o.index, content_index: 0, delta, logprobs: [] });
  };
  const take = () => {
    const text = out;
    out = '';
    return text;
  };

  const canonical = (chunk: ChatCompletionChunk) => {
    start();
    if (chunk.usage) usage = chunk.usage;
    const choice = chunk.choices.find((c) => c.index === 0);
    if (!choice) return;
    const delta = choice.delta;
    if (delta.reasoning_content || delta.thinking_blocks?.length) reasoning(delta.reasoning_content ?? '', delta.thinking_blocks);
    if (delta.content) text(delta.content);
    for (const call of delta.tool_calls ?? []) {
      if (call.id) {
        const o: Open = { kind: 'call', index: output.length, tool: call.index, id: call.id, name: call.function?.name ?? '', args: '' };
        openItem(o, { type: 'function_call', id: itemOf(o), call_id: o.id, ...clientCallName(shell.tools, o.name), arguments: '', status: 'in_progress' });
      }
      const fragment = call.function?.arguments ?? '';
      // OpenAI streams one call after another; a fragment for a closed call has nowhere to go.
      if (fragment && open?.kind === 'call' && open.tool === call.index) {
        open.args += fragment;
        write({ type: 'response.function_call_arguments.delta', item_id: itemOf(open), output_index: open.index, delta: fragment });
      }
    }
    if (choice.finish_reason) {
      finish = choice.finish_reason;
      close();
    }
  };

  return {
    chunk(item) {
      if ('passthrough' in item) write(item.passthrough);
      else canonical(item);
      return take();
    },
    end() {
      if (!started) return '';
      close();
      const final: ResponseObject = { ...shell, ...finishStatus(finish), output: [...output], usage: responsesUsage(usage) };
      write({ type: final.status === 'completed' ? 'response.completed' : 'response.incomplete', response: final });
      onDone?.(final);
      return take();
    },
    error(error) {
      write(responsesErrorEvent(error));
      return take();
    },
  };
}
