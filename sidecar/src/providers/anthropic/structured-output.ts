/**
 * A chat request's `response_format: json_schema` as Anthropic's structured outputs
 * (`output_config.format`), where Claude can take it without losing anything (ADR 0020):
 * constrained decoding guarantees the JSON the client will parse, where an instruction only asks.
 * Not for the Claude models that predate structured outputs (Claude 3, Sonnet 4 and Opus 4 of May
 * 2025), which refuse the field, nor for a schema Anthropic would refuse (recursive) or answer
 * wrongly (open objects, which it closes, so only `{}` would fit): those keep the instruction.
 */
import type { ResponseFormat } from '../../wire/openai.js';

/** Claude models without structured outputs. Newer and unknown names are taken to have them. */
const LEGACY_MODELS = /^claude-(?:instant|2|3)|^claude-(?:sonnet|opus)-4(?:-0|-2025|@2025)/;

/** Optional properties past which Anthropic refuses a schema as too complex (the Vercel AI SDK's bound). */
const MAX_OPTIONAL_PROPERTIES = 10;

/** The `output_config.format` for `format` on `model`, or undefined when the instruction is to be used. */
export function nativeFormat(format: ResponseFormat | null | undefined, model: string): { type: 'json_schema'; schema: Record<string, unknown> } | undefined {
  if (format?.type !== 'json_schema' || LEGACY_MODELS.test(model)) return undefined;
  const schema = format.json_schema.schema ? constrainable(format.json_schema.schema, { visits: 0 }) : undefined;
  return schema && { type: 'json_schema', schema };
}

/**
 * Anthropic's bounds on one request's strict tools, counted across all of them: past any, it
 * refuses the request ("Too many strict tools", "Schema is too complex for compilation").
 */
const MAX_STRICT_TOOLS = 20;
const MAX_STRICT_OPTIONAL = 24;
const MAX_STRICT_UNIONS = 16;

/**
 * The `parameters` of each strict function as a strict Anthropic tool (`strict: true`: the call's
 * input is decoded to the schema, as OpenAI's strict functions are), by index; undefined where
 * Claude cannot take it strictly. When the request's strict tools together pass Anthropic's bounds
 * (clients that mark every tool strict: the Agents SDK, pydantic-ai), none is strict: each goes as
 * a plain tool with the schema as the client wrote it.
 */
export function strictToolSchemas(tools: readonly { function: { strict?: boolean | null; parameters?: Record<string, unknown> | null } }[], model: string): (Record<string, unknown> | undefined)[] {
  if (LEGACY_MODELS.test(model)) return [];
  // Counted before any schema is looked at: past the bound none is strict, whatever they are.
  if (tools.filter((t) => t.function.strict === true).length > MAX_STRICT_TOOLS) return [];
  // One budget of schema nodes for the whole request, not one per tool: 13,000 tools of a few
  // thousand nodes each held the thread for 30 s.
  const budget = { visits: 0 };
  const schemas = tools.map((t) => (t.function.strict === true ? constrainable(t.function.parameters ?? { type: 'object', properties: {} }, budget) : undefined));
  const strict = schemas.filter((s): s is Record<string, unknown> => s !== undefined);
  let optional = 0;
  let unions = 0;
  for (const schema of strict) {
    const counted = complexity(schema);
    optional += counted.optional;
    unions += counted.unions;
  }
  return strict.length > MAX_STRICT_TOOLS || optional > MAX_STRICT_OPTIONAL || unions > MAX_STRICT_UNIONS ? [] : schemas;
}

/** Optional properties and union nodes (anyOf, a list of types) of a schema in the subset. */
function complexity(schema: Node): { optional: number; unions: number } {
  let optional = 0;
  let unions = 0;
  const stack: unknown[] = [schema];
  while (stack.length > 0) {
    const node = stack.pop();
    if (Array.isArray(node)) stack.push(...(node as unknown[]));
    if (!isNode(node)) continue;
    if (Array.isArray(node.anyOf) || Array.isArray(node.type)) unions += 1;
    if (isNode(node.properties)) {
      const required = new Set(Array.isArray(node.required) ? node.required : []);
      optional += Object.keys(node.properties).filter((key) => !required.has(key)).length;
    }
    for (const key of ['properties', '$defs']) if (isNode(node[key])) stack.push(...Object.values(node[key] as Node));
    for (const key of ['items', 'anyOf', 'allOf']) if (node[key] !== undefined) stack.push(node[key]);
  }
  return { optional, unions };
}

/** `schema` in the subset constrained decoding takes, or undefined when it has no such form. */
function constrainable(schema: Record<string, unknown>, budget: { visits: number }): Record<string, unknown> | undefined {
  return representable(schema, budget) ? anthropicSubset(schema) : undefined;
}

/** String formats constrained decoding takes. */
const FORMATS = new Set(['date-time', 'time', 'date', 'duration', 'email', 'hostname', 'uri', 'ipv4', 'ipv6', 'uuid']);

/**
 * A JSON Schema in the subset Anthropic's constrained decoding takes (platform.claude.com,
 * "Structured outputs", JSON Schema limitations), which answers 400 to the rest (a `minimum`, a
 * `maxLength`): types, `properties`/`required` (objects closed), `items`, `enum`/`const`,
 * `anyOf` (`oneOf` read as it), `allOf`, `$ref`/`$defs`, the string formats above and `minItems`
 * of 0 or 1 are kept. Every other keyword is moved into the node's description, as `{name:
 * value, …}`, so the model is still told what it cannot be held to (Anthropic's SDKs do the
 * same). A node with none of type, combinators and literals is undefined: no such schema.
 */
function anthropicSubset(node: Node): Node | undefined {
  const out: Node = {};
  const rest: Node = { ...node };
  const take = (key: string) => {
    const value = rest[key];
    delete rest[key];
    return value;
  };
  delete rest.$schema;
  // Draft 7's `definitions` (zod 3's and LangChain's schemas) as `$defs`, their `$ref`s with them.
  const [draft2020, draft7] = [take('$defs'), take('definitions')];
  const defs = isNode(draft2020) || isNode(draft7) ? { ...(isNode(draft7) ? draft7 : {}), ...(isNode(draft2020) ? draft2020 : {}) } : undefined;
  if (isNode(defs)) {
    const converted = Object.entries(defs).map(([name, def]) => [name, isNode(def) ? anthropicSubset(def) : undefined] as const);
    if (converted.some(([, def]) => def === undefined)) return undefined;
    out.$defs = Object.fromEntries(converted);
  }
  const ref = take('$ref');
  if (typeof ref === 'string') return { ...out, $ref: ref.replace(/^#\/definitions\//, '#/$defs/') };
  const primitive = (v: unknown) => v === null || typeof v !== 'object';
  if (Array.isArray(rest.enum) && rest.enum.length > 0 && rest.enum.every(primitive)) out.enum = take('enum');
  if (rest.const !== undefined && primitive(rest.const)) out.const = take('const');
  const type = take('type');
  const branches = (key: string) => {
    const list = take(key);
    if (!Array.isArray(list)) return undefined;
    const converted = list.map((branch) => (isNode(branch) ? anthropicSubset(branch) : undefined));
    return converted.every((b) => b !== undefined) ? converted : null;
  };
  const anyOf = branches('anyOf');
  const oneOf = branches('oneOf');
  const allOf = branches('allOf');
  if (anyOf === null || oneOf === null || allOf === null) return undefined;
  if (anyOf ?? oneOf) out.anyOf = anyOf ?? oneOf;
  else if (allOf) out.allOf = allOf;
  else if (out.enum === undefined && out.const === undefined) {
    if (type === undefined) return undefined;
    out.type = type;
  }
  for (const key of ['description', 'title']) if (rest[key] !== undefined) out[key] = take(key);
  const is = (name: string) => type === name || (Array.isArray(type) && type.includes(name));
  if (is('object')) {
    const properties = take('properties');
    const converted = Object.entries(isNode(properties) ? properties : {}).map(([name, p]) => [name, isNode(p) ? anthropicSubset(p) : undefined] as const);
    if (converted.some(([, p]) => p === undefined)) return undefined;
    out.properties = Object.fromEntries(converted);
    delete rest.additionalProperties;
    out.additionalProperties = false;
    if (Array.isArray(rest.required)) out.required = take('required');
  }
  if (is('string') && typeof rest.format === 'string' && FORMATS.has(rest.format)) out.format = take('format');
  if (is('array')) {
    if (isNode(rest.items)) {
      const items = anthropicSubset(take('items') as Node);
      if (!items) return undefined;
      out.items = items;
    }
    if (rest.minItems === 0 || rest.minItems === 1) out.minItems = take('minItems');
  }
  const moved = Object.entries(rest);
  if (moved.length > 0) {
    const note = `{${moved.map(([key, value]) => `${key}: ${JSON.stringify(value)}`).join(', ')}}`;
    out.description = typeof out.description === 'string' && out.description ? `${out.description}\n\n${note}` : note;
  }
  return out;
}

type Node = Record<string, unknown>;
const isNode = (value: unknown): value is Node => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Schema nodes {@link representable} looks at, `$ref`s followed each time they are used, before it
 * gives up (the instruction then). Without a bound, 40 `$defs` each naming the next twice (a 3 KB
 * body) made 2^40 visits: one request held the sidecar's only thread for days.
 */
const MAX_VISITS = 10_000;

/** Whether constrained decoding can give every value of `schema`: no recursion, no open object, few optional properties. */
function representable(root: Node, budget: { visits: number }): boolean {
  let optional = 0;
  const visit = (node: unknown, refs: readonly string[]): boolean => {
    if (++budget.visits > MAX_VISITS) return false;
    if (Array.isArray(node)) return node.every((n) => visit(n, refs));
    if (!isNode(node)) return true;
    if (typeof node.$ref === 'string') {
      if (refs.includes(node.$ref)) return false;
      const [, section, name] = /^#\/(\$defs|definitions)\/(.+)$/.exec(node.$ref) ?? [];
      const target = section && isNode(root[section]) ? (root[section] as Node)[name!] : undefined;
      if (target === undefined || !visit(target, [...refs, node.$ref])) return false;
    }
    const { additionalProperties, patternProperties, properties, type } = node;
    const object = type === 'object' || (Array.isArray(type) && type.includes('object'));
    if (additionalProperties === true || isNode(additionalProperties) || (isNode(patternProperties) && Object.keys(patternProperties).length > 0)) return false;
    if (object && properties === undefined && additionalProperties !== false) return false;
    if (isNode(properties)) {
      const required = new Set(Array.isArray(node.required) ? node.required : []);
      optional += Object.keys(properties).filter((key) => !required.has(key)).length;
      if (optional > MAX_OPTIONAL_PROPERTIES) return false;
      if (!Object.values(properties).every((p) => visit(p, refs))) return false;
    }
    for (const key of ['items', 'prefixItems', 'anyOf', 'oneOf', 'allOf', 'not', 'if', 'then', 'else', 'contains']) {
      if (key in node && !visit(node[key], refs)) return false;
    }
    return true;
  };
  return visit(root, []);
}
