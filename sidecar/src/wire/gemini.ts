/**
 * The Gemini API (generativelanguage v1beta) as the sidecar speaks it to Gemini clients (the
 * google-genai SDKs, Google's ADK): the generateContent / countTokens request schema parsed once
 * at the boundary, the response shape, and Google's error body.
 *
 * The schema is loose so a Gemini client served by a Gemini provider passes through untouched
 * (thought signatures, cached content, safety settings, code execution, grounding tools). Parts
 * the canonical translation does not know are refused with a 400 naming the part only when the
 * model is served by another provider type.
 */
import * as z from '../zod.js';
import type { ProviderError } from '../providers/types.js';

/** One part of a content. */
export const GeminiPart = z.looseObject({
  text: z.nullish(z.string()),
  thought: z.nullish(z.boolean()),
  thoughtSignature: z.nullish(z.string()),
  inlineData: z.nullish(z.looseObject({ mimeType: z.string(), data: z.string() })),
  fileData: z.nullish(z.looseObject({ mimeType: z.nullish(z.string()), fileUri: z.string() })),
  functionCall: z.nullish(z.looseObject({ name: z.string(), args: z.nullish(z.record(z.string(), z.unknown())), id: z.nullish(z.string()) })),
  functionResponse: z.nullish(
    z.looseObject({
      name: z.string(),
      response: z.nullish(z.record(z.string(), z.unknown())),
      id: z.nullish(z.string()),
      /** Gemini 3's multimodal function responses: media the result carries, which `response` may name by `{"$ref": displayName}`. */
      parts: z.nullish(z.array(z.looseObject({ inlineData: z.nullish(z.looseObject({ mimeType: z.string(), data: z.string(), displayName: z.nullish(z.string()) })) }))),
    }),
  ),
});

/** A turn: role user or model (function responses travel in user turns). */
export const GeminiContent = z.looseObject({ role: z.nullish(z.string()), parts: z._default(z.array(GeminiPart), []) });

/** A function the model may call; parameters as Gemini's OpenAPI subset or as JSON Schema. */
export const GeminiFunctionDeclaration = z.looseObject({
  name: z.string().check(z.minLength(1)),
  description: z.nullish(z.string()),
  parameters: z.nullish(z.record(z.string(), z.unknown())),
  parametersJsonSchema: z.nullish(z.record(z.string(), z.unknown())),
});

/** Body of `:generateContent` and `:streamGenerateContent`. */
export const GenerateContentRequest = z.looseObject({
  contents: z._default(z.array(GeminiContent), []),
  systemInstruction: z.nullish(GeminiContent),
  tools: z.nullish(z.array(z.looseObject({ functionDeclarations: z.nullish(z.array(GeminiFunctionDeclaration)) }))),
  toolConfig: z.nullish(
    z.looseObject({ functionCallingConfig: z.nullish(z.looseObject({ mode: z.nullish(z.string()), allowedFunctionNames: z.nullish(z.array(z.string())) })) }),
  ),
  generationConfig: z.nullish(z.looseObject({
    temperature: z.nullish(z.number()),
    topP: z.nullish(z.number()),
    topK: z.nullish(z.number()),
    maxOutputTokens: z.nullish(z.int()),
    stopSequences: z.nullish(z.array(z.string())),
    candidateCount: z.nullish(z.int()),
    seed: z.nullish(z.int()),
    presencePenalty: z.nullish(z.number()),
    frequencyPenalty: z.nullish(z.number()),
    responseMimeType: z.nullish(z.string()),
    responseSchema: z.nullish(z.record(z.string(), z.unknown())),
    responseJsonSchema: z.nullish(z.record(z.string(), z.unknown())),
    thinkingConfig: z.nullish(z.looseObject({ thinkingBudget: z.nullish(z.int()), includeThoughts: z.nullish(z.boolean()), thinkingLevel: z.nullish(z.string()) })),
  })),
  cachedContent: z.nullish(z.string()),
});

/** Body of `:countTokens`: `contents`, or a whole generateContent request. */
/** `:embedContent`: one content to embed (its text parts, together). */
export const EmbedContentRequest = z.looseObject({
  model: z.nullish(z.string()),
  content: GeminiContent,
  taskType: z.nullish(z.string()),
  outputDimensionality: z.nullish(z.int().check(z.minimum(1))),
});
export type EmbedContentRequest = z.infer<typeof EmbedContentRequest>;

/** `:batchEmbedContents`: several contents, one embedding each (what google-genai sends for a list). */
export const BatchEmbedContentsRequest = z.looseObject({ requests: z.array(EmbedContentRequest).check(z.minLength(1)) });

export const CountTokensBody = z.looseObject({
  contents: z.nullish(z.array(GeminiContent)),
  generateContentRequest: z.nullish(GenerateContentRequest),
});

export type GeminiPart = z.infer<typeof GeminiPart>;
export type GeminiContent = z.infer<typeof GeminiContent>;
export type GenerateContentRequest = z.infer<typeof GenerateContentRequest>;
export type CountTokensBody = z.infer<typeof CountTokensBody>;

/** Fields whose values are free JSON (a Struct, a JSON Schema, a schema's example), read as the client wrote them. */
const VERBATIM = new Set(['args', 'response', 'parametersJsonSchema', 'responseJsonSchema', 'example', 'default']);

/**
 * Reads a Gemini request (parsed JSON, changed in place) with every field by its lowerCamelCase
 * name. Proto3's JSON mapping has a server accept a field by that name or by its original
 * snake_case one, and Gemini does; google-genai for Python sends some in snake_case
 * (`inlineData: {mime_type, data}`, `fileData: {file_uri}`, `thinkingConfig: {thinking_budget}`,
 * `parameters_json_schema`, a Schema's `any_of` and `min_items`). Left alone: the values of free
 * JSON fields ({@link VERBATIM}: a call's arguments, a function's response, JSON Schemas) and the
 * keys of a Schema's `properties`, which are the client's names. Both names of one field in one
 * object are refused (@throws Error): a pass-through sends the client's bytes, and Gemini might read
 * the other one than the sidecar checked.
 */
export function protoJsonNames(value: unknown, keysAreNames = false): unknown {
  if (Array.isArray(value)) {
    for (const item of value) protoJsonNames(item);
  } else if (typeof value === 'object' && value !== null) {
    const object = value as Record<string, unknown>;
    for (const key of Object.keys(object)) {
      let name = key;
      if (!keysAreNames && key.includes('_')) {
        name = key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
        if (name !== key) {
          // Both names of one field: which one Gemini reads is not the sidecar's to guess (a
          // pass-through sends the client's bytes, and what the sidecar checked must be what Gemini reads).
          if (Object.hasOwn(object, name)) throw new Error(`both ${name} and ${key} are set; they name one field: send it once`);
          object[name] = object[key];
          delete object[key];
        }
      }
      if (keysAreNames || !VERBATIM.has(name)) protoJsonNames(object[name], !keysAreNames && name === 'properties');
    }
  }
  return value;
}

/** Google's canonical error status names by HTTP status. */
const STATUS_NAMES: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  409: 'ABORTED',
  413: 'INVALID_ARGUMENT',
  415: 'INVALID_ARGUMENT',
  429: 'RESOURCE_EXHAUSTED',
  499: 'CANCELLED',
  500: 'INTERNAL',
  501: 'UNIMPLEMENTED',
  503: 'UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
};

/** The Google error body: `{error: {code, message, status}}`. */
export interface GeminiErrorBody {
  error: { code: number; message: string; status: string };
}

/**
 * A canonical error in Google's shape; the status name follows the HTTP status. A server error
 * Google has no code for is one of its own: overloaded (Anthropic's 529) is 503 UNAVAILABLE, any
 * other (a 502 from a proxy) 500 INTERNAL.
 */
export function geminiErrorBody(error: ProviderError): GeminiErrorBody {
  const code = STATUS_NAMES[error.status] ? error.status : error.status === 529 ? 503 : error.status >= 500 ? 500 : error.status;
  const status = STATUS_NAMES[code] ?? (code >= 500 ? 'INTERNAL' : 'INVALID_ARGUMENT');
  return { error: { code, message: error.message, status } };
}

/** One model as `GET /v1beta/models` lists it. */
export function geminiModel(id: string) {
  return {
    name: `models/${id}`,
    version: '001',
    displayName: id,
    description: `${id}, served through the Airlock sidecar`,
    supportedGenerationMethods: ['generateContent', 'streamGenerateContent', 'countTokens'],
  };
}
