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
  const schema = format.json_schema.schema;
  if (!schema || !representable(schema)) return undefined;
  return { type: 'json_schema', schema };
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
function representable(root: Node): boolean {
  let optional = 0;
  let visits = 0;
  const visit = (node: unknown, refs: readonly string[]): boolean => {
    if (++visits > MAX_VISITS) return false;
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
