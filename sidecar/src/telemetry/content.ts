/**
 * Opt-in message content on model-call spans (`telemetry.captureMessageContent`), in the shape of
 * the OpenTelemetry GenAI conventions' content attributes: `gen_ai.system_instructions`,
 * `gen_ai.input.messages` and `gen_ai.output.messages`, each a JSON string of
 * `{role, parts: [{type: 'text', content} | {type: 'tool_call', id, name, arguments} |
 * {type: 'tool_call_response', id, response}]}` (the instructions: the parts alone).
 *
 * Content is read from the canonical chat request (every ingress can give one) and from the
 * canonical result or stream chunks, whatever the client's API: the attributes look the same for
 * an OpenAI, Anthropic, Gemini or Responses client. Every text goes through the redaction module
 * before it is set, so a key pasted into a prompt never reaches a span.
 */
import type { ChatMessage, ChatRequest } from '../wire/openai.js';

/** One part of a message, as the conventions name them. */
export type MessagePart =
  | { type: 'text'; content: string }
  | { type: 'tool_call'; id: string; name: string; arguments: unknown }
  | { type: 'tool_call_response'; id: string; response: string };

/** A message as the conventions shape it. */
export interface GenAiMessage {
  role: string;
  parts: MessagePart[];
  finish_reason?: string;
}

const textOf = (content: unknown): string => {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return (content as { type?: unknown; text?: unknown; refusal?: unknown }[])
    .map((p) => (typeof p.text === 'string' ? p.text : typeof p.refusal === 'string' ? p.refusal : ''))
    .join('');
};

/** Tool arguments as the model wrote them: parsed when they are JSON, else the text. */
function argumentsOf(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function partsOf(message: ChatMessage): MessagePart[] {
  const parts: MessagePart[] = [];
  if (message.role === 'tool') return [{ type: 'tool_call_response', id: message.tool_call_id, response: textOf(message.content) }];
  const text = textOf(message.content);
  if (text) parts.push({ type: 'text', content: text });
  if (message.role === 'assistant') {
    for (const call of message.tool_calls ?? []) parts.push({ type: 'tool_call', id: call.id, name: call.function.name, arguments: argumentsOf(call.function.arguments) });
  }
  return parts;
}

/** The request's system instructions and chat history, split as the conventions want them. */
export function inputContent(request: Pick<ChatRequest, 'messages'>): { system: MessagePart[]; messages: GenAiMessage[] } {
  const system: MessagePart[] = [];
  const messages: GenAiMessage[] = [];
  for (const message of request.messages) {
    if (message.role === 'system' || message.role === 'developer') system.push(...partsOf(message));
    else messages.push({ role: message.role, parts: partsOf(message) });
  }
  return { system, messages };
}

interface ChoiceLike {
  index?: number;
  message?: { content?: unknown; tool_calls?: { id?: string; function?: { name?: string; arguments?: string } }[] | null };
  delta?: { content?: unknown; tool_calls?: { index?: number; id?: string; function?: { name?: string; arguments?: string } }[] | null };
  text?: unknown;
  finish_reason?: unknown;
}

interface Pending {
  text: string;
  calls: { id: string; name: string; arguments: string }[];
  finish?: string;
}

/**
 * The answer's content, gathered from a canonical result (chat completion, text completion,
 * Responses object) or from each canonical stream chunk in turn.
 */
export class OutputContent {
  private readonly choices = new Map<number, Pending>();

  private choice(index: number): Pending {
    let pending = this.choices.get(index);
    if (!pending) this.choices.set(index, (pending = { text: '', calls: [] }));
    return pending;
  }

  /** Adds a result or a chunk; anything without content is passed over. */
  add(value: unknown): void {
    if (typeof value !== 'object' || value === null) return;
    const { choices, output, type, delta } = value as { choices?: unknown; output?: unknown; type?: unknown; delta?: unknown };
    if (Array.isArray(choices)) for (const [i, c] of (choices as ChoiceLike[]).entries()) this.addChoice(c.index ?? i, c);
    // A Responses object's output items, and a Responses stream's text deltas.
    if (Array.isArray(output)) this.addResponseItems(output as { type?: string; content?: unknown; call_id?: string; name?: string; arguments?: string }[]);
    if (type === 'response.output_text.delta' && typeof delta === 'string') this.choice(0).text += delta;
  }

  private addChoice(index: number, c: ChoiceLike): void {
    const pending = this.choice(index);
    if (typeof c.text === 'string') pending.text += c.text;
    const source = c.message ?? c.delta;
    if (source) {
      pending.text += textOf(source.content);
      for (const [i, call] of (source.tool_calls ?? []).entries()) {
        const at = 'index' in call && typeof call.index === 'number' ? call.index : i;
        const known = (pending.calls[at] ??= { id: '', name: '', arguments: '' });
        known.id ||= call.id ?? '';
        known.name ||= call.function?.name ?? '';
        known.arguments += call.function?.arguments ?? '';
      }
    }
    if (typeof c.finish_reason === 'string') pending.finish = c.finish_reason;
  }

  private addResponseItems(items: { type?: string; content?: unknown; call_id?: string; name?: string; arguments?: string }[]): void {
    const pending = this.choice(0);
    // A streamed Responses call also ends with the whole object: its text replaces the deltas.
    pending.text = '';
    pending.calls = [];
    for (const item of items) {
      if (item.type === 'message') pending.text += textOf(item.content);
      if (item.type === 'function_call') pending.calls.push({ id: item.call_id ?? '', name: item.name ?? '', arguments: item.arguments ?? '' });
    }
  }

  /** The output messages, one per choice. */
  messages(): GenAiMessage[] {
    return [...this.choices.entries()]
      .sort(([a], [b]) => a - b)
      .map(([, p]) => ({
        role: 'assistant',
        parts: [
          ...(p.text ? [{ type: 'text' as const, content: p.text }] : []),
          ...p.calls.filter(Boolean).map((c) => ({ type: 'tool_call' as const, id: c.id, name: c.name, arguments: argumentsOf(c.arguments) })),
        ],
        ...(p.finish ? { finish_reason: p.finish } : {}),
      }));
  }
}

/**
 * The most characters (UTF-16 code units) one content attribute holds. The prompt is the agent's
 * to size (up to `listen.maxBodyBytes`), and a span holds its attributes until it is exported:
 * whole, twelve 20 MiB prompts made one 240 MiB export, which a collector refuses whole (its
 * default `max_request_body_size` is 20 MiB), and took the sidecar 400 MiB higher. Three
 * attributes of 16 Ki characters are at most 144 KiB of UTF-8 a span, so a batch of
 * {@link ./tracing.ts}'s 128 spans stays under the collector's 20 MiB.
 */
export const MAX_CONTENT_CHARS = 16 * 1024;

/** What ends a cut attribute value. */
export const CUT_MARKER = '…[cut: the content went on]';

/**
 * `text` cut to `max` characters, ending with {@link CUT_MARKER} (so the value is no longer valid
 * JSON: what was cut is visible, not silently lost). Never splits a surrogate pair.
 */
export function cutContent(text: string, max = MAX_CONTENT_CHARS): string {
  if (text.length <= max) return text;
  let kept = max - CUT_MARKER.length;
  const last = text.charCodeAt(kept - 1);
  if (last >= 0xd800 && last <= 0xdbff) kept -= 1;
  return text.slice(0, kept) + CUT_MARKER;
}

/**
 * `value` with its strings, arrays and objects left off once `budget.left` characters of strings
 * and keys are taken: what lies past them in its JSON text lies past that many characters too.
 */
function clipped(value: unknown, budget: { left: number }): unknown {
  if (typeof value === 'string') {
    const kept = value.length > budget.left ? value.slice(0, budget.left) : value;
    budget.left -= kept.length;
    return kept;
  }
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    for (const item of value as unknown[]) {
      if (budget.left <= 0) break;
      out.push(clipped(item, budget));
    }
    return out;
  }
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      if (budget.left <= 0) break;
      budget.left -= key.length;
      out[key] = clipped(item, budget);
    }
    return out;
  }
  budget.left -= 1;
  return value;
}

/**
 * The content attributes of a call, each JSON text passed through `redact` (the sidecar's
 * redaction: known secrets and key-shaped tokens), then cut to {@link MAX_CONTENT_CHARS}.
 *
 * The cut comes after the redaction, so no key is cut in two where the redactor no longer knows
 * it. Only the first 2 × MAX_CONTENT_CHARS characters of the messages are written out and
 * redacted, not a prompt of many MiB (a copy or two of it each, which took a sidecar fed 20 MiB
 * prompts 240 MiB higher): a key cut at that far end lies wholly past the final cut unless it is
 * longer than MAX_CONTENT_CHARS. Empty lists are left out.
 */
export function contentAttributes(
  input: ReturnType<typeof inputContent> | undefined,
  output: GenAiMessage[],
  redact: (text: string) => string,
): Record<string, string> {
  const attributes: Record<string, string> = {};
  const set = (name: string, value: unknown[]) => {
    if (value.length > 0) attributes[name] = cutContent(redact(JSON.stringify(clipped(value, { left: 2 * MAX_CONTENT_CHARS }))));
  };
  if (input) {
    set('gen_ai.system_instructions', input.system);
    set('gen_ai.input.messages', input.messages);
  }
  set('gen_ai.output.messages', output);
  return attributes;
}
