import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { crdFiles, KINDS, renderCrd, StructuralSchemaError, toStructural } from './index.js';

const root = join(import.meta.dirname, '../../..');

type Node = { [key: string]: unknown };

/** Every property node below a schema, with its path. */
function* properties(schema: Node, path = ''): Generator<[string, Node]> {
  for (const [name, child] of Object.entries((schema.properties as Record<string, Node>) ?? {})) {
    yield [`${path}.${name}`, child];
    yield* properties(child, `${path}.${name}`);
  }
  if (schema.items) yield* properties(schema.items as Node, `${path}[*]`);
}

describe('generated CRDs', () => {
  it('match the committed files in crds/ (run `npm run generate` after changing a schema)', async () => {
    for (const file of crdFiles()) {
      const committed = await readFile(join(root, 'crds', file.name), 'utf8').catch(() => '<missing>');
      expect(committed, `crds/${file.name} is stale`).toBe(file.content);
    }
  });

  it.each(KINDS.map((k) => [k.kind, k] as const))('%s: every field has a description for kubectl explain', (_kind, info) => {
    const schema = (renderCrd(info) as { spec: { versions: { schema: { openAPIV3Schema: Node } }[] } }).spec.versions[0]!.schema.openAPIV3Schema;
    const undescribed = [...properties(schema)]
      .filter(([path, node]) => path !== '.metadata' && typeof node.description !== 'string')
      .map(([path]) => path);
    expect(undescribed).toEqual([]);
  });

  it.each(KINDS.map((k) => [k.kind, k] as const))('%s: is structural (no refs, typed nodes, no additionalProperties beside properties)', (_kind, info) => {
    const text = JSON.stringify(renderCrd(info));
    expect(text).not.toContain('$ref');
    expect(text).not.toContain('anyOf');
    const schema = (renderCrd(info) as { spec: { versions: { schema: { openAPIV3Schema: Node } }[] } }).spec.versions[0]!.schema.openAPIV3Schema;
    for (const [path, node] of properties(schema)) {
      if (path === '.metadata') continue;
      expect(typeof node.type === 'string' || node['x-kubernetes-int-or-string'] === true, `${path} has a type`).toBe(true);
      expect(node.properties && node.additionalProperties, `${path}`).toBeFalsy();
    }
  });

  it('names, short names, category and printer columns are what kubectl users see', () => {
    const crds = crdFiles().map((f) => parse(f.content));
    expect(crds.map((c) => [c.spec.names.plural, c.spec.names.shortNames, c.spec.names.categories])).toEqual([
      ['modelproviders', ['mp'], ['airlock']],
      ['mcpbackends', ['mcpb'], ['airlock']],
      ['agentsandboxes', ['asbx'], ['airlock']],
    ]);
    const columns = crds.map((c) => c.spec.versions[0].additionalPrinterColumns.map((col: { name: string }) => col.name));
    expect(columns).toEqual([
      ['Ready', 'Type', 'Priority', 'Models', 'Age'],
      ['Ready', 'Transport', 'Tools', 'Pending', 'Age'],
      ['Ready', 'Providers', 'Backends', 'Pods', 'Outdated', 'Spend', 'Budget', 'Network', 'Age'],
    ]);
    for (const crd of crds) expect(crd.spec.versions[0].subresources).toEqual({ status: {} });
  });
});

describe('toStructural', () => {
  it('turns an integer|string union into int-or-string', () => {
    const json = z.toJSONSchema(z.object({ q: z.union([z.int(), z.string()]) }), { io: 'input', target: 'openapi-3.0' });
    const out = toStructural(json as Node) as { properties: { q: Node } };
    expect(out.properties.q).toEqual({ 'x-kubernetes-int-or-string': true });
  });

  it('drops the safe-integer bounds zod puts on every integer but keeps real ones', () => {
    const json = z.toJSONSchema(z.object({ a: z.int(), b: z.int().min(1).max(5) }), { io: 'input', target: 'openapi-3.0' });
    const out = toStructural(json as Node) as { properties: Record<string, Node> };
    expect(out.properties.a).toEqual({ type: 'integer' });
    expect(out.properties.b).toEqual({ type: 'integer', minimum: 1, maximum: 5 });
  });

  it('refuses patterns RE2 cannot compile, naming the field', () => {
    const json = z.toJSONSchema(z.object({ name: z.string().regex(/^(?!x).*$/) }), { io: 'input', target: 'openapi-3.0' });
    expect(() => toStructural(json as Node)).toThrow(StructuralSchemaError);
    expect(() => toStructural(json as Node)).toThrow(/\.name: pattern/);
  });

  it('refuses references and unions that are not int-or-string', () => {
    expect(() => toStructural({ $ref: '#/x' })).toThrow(/references/);
    expect(() => toStructural({ anyOf: [{ type: 'string' }, { type: 'boolean' }] })).toThrow(/unions/);
  });
});
