/**
 * Renders CustomResourceDefinitions from the zod schemas. Zod's JSON Schema output is close to
 * what Kubernetes wants but not structural; `toStructural` is the clean-up pass.
 */
import { z } from 'zod';
import { GROUP, VERSION } from './common.js';

type JsonSchema = { [key: string]: unknown };

/** Raised when a schema uses something a structural Kubernetes schema cannot express. */
export class StructuralSchemaError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(`${path || '<root>'}: ${message}`);
    this.name = 'StructuralSchemaError';
  }
}

const SAFE_INT = Number.MAX_SAFE_INTEGER;
/** Regex features RE2 (the API server's engine) does not have. */
const NOT_RE2 = /\(\?[=!<]|\\[1-9]|\(\?<[A-Za-z]/;

/**
 * Rewrites a JSON Schema made by zod into a structural schema the API server accepts: no `$ref`,
 * no `additionalProperties` beside `properties`, int-or-string instead of an integer|string
 * union, no safe-integer bounds zod adds to every integer, and only RE2-compatible patterns.
 */
export function toStructural(schema: JsonSchema, path = ''): JsonSchema {
  if ('$ref' in schema || '$defs' in schema || 'definitions' in schema) {
    throw new StructuralSchemaError(path, 'references are not allowed; define the schema inline');
  }
  const union = (schema.anyOf ?? schema.oneOf) as JsonSchema[] | undefined;
  if (union) {
    const types = union.map((s) => s.type).sort();
    if (types.length === 2 && types[0] === 'integer' && types[1] === 'string') {
      const { anyOf: _a, oneOf: _o, ...rest } = schema;
      return { ...rest, 'x-kubernetes-int-or-string': true };
    }
    throw new StructuralSchemaError(path, 'unions other than integer|string are not structural');
  }
  if (typeof schema.type !== 'string') {
    throw new StructuralSchemaError(path, 'every node needs a single type');
  }

  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(schema)) {
    switch (key) {
      case '$schema':
        break;
      case 'minimum':
        if (value !== -SAFE_INT) out[key] = value;
        break;
      case 'maximum':
        if (value !== SAFE_INT) out[key] = value;
        break;
      case 'pattern':
        if (typeof value !== 'string' || NOT_RE2.test(value)) {
          throw new StructuralSchemaError(path, `pattern ${String(value)} uses lookaround or backreferences, which RE2 cannot compile`);
        }
        out[key] = value;
        break;
      case 'properties':
        out[key] = Object.fromEntries(
          Object.entries(value as Record<string, JsonSchema>).map(([name, child]) => [name, toStructural(child, `${path}.${name}`)]),
        );
        break;
      case 'items':
        out[key] = toStructural(value as JsonSchema, `${path}[*]`);
        break;
      case 'additionalProperties':
        if (schema.properties) break;
        if (typeof value === 'object' && value !== null) out[key] = toStructural(value as JsonSchema, `${path}{*}`);
        break;
      default:
        out[key] = value;
    }
  }
  return expandDefault(out);
}

/**
 * Fills an object's default with its properties' defaults. The API server checks a default
 * against the node's CEL rules as written, without applying nested defaults first, so zod's
 * `default: {}` would fail rules that read defaulted fields (`self.mode`, `self.totalMs`).
 */
function expandDefault(node: JsonSchema): JsonSchema {
  const value = node.default;
  if (typeof value !== 'object' || value === null || Array.isArray(value) || !node.properties) return node;
  const filled: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  for (const [name, child] of Object.entries(node.properties as Record<string, JsonSchema>)) {
    if (!(name in filled) && child.default !== undefined) filled[name] = child.default;
  }
  return { ...node, default: filled };
}

/** What the printer columns and names of one kind are. */
export interface KindInfo {
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  description: string;
  spec: z.ZodType;
  status: z.ZodType;
  printerColumns: { name: string; type: 'string' | 'integer' | 'date' | 'boolean' | 'number'; jsonPath: string; description: string; priority?: number }[];
}

const readyColumn = {
  name: 'Ready',
  type: 'string',
  jsonPath: '.status.conditions[?(@.type=="Ready")].status',
  description: 'Whether the object is ready.',
} as const;
const ageColumn = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp', description: 'Time since creation.' } as const;

/** JSON Schema of one zod schema, as a structural Kubernetes schema. */
export function structuralSchemaOf(schema: z.ZodType): JsonSchema {
  return toStructural(z.toJSONSchema(schema, { io: 'input', target: 'openapi-3.0', unrepresentable: 'throw' }) as JsonSchema);
}

/** The CustomResourceDefinition object for one kind. */
export function renderCrd(info: KindInfo): JsonSchema {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${info.plural}.${GROUP}`,
      labels: { 'app.kubernetes.io/name': 'airlock', 'app.kubernetes.io/part-of': 'airlock' },
    },
    spec: {
      group: GROUP,
      names: {
        kind: info.kind,
        listKind: `${info.kind}List`,
        plural: info.plural,
        singular: info.singular,
        shortNames: info.shortNames,
        categories: ['airlock'],
      },
      scope: 'Namespaced',
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: [readyColumn, ...info.printerColumns, ageColumn],
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: info.description,
              required: ['spec'],
              properties: {
                apiVersion: { type: 'string', description: 'Versioned schema of this object: airlock.dev/v1alpha1.' },
                kind: { type: 'string', description: `Kind of this object: ${info.kind}.` },
                metadata: { type: 'object' },
                spec: structuralSchemaOf(info.spec),
                status: structuralSchemaOf(info.status),
              },
            },
          },
        },
      ],
    },
  };
}
