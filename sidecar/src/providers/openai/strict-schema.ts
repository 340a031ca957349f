/**
 * Whether OpenAI takes a JSON Schema in strict mode (`strict: true` on `response_format`'s
 * `json_schema` or on a function), where decoding is constrained to the schema. Strict mode takes a
 * subset of JSON Schema (platform.openai.com, "Structured Outputs", supported schemas): the root is
 * an object; every object lists each of its properties in `required` and has
 * `additionalProperties: false`; the schema keeps within its size bounds (below); and only keywords it documents appear (the list below errs on the
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

/**
 * OpenAI's size bounds for a strict schema, at their most cautious as documented over time (object
 * nesting 5, properties 100, enum values 500; later raised): past them it answers 400, so the
 * schema goes without `strict`.
 */
const MAX_DEPTH = 5;
const MAX_PROPERTIES = 100;
const MAX_ENUM_VALUES = 500;

type Node = Record<string, unknown>;
const isNode = (value: unknown): value is Node => typeof value === 'object' && value !== null && !Array.isArray(value);

export function strictable(schema: Node): boolean {
  if (schema.type !== 'object') return false;
  let nodes = 0;
  let properties = 0;
  let values = 0;
  const visit = (node: unknown, depth = 0): boolean => {
    if (++nodes > MAX_NODES || !isNode(node)) return false;
    if (Array.isArray(node.enum) && (values += node.enum.length) > MAX_ENUM_VALUES) return false;
    for (const key of Object.keys(node)) if (!KEYWORDS.has(key)) return false;
    if (typeof node.format === 'string' && !FORMATS.has(node.format)) return false;
    const object = node.type === 'object' || (Array.isArray(node.type) && node.type.includes('object')) || node.properties !== undefined;
    if (object) {
      if (node.additionalProperties !== false || depth >= MAX_DEPTH) return false;
      const own = isNode(node.properties) ? node.properties : {};
      const required = new Set(Array.isArray(node.required) ? node.required : []);
      if (!Object.keys(own).every((key) => required.has(key))) return false;
      if ((properties += Object.keys(own).length) > MAX_PROPERTIES) return false;
      if (!Object.values(own).every((p) => visit(p, depth + 1))) return false;
    }
    if (node.items !== undefined && !visit(node.items, depth)) return false;
    if (node.anyOf !== undefined && !(Array.isArray(node.anyOf) && node.anyOf.every((b) => visit(b, depth)))) return false;
    for (const defs of [node.$defs, node.definitions]) {
      if (defs !== undefined && !(isNode(defs) && Object.values(defs).every((d) => visit(d, 0)))) return false;
    }
    return true;
  };
  return visit(schema);
}
