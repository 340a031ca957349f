/**
 * Whether OpenAI takes a JSON Schema in strict mode (`strict: true` on `response_format`'s
 * `json_schema` or on a function), where decoding is constrained to the schema. Strict mode takes a
 * subset of JSON Schema (platform.openai.com, "Structured Outputs", supported schemas): the root is
 * an object; every object lists each of its properties in `required` and has
 * `additionalProperties: false`; and only keywords it documents appear (the list below errs on the
 * side of fewer). Anything else may be OpenAI's 400, so a schema outside the subset is sent without
 * `strict`: the model is asked, not constrained.
 *
 * Anthropic's and Gemini's structured outputs constrain decoding, so a request translated from them
 * asks for strict mode whenever its schema allows it (ingress/translate/anthropic.ts, gemini.ts).
 */

/** Keywords strict mode takes, on any node. */
const KEYWORDS = new Set([
  '$schema', 'type', 'properties', 'required', 'additionalProperties', 'items', 'enum', 'const', 'anyOf', '$ref', '$defs', 'definitions',
  'description', 'title', 'pattern', 'format', 'multipleOf', 'maximum', 'exclusiveMaximum', 'minimum', 'exclusiveMinimum', 'minItems', 'maxItems',
]);

/** String formats strict mode takes. */
const FORMATS = new Set(['date-time', 'time', 'date', 'duration', 'email', 'hostname', 'ipv4', 'ipv6', 'uuid']);

/** Schema nodes looked at before giving up (no strict then): each is looked at once, `$ref`s are not followed. */
const MAX_NODES = 10_000;

type Node = Record<string, unknown>;
const isNode = (value: unknown): value is Node => typeof value === 'object' && value !== null && !Array.isArray(value);

export function strictable(schema: Node): boolean {
  if (schema.type !== 'object') return false;
  let nodes = 0;
  const visit = (node: unknown): boolean => {
    if (++nodes > MAX_NODES || !isNode(node)) return false;
    for (const key of Object.keys(node)) if (!KEYWORDS.has(key)) return false;
    if (typeof node.format === 'string' && !FORMATS.has(node.format)) return false;
    const object = node.type === 'object' || (Array.isArray(node.type) && node.type.includes('object')) || node.properties !== undefined;
    if (object) {
      if (node.additionalProperties !== false) return false;
      const properties = isNode(node.properties) ? node.properties : {};
      const required = new Set(Array.isArray(node.required) ? node.required : []);
      if (!Object.keys(properties).every((key) => required.has(key))) return false;
      if (!Object.values(properties).every(visit)) return false;
    }
    if (node.items !== undefined && !visit(node.items)) return false;
    if (node.anyOf !== undefined && !(Array.isArray(node.anyOf) && node.anyOf.every(visit))) return false;
    for (const defs of [node.$defs, node.definitions]) {
      if (defs !== undefined && !(isNode(defs) && Object.values(defs).every(visit))) return false;
    }
    return true;
  };
  return visit(schema);
}
