/**
 * Media a tool result carries (an Anthropic tool_result's images and documents, a Gemini
 * functionResponse's `parts`) in the canonical form, whose tool messages take text only as
 * OpenAI's do: the media go in the user message after the tool messages, headed by the words
 * "result of <id>:", and the result's text says so. Every provider type takes them there; an
 * Anthropic provider gets them in the same user turn as the tool_result, after it.
 */
import type { TextPart, UserContentPart } from '../../wire/openai.js';

/**
 * The note for the tool message's text and the parts for the user message, for a result with
 * `attached` media (`count` of them: labels among the parts are not counted).
 */
export function attachToResult(id: string, attached: UserContentPart[], count = attached.length): { note: TextPart; parts: UserContentPart[] } {
  const what = count === 1 ? 'an attachment' : `${count} attachments`;
  return {
    note: { type: 'text', text: `[${what} of this result: in the next user message, after the words "result of ${id}"]` },
    parts: [{ type: 'text', text: `result of ${id}:` }, ...attached],
  };
}
