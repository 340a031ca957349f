/**
 * The documented examples the schema fuzzers start from: the sidecar config example and the
 * Airlock custom resources in examples/ (the invalid ones included: mutating a near-miss finds
 * other edges than mutating a valid object).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { parseAllDocuments } from 'yaml';

export const repoRoot = join(import.meta.dirname, '../..');

/** docs/sidecar-config.example.yaml, as text. */
export const sidecarConfigExample = readFileSync(join(repoRoot, 'docs/sidecar-config.example.yaml'), 'utf8');

export type AirlockKind = 'ModelProvider' | 'MCPBackend' | 'AgentSandbox';

export interface ExampleObject {
  file: string;
  kind: AirlockKind;
  object: Record<string, unknown>;
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return yamlFiles(path);
    return entry.name.endsWith('.yaml') ? [path] : [];
  });
}

/** Every Airlock object in examples/ (valid and invalid), by kind. */
export const exampleObjects: ExampleObject[] = yamlFiles(join(repoRoot, 'examples')).flatMap((file) =>
  parseAllDocuments(readFileSync(file, 'utf8')).flatMap((doc) => {
    const object = doc.toJS() as Record<string, unknown> | null;
    const kind = object?.kind;
    if (!object || (kind !== 'ModelProvider' && kind !== 'MCPBackend' && kind !== 'AgentSandbox')) return [];
    return [{ file: file.slice(repoRoot.length + 1), kind, object }];
  }),
);

/** Line-level edits of YAML text: what a careless hand or a broken template does to a file. */
export type LineEdit =
  | { kind: 'drop'; at: number }
  | { kind: 'duplicate'; at: number }
  | { kind: 'indent'; at: number; by: number }
  | { kind: 'insert'; at: number; text: string }
  | { kind: 'cut'; at: number };

/** YAML constructs a config file should never be able to abuse. */
const YAML_SNIPPETS = [
  'version: 2',
  'version: "1"',
  'version: 1.0',
  '---',
  '...',
  '%YAML 1.1',
  '%TAG ! tag:example.com,2000:',
  '&anchor',
  '*anchor',
  '<<: *anchor',
  '<<: {}',
  'x: !!binary aGVsbG8=',
  'x: !!set {a, b}',
  'x: !!timestamp 2001-12-14t21:59:43.10-05:00',
  'x: !!js/function "function () { return process.exit(1) }"',
  'x: !!python/object/apply:os.system ["id"]',
  'x: !custom tag',
  '? complex key',
  ': value',
  '- item',
  '\t tab: indented',
  'key: "unterminated',
  "key: 'unterminated",
  'key: |',
  'key: >-',
  'key: [1, 2',
  'key: {a: 1',
  '# comment',
  'key: 0o777',
  'key: 0x1F',
  'key: .inf',
  'key: -.inf',
  'key: .nan',
  'key: ~',
  'key: null',
  'key: yes',
  'key: 1e400',
  'key: 123456789012345678901234567890',
  'key: \u0000',
  '\ufeffkey: bom',
  '__proto__: {polluted: true}',
  'constructor: {prototype: {polluted: true}}',
  `long: ${'x'.repeat(100_000)}`,
  `${'['.repeat(2_000)}${']'.repeat(2_000)}`,
  `${'{a: '.repeat(2_000)}1${'}'.repeat(2_000)}`,
];

/** Billion laughs: aliases that expand exponentially. The yaml library's alias limit must stop it. */
export const BILLION_LAUGHS = [
  'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
  ...Array.from({ length: 8 }, (_, i) => {
    const prev = String.fromCharCode(97 + i);
    const next = String.fromCharCode(98 + i);
    return `${next}: &${next} [${Array.from({ length: 9 }, () => `*${prev}`).join(',')}]`;
  }),
  'version: *i',
].join('\n');

export const lineEdits: fc.Arbitrary<LineEdit[]> = fc.array(
  fc.oneof(
    fc.record({ kind: fc.constant('drop' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('duplicate' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('indent' as const), at: fc.nat(), by: fc.integer({ min: -4, max: 4 }) }),
    fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), text: fc.oneof(fc.constantFrom(...YAML_SNIPPETS), fc.string({ maxLength: 30 })) }),
    fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
  ),
  { minLength: 1, maxLength: 4 },
);

/** Applies line edits to YAML text. */
export function editLines(text: string, edits: LineEdit[]): string {
  let lines = text.split('\n');
  for (const edit of edits) {
    const at = edit.at % (lines.length + 1);
    const line = lines[at] ?? '';
    if (edit.kind === 'drop') lines.splice(at, 1);
    else if (edit.kind === 'duplicate') lines.splice(at, 0, line);
    else if (edit.kind === 'indent') lines[at] = edit.by >= 0 ? ' '.repeat(edit.by) + line : line.slice(Math.min(-edit.by, line.length - line.trimStart().length));
    else if (edit.kind === 'insert') lines.splice(at, 0, (lines[at]?.match(/^\s*/)?.[0] ?? '') + edit.text);
    else lines = lines.slice(0, at);
  }
  return lines.join('\n');
}
