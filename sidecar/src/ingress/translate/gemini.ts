/**
 * The Gemini API served through the canonical form, for a Gemini client whose model is served by
 * a provider of another type (a Gemini provider takes the request natively). Request in,
 * canonical request out; canonical completion in, GenerateContentResponse out, and canonical
 * chunks in, Gemini SSE out (./gemini-output.ts).
 *
 * - `systemInstruction` becomes the first system message; `user` and `model` turns become user and
 *   assistant messages; a `functionResponse` part becomes a tool message whose `tool_call_id` is
 *   the id of the earlier `functionCall` it answers (by `id` when the client kept one, else the
 *   oldest unanswered call of that name), since Gemini calls carry no ids of their own;
 * - `inlineData` images become data URLs, PDFs file parts, wav/mp3 audio input_audio parts;
 *   the media of a multimodal function response (Gemini 3's `functionResponse.parts`, each after
 *   its displayName, which the response names by `{"$ref": ...}`) go in the user message after the
 *   tool messages, as tool messages take text only (wire/tool-attachments.ts); media beside a
 *   functionResponse in the same turn go there too, as the turn's own parts;
 *   `fileData` only as an https image URL (Files API and gs:// URIs only Gemini can read);
 * - thought parts of earlier model turns become `reasoning_content`; a thought signature the
 *   sidecar made from Claude's signed thinking becomes its `thinking_blocks` again, Gemini's own
 *   are dropped (only Gemini checks them);
 * - function declarations become tools (`parametersJsonSchema`, else `parameters`, Gemini's
 *   Schema made JSON Schema); `functionCallingConfig` becomes tool_choice;
 *   generationConfig maps to the sampling fields, JSON mode to response_format, thinkingBudget to
 *   the canonical thinking budget. Code execution, grounding and cached content are refused.
 */
import { providerError } from '../../providers/shared/errors.js';
import { TranslationError } from '../../providers/types.js';
import { strictable } from '../../providers/openai/strict-schema.js';
import type { GeminiContent, GeminiPart, GenerateContentRequest } from '../../wire/gemini.js';
import type { AssistantMessage, ChatMessage, ChatRequest, ThinkingBlock, ToolChoice, UserContentPart } from '../../wire/openai.js';
import { openThinking } from '../../wire/responses.js';
import { attachToResult } from '../../wire/tool-attachments.js';

function refuse(what: string, param: string): TranslationError {
  return new TranslationError(providerError(400, `${what} can only be served by a Gemini provider`, 'unsupported_for_provider', param));
}

/** A Gemini request for `model` as a canonical chat request. */
export function geminiToChat(request: GenerateContentRequest, model: string, stream: boolean): ChatRequest {
  const messages: ChatMessage[] = [];
  const system = request.systemInstruction?.parts.map((p) => p.text ?? '').join('\n');
  if (system) messages.push({ role: 'system', content: system });
  const pending = new Map<string, string[]>();
  let calls = 0;
  request.contents.forEach((content, i) => {
    const param = `contents[${i}]`;
    if (content.role === 'model') messages.push(modelTurn(content, param, pending, () => `call_${i}_${calls++}`));
    else userTurn(messages, content, param, pending);
  });

  const chat: ChatRequest = { model, messages };
  const declarations = (request.tools ?? []).flatMap((tool, i) => {
    const other = Object.keys(tool).find((k) => k !== 'functionDeclarations');
    if (other) throw refuse(`the ${other} tool`, `tools[${i}]`);
    return tool.functionDeclarations ?? [];
  });
  if (declarations.length > 0) {
    chat.tools = declarations.map((d) => ({
      type: 'function',
      function: { name: d.name, ...(d.description ? { description: d.description } : {}), parameters: d.parametersJsonSchema ?? jsonSchemaOf(d.parameters ?? { type: 'object', properties: {} }) },
    }));
  }
  const calling = request.toolConfig?.functionCallingConfig;
  const allowed = calling?.mode === 'ANY' || calling?.mode === 'VALIDATED' ? (calling.allowedFunctionNames ?? undefined) : undefined;
  const undeclared = allowed?.find((name) => !declarations.some((d) => d.name === name));
  if (undeclared !== undefined) {
    throw new TranslationError(providerError(400, `allowedFunctionNames names '${undeclared}', which is no declared function`, 'invalid_request_error', 'toolConfig.functionCallingConfig.allowedFunctionNames'));
  }
  if (calling?.mode) chat.tool_choice = toolChoice(calling.mode, allowed);
  // Allowed functions: only they are offered (OpenAI's and Anthropic's "any tool" cannot name a
  // few, and VALIDATED lets the model answer in text too).
  if (allowed && (allowed.length > 1 || calling?.mode === 'VALIDATED') && chat.tools) chat.tools = chat.tools.filter((t) => allowed.includes(t.function.name));
  if (request.cachedContent) throw refuse('cachedContent', 'cachedContent');
  const config = request.generationConfig;
  if (config) {
    if (config.temperature != null) chat.temperature = config.temperature;
    if (config.topP != null) chat.top_p = config.topP;
    if (config.topK != null) chat.top_k = Math.round(config.topK);
    if (config.maxOutputTokens != null) chat.max_tokens = config.maxOutputTokens;
    if (config.stopSequences?.length) chat.stop = config.stopSequences;
    if (config.candidateCount != null) chat.n = config.candidateCount;
    if (config.seed != null) chat.seed = config.seed;
    if (config.presencePenalty != null) chat.presence_penalty = config.presencePenalty;
    if (config.frequencyPenalty != null) chat.frequency_penalty = config.frequencyPenalty;
    // Enum mode: the answer is one of the schema's values. Elsewhere no decoding holds a bare
    // value, so the model is told (asked, not constrained).
    const values = config.responseMimeType === 'text/x.enum' ? (config.responseSchema?.enum ?? config.responseJsonSchema?.enum) : undefined;
    if (Array.isArray(values) && values.length > 0) {
      chat.messages.push({ role: 'system', content: `Answer with exactly one of these values and nothing else: ${values.map((v) => JSON.stringify(v)).join(', ')}.` });
    }
    if (config.responseMimeType === 'application/json') {
      // Gemini constrains decoding to the schema; so does OpenAI where strict mode takes it. A
      // Gemini Schema's objects have only the properties they declare.
      const schema = config.responseJsonSchema ?? (config.responseSchema ? jsonSchemaOf(config.responseSchema, true) : undefined);
      chat.response_format = schema ? { type: 'json_schema', json_schema: { name: 'response', schema, ...(strictable(schema) ? { strict: true } : {}) } } : { type: 'json_object' };
    }
    const { thinkingBudget: budget, thinkingLevel: level } = config.thinkingConfig ?? {};
    if (budget != null && budget > 0) chat.thinking = { type: 'enabled', budget_tokens: budget };
    else if (budget === 0) chat.reasoning_effort = 'minimal';
    // -1: the model decides how much (dynamic thinking): the middle of the table.
    else if (budget === -1) chat.reasoning_effort = 'medium';
    // Gemini 3's level (LOW, MEDIUM, HIGH, MINIMAL) is an effort of the same names.
    else if (level && LEVELS[level.toUpperCase()]) chat.reasoning_effort = LEVELS[level.toUpperCase()];
  }
  if (stream) {
    chat.stream = true;
    chat.stream_options = { include_usage: true };
  }
  return chat;
}

function modelTurn(content: GeminiContent, param: string, pending: Map<string, string[]>, nextId: () => string): AssistantMessage {
  const message: AssistantMessage = { role: 'assistant', content: null };
  let text = '';
  let thoughts = '';
  // Claude's signed thinking, which the sidecar gave as a thought signature (./gemini-output.ts).
  const blocks = content.parts.flatMap((part) => sealedThinking(part.thoughtSignature));
  if (blocks.length > 0) message.thinking_blocks = blocks;
  content.parts.forEach((part, j) => {
    if (part.functionCall) {
      const id = part.functionCall.id ?? nextId();
      pending.set(part.functionCall.name, [...(pending.get(part.functionCall.name) ?? []), id]);
      message.tool_calls = [...(message.tool_calls ?? []), { id, type: 'function', function: { name: part.functionCall.name, arguments: JSON.stringify(part.functionCall.args ?? {}) } }];
    } else if (typeof part.text === 'string') {
      if (part.thought) thoughts += part.text;
      else text += part.text;
    } else if (!part.thoughtSignature) throw refuse(`${partKind(part)} parts`, `${param}.parts[${j}]`);
  });
  if (text) message.content = text;
  if (thoughts) message.reasoning_content = thoughts;
  return message;
}

/** The thinking blocks a thought signature the sidecar made carries; none for Gemini's own. */
export function sealedThinking(signature: string | null | undefined): ThinkingBlock[] {
  if (!signature) return [];
  // bytes in the API: base64, or URL-safe base64 (google-genai for Python).
  return openThinking(Buffer.from(signature, 'base64').toString('latin1'));
}

function userTurn(out: ChatMessage[], content: GeminiContent, param: string, pending: Map<string, string[]>): void {
  const parts: UserContentPart[] = [];
  content.parts.forEach((part, j) => {
    const where = `${param}.parts[${j}]`;
    if (part.functionResponse) {
      const { name, id, response } = part.functionResponse;
      const queue = pending.get(name) ?? [];
      const callId = id && queue.includes(id) ? id : queue[0];
      if (callId === undefined) throw new TranslationError(providerError(400, `functionResponse ${name} answers no earlier functionCall`, 'invalid_request_error', where));
      pending.set(name, queue.filter((q) => q !== callId));
      const error = response?.error;
      const result = response && 'output' in response ? response.output : error !== undefined ? error : response;
      const text = typeof result === 'string' ? result : JSON.stringify(result ?? {});
      const media = responseMedia(part.functionResponse.parts ?? [], `${where}.functionResponse`);
      const attached = media.length > 0 ? attachToResult(callId, media, part.functionResponse.parts?.length) : undefined;
      out.push({ role: 'tool', tool_call_id: callId, content: attached ? [{ type: 'text', text }, attached.note] : text, ...(error !== undefined ? { is_error: true } : {}) });
      if (attached) parts.push(...attached.parts);
    } else if (typeof part.text === 'string') {
      if (part.text) parts.push({ type: 'text', text: part.text });
    } else if (part.inlineData) {
      parts.push(inlinePart(part.inlineData, where));
    } else if (part.fileData && /^https:\/\//.test(part.fileData.fileUri) && (part.fileData.mimeType ?? 'image/').startsWith('image/')) {
      parts.push({ type: 'image_url', image_url: { url: part.fileData.fileUri } });
    } else {
      throw refuse(`${partKind(part)} parts`, where);
    }
  });
  if (parts.length > 0) out.push({ role: 'user', content: parts });
}

/**
 * The media of a multimodal function response (`functionResponse.parts`), each named by its
 * displayName, which the response's `{"$ref": ...}` uses.
 */
function responseMedia(parts: NonNullable<NonNullable<GeminiPart['functionResponse']>['parts']>, param: string): UserContentPart[] {
  return parts.flatMap((part, k): UserContentPart[] => {
    const at = `${param}.parts[${k}]`;
    if (!part.inlineData) throw refuse(`${partKind(part)} parts inside a functionResponse`, at);
    const media = inlinePart(part.inlineData, `${at}.inlineData`);
    return part.inlineData.displayName ? [{ type: 'text', text: `${part.inlineData.displayName}:` }, media] : [media];
  });
}

function inlinePart(data: { mimeType: string; data: string }, param: string): UserContentPart {
  const { mimeType } = data;
  if (mimeType.startsWith('image/')) return { type: 'image_url', image_url: { url: `data:${mimeType};base64,${data.data}` } };
  if (mimeType === 'application/pdf') return { type: 'file', file: { file_data: `data:${mimeType};base64,${data.data}` } };
  const audio = /^audio\/(wav|x-wav|mp3|mpeg)$/.exec(mimeType)?.[1];
  if (audio) return { type: 'input_audio', input_audio: { data: data.data, format: audio === 'mpeg' || audio === 'mp3' ? 'mp3' : 'wav' } };
  throw refuse(`inlineData of type ${mimeType}`, param);
}

function partKind(part: GeminiPart): string {
  return Object.keys(part).find((k) => k !== 'thoughtSignature' && k !== 'thought') ?? 'empty';
}

/** Gemini 3's thinking levels as the canonical efforts of the same names. */
const LEVELS: Readonly<Record<string, string>> = { MINIMAL: 'minimal', LOW: 'low', MEDIUM: 'medium', HIGH: 'high' };

function toolChoice(mode: string, allowed: string[] | undefined): ToolChoice {
  if (mode === 'NONE') return 'none';
  if (mode === 'ANY') return allowed?.length === 1 ? { type: 'function', function: { name: allowed[0]! } } : 'required';
  return 'auto';
}

/**
 * A Gemini Schema (its OpenAPI subset, field names already lowerCamelCase: wire/gemini.ts) as JSON
 * Schema: types in lower case (Gemini spells them STRING, OBJECT), `nullable` as a `null` type,
 * `example` as `examples`; `propertyOrdering` (Gemini's own) dropped. The keys of `properties`
 * are the client's names, kept whatever they are.
 */
function jsonSchemaOf(schema: Record<string, unknown>, closed = false): Record<string, unknown> {
  const entries: [string, unknown][] = [];
  for (const [key, value] of Object.entries(schema)) {
    if (key === 'propertyOrdering' || key === 'nullable') continue;
    if (key === 'type' && typeof value === 'string') entries.push([key, value.toLowerCase()]);
    else if (key === 'example') entries.push(['examples', [value]]);
    else if (key === 'properties' && isObject(value)) entries.push([key, Object.fromEntries(Object.entries(value).map(([name, v]) => [name, isObject(v) ? jsonSchemaOf(v, closed) : v]))]);
    else if (key === 'items' && isObject(value)) entries.push([key, jsonSchemaOf(value, closed)]);
    else if (key === 'anyOf' && Array.isArray(value)) entries.push([key, value.map((v: unknown) => (isObject(v) ? jsonSchemaOf(v, closed) : v))]);
    else entries.push([key, value]);
  }
  const out = Object.fromEntries(entries);
  if (closed && isObject(out.properties)) out.additionalProperties = false;
  if (schema.nullable === true) {
    if (typeof out.type === 'string') out.type = [out.type, 'null'];
    else if (Array.isArray(out.anyOf)) out.anyOf = [...(out.anyOf as unknown[]), { type: 'null' }];
  }
  return out;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
