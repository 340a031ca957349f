/**
 * Canonical request → Gemini generateContent body.
 *
 * - system and developer messages, wherever they are, become `systemInstruction`;
 * - roles are user and model; a tool result is a user `functionResponse` part, which needs the
 *   function name: it is looked up from the assistant tool call with the same id. Consecutive
 *   turns of one role are merged, so parallel results travel together as Gemini expects;
 * - images: `data:` URLs become `inlineData`; other URLs become `fileData` (Files API and other
 *   URIs Gemini accepts); audio and PDF file parts become `inlineData` too;
 * - tool parameters and json_schema go as JSON Schema (`parametersJsonSchema`,
 *   `responseJsonSchema`), not as Gemini's OpenAPI subset, so schemas with `additionalProperties`
 *   (which OpenAI strict mode requires) are accepted unchanged;
 * - with tools, JSON mode on Gemini 2 and older (which refuse function calling with a JSON
 *   response type) is a system instruction instead;
 * - tool_choice required → ANY, a named function → ANY restricted to that name; Gemini has no
 *   switch for parallel calls; penalties of 0 are left out (some Gemini models refuse any penalty);
 *   `user`, logit_bias and logprobs are dropped; n > 1 is refused;
 * - a thinking budget (`thinking.budget_tokens`, else `reasoning_effort` through the shared table)
 *   becomes `thinkingConfig {thinkingBudget, includeThoughts}`; earlier turns' reasoning text is
 *   not sent back (Gemini keeps its reasoning in thought signatures, which it checks);
 * - `is_error` on a tool message sends the result as the function response's `error`, not `output`.
 */
import type { AssistantMessage, ChatRequest, ToolChoice, UserContentPart } from '../../wire/openai.js';
import { jsonInstruction, parseArguments, parseDataURL, requireSingleChoice, stopList, textOf, toolNamesById } from '../shared/content.js';
import { untranslatable } from '../shared/errors.js';
import { thinkingBudget } from '../shared/reasoning.js';
import { enforcesSignatures, SKIP_SIGNATURE, signatureFromId } from './signature.js';

/**
 * The thinking budgets each Gemini 2.5 model takes (Google's thinking guide): 2.5 Pro 128–32,768
 * and never none; Flash 0–24,576; Flash-Lite 512–24,576 or 0. A budget outside is a 400, so it
 * is brought within: reasoning_effort minimal (0) on 2.5 Pro becomes its least, xhigh (32,768)
 * on Flash its most. Other models take what is asked.
 */
const BUDGET_RANGES: { pattern: RegExp; least: number; most: number; canStop: boolean }[] = [
  { pattern: /^gemini-2\.5-pro/, least: 128, most: 32_768, canStop: false },
  { pattern: /^gemini-2\.5-flash-lite/, least: 512, most: 24_576, canStop: true },
  { pattern: /^gemini-2\.5-flash/, least: 1, most: 24_576, canStop: true },
];

function withinRange(budget: number, model: string): number {
  const range = BUDGET_RANGES.find((r) => r.pattern.test(model));
  if (!range) return budget;
  if (budget <= 0) return range.canStop ? 0 : range.least;
  return Math.min(range.most, Math.max(range.least, budget));
}

/** Gemini takes at most 5 stop sequences (400 past that). */
const GEMINI_MAX_STOP = 5;

const PROVIDER = 'gemini';

type Part = Record<string, unknown>;
interface Content {
  role: 'user' | 'model';
  parts: Part[];
}

/** The generateContent body for a canonical request. */
export function toGeminiRequest(request: ChatRequest, model: string): Record<string, unknown> {
  requireSingleChoice(PROVIDER, request.n);
  const names = toolNamesById(request.messages);
  const sentinel = enforcesSignatures(model);
  const system: Part[] = [];
  const contents: Content[] = [];
  request.messages.forEach((message, i) => {
    switch (message.role) {
      case 'system':
      case 'developer': {
        const text = textOf(message.content);
        if (text) system.push({ text });
        break;
      }
      case 'user':
        append(contents, 'user', typeof message.content === 'string' ? textParts(message.content) : message.content.flatMap((p, j) => userPart(p, `messages[${i}].content[${j}]`)));
        break;
      case 'assistant':
        append(contents, 'model', modelParts(message, i, sentinel));
        break;
      case 'tool': {
        const name = names.get(message.tool_call_id);
        if (name === undefined) {
          throw untranslatable(PROVIDER, `tool_call_id ${JSON.stringify(message.tool_call_id)} matches no earlier assistant tool call`, `messages[${i}].tool_call_id`);
        }
        // Gemini documents `output` (and `error`) as the keys of a function response.
        append(contents, 'user', [{ functionResponse: { name, response: { [message.is_error ? 'error' : 'output']: textOf(message.content) } } }]);
        break;
      }
    }
  });

  // Gemini 2 and older refuse function calling with a JSON response type: with tools, the schema
  // goes as an instruction (asked, not constrained). Gemini 3 takes both.
  const jsonAsked = request.tools?.length && /^(models\/)?gemini-[12][.-]/.test(model) ? jsonInstruction(request.response_format) : undefined;
  if (jsonAsked) system.push({ text: jsonAsked });
  const body: Record<string, unknown> = { contents };
  if (system.length > 0) body.systemInstruction = { parts: system };
  if (request.tools?.length) {
    body.tools = [
      {
        functionDeclarations: request.tools.map((t) => ({
          name: t.function.name,
          ...(t.function.description ? { description: t.function.description } : {}),
          ...(t.function.parameters ? { parametersJsonSchema: t.function.parameters } : {}),
        })),
      },
    ];
    if (request.tool_choice != null) body.toolConfig = { functionCallingConfig: callingConfig(request.tool_choice) };
  }
  const config = generationConfig(jsonAsked ? { ...request, response_format: undefined } : request, model);
  if (config) body.generationConfig = config;
  return body;
}

/** The countTokens body for a canonical request: the whole generateContent request, so system and tools count too. */
export function toGeminiCountRequest(request: ChatRequest, model: string): Record<string, unknown> {
  const path = model.includes('/') ? model : `models/${model}`;
  return { generateContentRequest: { model: path, ...toGeminiRequest({ ...request, stream: false }, model) } };
}

function append(contents: Content[], role: Content['role'], parts: Part[]): void {
  if (parts.length === 0) return;
  const last = contents[contents.length - 1];
  if (last?.role === role) last.parts.push(...parts);
  else contents.push({ role, parts });
}

function textParts(text: string): Part[] {
  // Gemini refuses empty text parts.
  return text ? [{ text }] : [];
}

function userPart(part: UserContentPart, param: string): Part[] {
  switch (part.type) {
    case 'text':
      return textParts(part.text);
    case 'image_url': {
      const inline = parseDataURL(part.image_url.url);
      return [inline ? { inlineData: { mimeType: inline.mediaType, data: inline.data } } : { fileData: { fileUri: part.image_url.url } }];
    }
    case 'input_audio':
      return [{ inlineData: { mimeType: `audio/${part.input_audio.format}`, data: part.input_audio.data } }];
    case 'file': {
      const inline = part.file.file_data ? parseDataURL(part.file.file_data) : undefined;
      if (!inline) throw untranslatable(PROVIDER, 'files must be sent as file_data', param);
      return [{ inlineData: { mimeType: inline.mediaType, data: inline.data } }];
    }
  }
}

function modelParts(message: AssistantMessage, i: number, sentinel: boolean): Part[] {
  const parts = textParts(textOf(message.content));
  message.tool_calls?.forEach((call, j) => {
    const args = parseArguments(PROVIDER, call.function.arguments, `messages[${i}].tool_calls[${j}].function.arguments`);
    const part: Part = { functionCall: { name: call.function.name, args } };
    // Gemini signs the first call of a step only; a missing first signature is what it refuses.
    const signature = signatureFromId(call.id) ?? (j === 0 && sentinel ? SKIP_SIGNATURE : undefined);
    if (signature) part.thoughtSignature = signature;
    parts.push(part);
  });
  return parts;
}

function callingConfig(choice: ToolChoice): Record<string, unknown> {
  if (choice === 'none') return { mode: 'NONE' };
  if (choice === 'auto') return { mode: 'AUTO' };
  if (choice === 'required') return { mode: 'ANY' };
  return { mode: 'ANY', allowedFunctionNames: [choice.function.name] };
}

function generationConfig(request: ChatRequest, model: string): Record<string, unknown> | undefined {
  const config: Record<string, unknown> = {};
  if (request.temperature != null) config.temperature = request.temperature;
  if (request.top_p != null) config.topP = request.top_p;
  if (request.top_k != null) config.topK = request.top_k;
  const max = request.max_completion_tokens ?? request.max_tokens;
  if (max != null) config.maxOutputTokens = max;
  const stop = stopList(request.stop, GEMINI_MAX_STOP);
  if (stop?.length) config.stopSequences = stop;
  if (request.seed != null) config.seed = request.seed;
  if (request.presence_penalty) config.presencePenalty = request.presence_penalty;
  if (request.frequency_penalty) config.frequencyPenalty = request.frequency_penalty;
  const asked = thinkingBudget(request);
  const budget = asked === undefined ? undefined : withinRange(asked, model);
  if (budget !== undefined) config.thinkingConfig = budget > 0 ? { thinkingBudget: budget, includeThoughts: true } : { thinkingBudget: 0 };
  const format = request.response_format;
  if (format?.type === 'json_object') config.responseMimeType = 'application/json';
  else if (format?.type === 'json_schema') {
    config.responseMimeType = 'application/json';
    if (format.json_schema.schema) config.responseJsonSchema = format.json_schema.schema;
  }
  return Object.keys(config).length > 0 ? config : undefined;
}
