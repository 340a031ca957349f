/**
 * Property tests of the schemas at Airlock's two configuration boundaries, from mutations of
 * the documented examples:
 * - the sidecar config loader (`parseConfig`): it throws nothing but ConfigError; every issue
 *   has a message and a path, and for a YAML mapping the path is non-empty and leads into the
 *   document; the verdict is deterministic; an accepted config written back out is accepted
 *   as the same config (what the operator renders, the sidecar reads unchanged);
 * - the zod schemas of the three custom resources: `safeParse` never throws, issues are
 *   located, verdicts are deterministic and defaults are idempotent.
 *
 * Budget: about 2,200 parses, fixed seeds, printed (see kit.ts to change them).
 */
import fc from 'fast-check';
import { parse, stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { AgentSandbox, AgentSandboxSpec, MCPBackend, MCPBackendSpec, ModelProvider, ModelProviderSpec } from '../../operator/src/api/index.js';
import { ConfigError, parseConfig, type ConfigIssue } from '../../sidecar/src/config/index.js';
import { BILLION_LAUGHS, editLines, exampleObjects, lineEdits, sidecarConfigExample, type AirlockKind } from './documents.js';
import { fuzzParameters } from './kit.js';
import { byteMutations, mutate, mutateBytes, mutations, RawJson, serialize } from './mutate.js';

type Verdict = { ok: true; config: unknown } | { ok: false; issues: ConfigIssue[] };

/** parseConfig's verdict; anything thrown that is not a ConfigError escapes and fails the property. */
async function verdict(text: string): Promise<Verdict> {
  try {
    return { ok: true, config: await parseConfig(text, 'fuzz.yaml') };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return { ok: false, issues: err.issues };
  }
}

/** The raw YAML value the loader validates, or a marker when the text is not YAML. */
function rawDocument(text: string): unknown {
  try {
    return parse(text, { prettyErrors: true, logLevel: 'silent' });
  } catch {
    return NOT_YAML;
  }
}
const NOT_YAML = Symbol('not YAML');

const isMapping = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Whether `path` (dot-joined) leads into `doc`: every segment but the last is an existing key,
 * and the last is an existing key or a plain field name (the missing field). Keys may contain
 * dots themselves (a model alias `gpt-4.1`), so any split of the path at dots may walk it.
 */
function leadsInto(node: unknown, path: string): boolean {
  if (!path.includes('.')) return path !== '' || (isMapping(node) && Object.hasOwn(node, ''));
  if (!Array.isArray(node) && !isMapping(node)) return false;
  const keys = Array.isArray(node) ? node.map((_, i) => String(i)) : Object.keys(node);
  return keys.some((key) => path === key || (path.startsWith(`${key}.`) && leadsInto(Array.isArray(node) ? node[Number(key)] : node[key], path.slice(key.length + 1))));
}

/** Asserts every property of parseConfig on one text. */
async function checkConfigText(text: string): Promise<void> {
  const first = await verdict(text);
  expect(await verdict(text), 'parsing is deterministic').toEqual(first);
  if (first.ok) {
    const again = await verdict(stringify(first.config));
    expect(again, 'an accepted config, written back out, is accepted as the same config').toEqual(first);
    return;
  }
  expect(first.issues.length).toBeGreaterThan(0);
  const raw = rawDocument(text);
  for (const issue of first.issues) {
    expect(typeof issue.path).toBe('string');
    expect(issue.message.length, JSON.stringify(issue)).toBeGreaterThan(0);
    // Root-level issues are for the document as a whole (not YAML, too deep, not a mapping).
    if (raw === NOT_YAML || issue.message.startsWith('not valid YAML')) continue;
    if (isMapping(raw)) {
      expect(issue.path, `an issue of a YAML mapping names its field: ${JSON.stringify(issue)}`).not.toBe('');
      expect(leadsInto(raw, issue.path), `the path of ${JSON.stringify(issue)} leads into the document`).toBe(true);
    }
  }
}

const exampleConfig = parse(sidecarConfigExample) as unknown;
const containsRaw = (value: unknown): boolean =>
  value instanceof RawJson || (Array.isArray(value) ? value.some(containsRaw) : isMapping(value) && Object.values(value).some(containsRaw));

describe('sidecar config schema (parseConfig)', () => {
  it('accepts the documented example', async () => {
    expect(await verdict(sidecarConfigExample)).toMatchObject({ ok: true });
  });

  it('on mutated documents, written as YAML or JSON: only ConfigError, located issues, deterministic, stable round trip', async () => {
    await fc.assert(
      fc.asyncProperty(mutations(4, 'document'), fc.boolean(), async (plan, asYaml) => {
        const doc = mutate(exampleConfig, plan);
        const text = asYaml && !containsRaw(doc) ? stringify(doc) : (serialize(doc) ?? '');
        await checkConfigText(text);
      }),
      fuzzParameters('schemas/config-documents', { seed: 0xc0f, numRuns: 700 }),
    );
  });

  it("reads the operator's JSON rendering exactly as the YAML parser reads the same document", async () => {
    // The operator writes `# comment` + JSON.stringify(config, null, 2); the loader reads that form
    // with JSON.parse instead of the YAML parser. One space after the first brace makes the text
    // something else than JSON.stringify's rendering, so it goes to the YAML parser: both verdicts,
    // accepted config or issues, must be the same.
    await fc.assert(
      fc.asyncProperty(mutations(4, 'document'), async (plan) => {
        const doc = mutate(exampleConfig, plan);
        const json = JSON.stringify(doc, null, 2) as string | undefined;
        if (json === undefined || !json.startsWith('{')) return;
        const rendered = `# Rendered by airlock-operator. Do not edit.\n${json}\n`;
        expect(await verdict(rendered)).toEqual(await verdict(rendered.replace('{', '{ ')));
      }),
      fuzzParameters('schemas/config-rendered-json', { seed: 0x15, numRuns: 300 }),
    );
  });

  it('on edited YAML text (lines, tags, anchors, broken bytes): only ConfigError, located issues, deterministic', async () => {
    await fc.assert(
      fc.asyncProperty(lineEdits, fc.option(byteMutations(2), { freq: 3, nil: null }), async (edits, bytes) => {
        const text = editLines(sidecarConfigExample, edits);
        await checkConfigText(bytes ? mutateBytes(Buffer.from(text), bytes).toString('utf8') : text);
      }),
      fuzzParameters('schemas/config-text', { seed: 0x7e47, numRuns: 700 }),
    );
  });

  it('gives the same error for a too-deeply nested document however deep the caller\'s stack is (found by fuzzing)', async () => {
    // The YAML parser runs out of stack and reports where it was when it did, which depends on
    // how much stack the caller had left: check-config and a reload would report different columns.
    const text = `version: 1\nsandbox: ${'['.repeat(5_000)}${']'.repeat(5_000)}\n`;
    const nested = (depth: number): Promise<Verdict> => (depth === 0 ? verdict(text) : nested(depth - 1));
    const shallow = await verdict(text);
    expect(shallow).toMatchObject({ ok: false, issues: [{ path: '' }] });
    expect(await nested(300)).toEqual(shallow);
  });

  it('refuses a billion-laughs document with a ConfigError instead of expanding it', async () => {
    const result = await verdict(BILLION_LAUGHS);
    expect(result).toMatchObject({ ok: false, issues: [{ path: '' }] });
  });
});

const SCHEMAS: Record<AirlockKind, { object: typeof ModelProvider | typeof MCPBackend | typeof AgentSandbox; spec: typeof ModelProviderSpec | typeof MCPBackendSpec | typeof AgentSandboxSpec }> = {
  ModelProvider: { object: ModelProvider, spec: ModelProviderSpec },
  MCPBackend: { object: MCPBackend, spec: MCPBackendSpec },
  AgentSandbox: { object: AgentSandbox, spec: AgentSandboxSpec },
};

describe('custom resource schemas (zod)', () => {
  it('has examples of every kind to start from', () => {
    expect(new Set(exampleObjects.map((e) => e.kind))).toEqual(new Set(['ModelProvider', 'MCPBackend', 'AgentSandbox']));
  });

  it('on mutated example objects: safeParse never throws, issues are located, verdicts deterministic, defaults idempotent', () => {
    fc.assert(
      fc.property(fc.constantFrom(...exampleObjects), mutations(4, 'document'), fc.boolean(), (example, plan, wholeObject) => {
        const schema = SCHEMAS[example.kind];
        // Through JSON text, as the API server hands objects to the operator.
        const text = serialize(wholeObject ? mutate(example.object, plan) : { ...example.object, spec: mutate(example.object.spec, plan) }) ?? 'null';
        let value: unknown;
        try {
          value = JSON.parse(text);
        } catch {
          return; // Not JSON (e.g. 1e400 is, but a lone NUL escape may not be): nothing reaches the schema.
        }
        for (const [target, input] of [
          [schema.object, value],
          [schema.spec, isMapping(value) ? value.spec : undefined],
        ] as const) {
          const first = target.safeParse(input);
          expect(target.safeParse(input), 'verdicts are deterministic').toEqual(first);
          if (first.success) {
            const again = target.safeParse(JSON.parse(JSON.stringify(first.data)));
            expect(again.success && JSON.stringify(again.data), 'parsing what was parsed changes nothing').toBe(JSON.stringify(first.data));
            continue;
          }
          for (const issue of first.error.issues) {
            expect(Array.isArray(issue.path) && issue.path.every((p) => typeof p === 'string' || typeof p === 'number'), JSON.stringify(issue)).toBe(true);
            expect(issue.message.length).toBeGreaterThan(0);
          }
        }
      }),
      fuzzParameters('schemas/crd-objects', { seed: 0xc4d, numRuns: 800 }),
    );
  });
});
