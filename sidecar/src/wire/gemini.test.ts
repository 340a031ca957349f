import { describe, expect, it } from 'vitest';
import { geminiErrorBody, GenerateContentRequest, protoJsonNames } from './gemini.js';

describe('protoJsonNames: a Gemini request read by its lowerCamelCase field names', () => {
  it('reads the snake_case fields google-genai for Python sends', () => {
    const body = {
      contents: [{ role: 'user', parts: [{ text: 'hi' }, { inline_data: { mime_type: 'image/png', data: 'AAAA' } }, { file_data: { file_uri: 'https://x/y.png', mime_type: 'image/png' } }] }],
      generation_config: { max_output_tokens: 10, thinking_config: { thinking_budget: 2048, include_thoughts: true } },
      tools: [{ function_declarations: [{ name: 'f', parameters_json_schema: { type: 'object' } }] }],
    };
    const request = GenerateContentRequest.parse(protoJsonNames(body));
    expect(request.contents[0]!.parts[1]!.inlineData).toEqual({ mimeType: 'image/png', data: 'AAAA' });
    expect(request.contents[0]!.parts[2]!.fileData).toEqual({ fileUri: 'https://x/y.png', mimeType: 'image/png' });
    expect(request.generationConfig?.maxOutputTokens).toBe(10);
    expect(request.generationConfig?.thinkingConfig).toEqual({ thinkingBudget: 2048, includeThoughts: true });
    expect(request.tools![0]!.functionDeclarations![0]!.parametersJsonSchema).toEqual({ type: 'object' });
  });

  it("leaves free JSON and a Schema's property names as the client wrote them", () => {
    const body = {
      contents: [
        { role: 'model', parts: [{ function_call: { name: 'f', args: { first_name: 'Ada', nested_obj: { last_name: 'L' } } } }] },
        { role: 'user', parts: [{ function_response: { name: 'f', response: { output_text: 'ok' } } }] },
      ],
      tools: [
        {
          functionDeclarations: [
            { name: 'f', parameters: { type: 'OBJECT', properties: { first_name: { type: 'STRING', max_length: 5 }, properties: { type: 'OBJECT', properties: { a_b: { type: 'STRING' } } } }, property_ordering: ['first_name'] } },
            { name: 'g', parametersJsonSchema: { type: 'object', properties: { snake_case: { type: 'string', min_length: 1 } } } },
          ],
        },
      ],
    };
    const read = protoJsonNames(body) as typeof body & { tools: { functionDeclarations: Record<string, unknown>[] }[] };
    expect(read.contents[0]!.parts[0]).toEqual({ functionCall: { name: 'f', args: { first_name: 'Ada', nested_obj: { last_name: 'L' } } } });
    expect(read.contents[1]!.parts[0]).toEqual({ functionResponse: { name: 'f', response: { output_text: 'ok' } } });
    expect(read.tools[0]!.functionDeclarations[0]!.parameters).toEqual({
      type: 'OBJECT',
      properties: { first_name: { type: 'STRING', maxLength: 5 }, properties: { type: 'OBJECT', properties: { a_b: { type: 'STRING' } } } },
      propertyOrdering: ['first_name'],
    });
    expect(read.tools[0]!.functionDeclarations[1]!.parametersJsonSchema).toEqual({ type: 'object', properties: { snake_case: { type: 'string', min_length: 1 } } });
  });

  it('refuses both names of one field (a pass-through sends the bytes, and Gemini might read the other), and never sets a prototype', () => {
    expect(() => protoJsonNames(JSON.parse('{"generationConfig":{"max_output_tokens":1,"maxOutputTokens":2}}'))).toThrow('both maxOutputTokens and max_output_tokens are set');
    const body = JSON.parse('{"generationConfig":{"max_output_tokens":1},"__proto__":{"polluted":true}}') as object;
    const read = protoJsonNames(body) as Record<string, Record<string, unknown>>;
    expect(read.generationConfig).toEqual({ maxOutputTokens: 1 });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(read)).toBe(Object.prototype);
  });
});

describe('geminiErrorBody', () => {
  it("gives Google's codes: overloaded is 503 UNAVAILABLE, a 502 is 500 INTERNAL, a known status stays", () => {
    const body = (status: number) => geminiErrorBody({ status, type: 'api_error', message: 'm' }).error;
    expect(body(529)).toEqual({ code: 503, status: 'UNAVAILABLE', message: 'm' });
    expect(body(502)).toEqual({ code: 500, status: 'INTERNAL', message: 'm' });
    expect(body(429)).toEqual({ code: 429, status: 'RESOURCE_EXHAUSTED', message: 'm' });
    expect(body(404)).toEqual({ code: 404, status: 'NOT_FOUND', message: 'm' });
  });
});
