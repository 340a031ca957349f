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
import { z } from 'zod';
import type { ProviderError } from '../providers/types.js';

/** One part of a content. */
export const GeminiPart = z.looseObject({
  text: z.string().nullish(),
  thought: z.boolean().nullish(),
  thoughtSignature: z.string().nullish(),
  inlineData: z.looseObject({ mimeType: z.string(), data: z.string() }).nullish(),
  fileData: z.looseObject({ mimeType: z.string().nullish(), fileUri: z.string() }).nullish(),
  functionCall: z.looseObject({ name: z.string(), args: z.record(z.string(), z.unknown()).nullish(), id: z.string().nullish() }).nullish(),
  functionResponse: z.looseObject({ name: z.string(), response: z.record(z.string(), z.unknown()).nullish(), id: z.string().nullish() }).nullish(),
});

/** A turn: role user or model (function responses travel in user turns). */
export const GeminiContent = z.looseObject({ role: z.string().nullish(), parts: z.array(GeminiPart).default([]) });

/** A function the model may call; parameters as Gemini's OpenAPI subset or as JSON Schema. */
export const GeminiFunctionDeclaration = z.looseObject({
  name: z.string().min(1),
  description: z.string().nullish(),
  parameters: z.record(z.string(), z.unknown()).nullish(),
  parametersJsonSchema: z.record(z.string(), z.unknown()).nullish(),
});

/** Body of `:generateContent` and `:streamGenerateContent`. */
export const GenerateContentRequest = z.looseObject({
  contents: z.array(GeminiContent).default([]),
  systemInstruction: GeminiContent.nullish(),
  tools: z.array(z.looseObject({ functionDeclarations: z.array(GeminiFunctionDeclaration).nullish() })).nullish(),
  toolConfig: z
    .looseObject({ functionCallingConfig: z.looseObject({ mode: z.string().nullish(), allowedFunctionNames: z.array(z.string()).nullish() }).nullish() })
    .nullish(),
  generationConfig: z
    .looseObject({
      temperature: z.number().nullish(),
      topP: z.number().nullish(),
      topK: z.number().nullish(),
      maxOutputTokens: z.int().nullish(),
      stopSequences: z.array(z.string()).nullish(),
      candidateCount: z.int().nullish(),
      seed: z.int().nullish(),
      presencePenalty: z.number().nullish(),
      frequencyPenalty: z.number().nullish(),
      responseMimeType: z.string().nullish(),
      responseSchema: z.record(z.string(), z.unknown()).nullish(),
      responseJsonSchema: z.record(z.string(), z.unknown()).nullish(),
      thinkingConfig: z.looseObject({ thinkingBudget: z.int().nullish(), includeThoughts: z.boolean().nullish(), thinkingLevel: z.string().nullish() }).nullish(),
    })
    .nullish(),
  cachedContent: z.string().nullish(),
});

/** Body of `:countTokens`: `contents`, or a whole generateContent request. */
/** `:embedContent`: one content to embed (its text parts, together). */
export const EmbedContentRequest = z.looseObject({
  model: z.string().nullish(),
  content: GeminiContent,
  taskType: z.string().nullish(),
  outputDimensionality: z.int().min(1).nullish(),
});
export type EmbedContentRequest = z.infer<typeof EmbedContentRequest>;

/** `:batchEmbedContents`: several contents, one embedding each (what google-genai sends for a list). */
export const BatchEmbedContentsRequest = z.looseObject({ requests: z.array(EmbedContentRequest).min(1) });

export const CountTokensBody = z.looseObject({
  contents: z.array(GeminiContent).nullish(),
  generateContentRequest: GenerateContentRequest.nullish(),
});

export type GeminiPart = z.infer<typeof GeminiPart>;
export type GeminiContent = z.infer<typeof GeminiContent>;
export type GenerateContentRequest = z.infer<typeof GenerateContentRequest>;
export type CountTokensBody = z.infer<typeof CountTokensBody>;

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

/** A canonical error in Google's shape; the status name follows the HTTP status. */
export function geminiErrorBody(error: ProviderError): GeminiErrorBody {
  const status = STATUS_NAMES[error.status] ?? (error.status >= 500 ? 'INTERNAL' : 'INVALID_ARGUMENT');
  return { error: { code: error.status, message: error.message, status } };
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
