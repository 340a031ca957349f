/**
 * Media a tool result carries (an Anthropic tool_result's images and documents, a Gemini
 * functionResponse's `parts`) in the canonical form, whose tool messages take text only as
 * OpenAI's do: the media go in the user message after the tool messages, headed by the words
 * "result of <id>:", and the result's text says so. OpenAI-format and Ollama providers take them
 * there. Each moved part is marked with its call's id ({@link resultMediaOf}), so a provider
 * whose tool results take media (Anthropic's tool_result content) puts them back inside.
 */
import type { TextPart, UserContentPart } from './openai.js';

/** The role of a marked part: the note in the tool message, the label, or the media themselves (and their names). */
type Role = 'note' | 'label' | 'media';

/**
 * The call id on each part `attachToResult` made, by the part's identity: nothing on the part
 * itself, so no JSON body and no comparison of parts sees it.
 */
const RESULT_OF = new WeakMap<object, { id: string; role: Role }>();

function mark<T extends object>(part: T, id: string, role: Role): T {
  RESULT_OF.set(part, { id, role });
  return part;
}

/**
 * The note for the tool message's text and the parts for the user message, for a result with
 * `attached` media (`count` of them: labels among the parts are not counted).
 */
export function attachToResult(id: string, attached: UserContentPart[], count = attached.length): { note: TextPart; parts: UserContentPart[] } {
  const what = count === 1 ? 'an attachment' : `${count} attachments`;
  return {
    note: mark({ type: 'text', text: `[${what} of this result: in the next user message, after the words "result of ${id}"]` }, id, 'note'),
    parts: [mark({ type: 'text', text: `result of ${id}:` }, id, 'label'), ...attached.map((part) => mark(part, id, 'media'))],
  };
}

/**
 * What `attachToResult` made `part` for: the call id and whether it is the tool message's note,
 * the user message's label, or one of the media (with the names before them); undefined for
 * every other part.
 */
export function resultMediaOf(part: object): { id: string; role: Role } | undefined {
  return RESULT_OF.get(part);
}
