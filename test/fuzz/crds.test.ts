/**
 * The CRDs under fuzzing against the real API server: a bounded sample of mutated example
 * objects (spec mutations of every Airlock object in examples/) is sent with
 * `kubectl apply --dry-run=server` (a create with dryRun=All). Properties: the API server always answers,
 * either accepting the object or refusing it with a 422 (a 400 for an unknown field, under strict
 * field validation) that names a field, never with a 5xx,
 * and kubectl never crashes; and every object the API server accepts (as it would store it,
 * defaults applied) is accepted by the operator's zod schema of its kind, since the operator
 * parses exactly what the API server stored.
 *
 * Runs in the `kube` vitest project (the control plane's globalSetup provides `kubeconfig` and
 * `controlPlaneBin`). Budget: 120 objects, fixed seed, printed (see kit.ts).
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { AgentSandbox, MCPBackend, ModelProvider } from '../../operator/src/api/index.js';
import { freshNamespace, installCrds } from '../integration/kube/crds.js';
import { kubectl } from '../integration/kube/kubectl.js';
import { exampleObjects, type AirlockKind } from './documents.js';
import { fuzzParameters } from './kit.js';
import { mutate, mutations, serialize } from './mutate.js';

const SCHEMAS: Record<AirlockKind, typeof ModelProvider | typeof MCPBackend | typeof AgentSandbox> = { ModelProvider, MCPBackend, AgentSandbox };

let namespace: string;
let counter = 0;

beforeAll(async () => {
  await installCrds();
  namespace = await freshNamespace('fuzz');
});

/** What the API server made of one object, from kubectl's output at -v=6 (which logs each request's status). */
interface ServerAnswer {
  code: number;
  /** HTTP status of the apply request, when kubectl sent one. */
  status: number | undefined;
  stdout: string;
  stderr: string;
}

/**
 * Client-side apply, as the brief of this test says: with `--server-side` the API server answers
 * a wrongly typed field (`spec: ""`) with a 500 "failed to create typed patch object", a known
 * upstream bug (kubernetes/kubernetes#139253) that no CRD can avoid.
 */
async function dryRunApply(text: string): Promise<ServerAnswer> {
  const result = await kubectl().run(['apply', '--dry-run=server', '-n', namespace, '-o', 'json', '-v=6', '-f', '-'], text);
  const statuses = [...result.stderr.matchAll(/"Response" verb="(?:POST|PATCH)" url="[^"]*" status="(\d{3})/g)].map((m) => Number(m[1]));
  return { ...result, status: statuses.at(-1) };
}

describe('CRDs under fuzzing (kubectl apply --dry-run=server)', () => {
  it('answer every mutated object with an accept or a refusal naming a field, never a 5xx; what they accept the operator can parse', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...exampleObjects), mutations(3, 'document'), async (example, plan) => {
        const name = `fz-${++counter}`;
        const object = { ...example.object, metadata: { name }, spec: mutate(example.object.spec, plan) };
        const text = serialize(object) ?? '';
        const answer = await dryRunApply(text);
        const context = `${example.file} ${example.kind} ${text.slice(0, 300)}\n-> exit ${answer.code}, status ${answer.status}\n${answer.stderr.split('\n').filter((l) => !/^I\d{4} /.test(l)).join('\n').slice(0, 600)}`;
        expect(answer.stderr, context).not.toMatch(/panic:|goroutine \d+ \[/);
        if (answer.status !== undefined) expect(answer.status, context).toBeLessThan(500);
        if (answer.code === 0) {
          expect([200, 201], context).toContain(answer.status);
          const stored = JSON.parse(answer.stdout) as unknown;
          const parsed = SCHEMAS[example.kind].safeParse(stored);
          expect(parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`), `the operator's schema refuses what the API server accepted: ${context}`).toEqual([]);
          return;
        }
        if (answer.status === undefined) {
          // kubectl refused the input itself (e.g. a duplicate key) without asking the server.
          expect(answer.stderr, context).toMatch(/^error: /m);
          return;
        }
        // 422 for invalid values; 400 for fields the schema does not know (strict field validation).
        expect([400, 422], context).toContain(answer.status);
        expect(answer.stderr, `the refusal names the field: ${context}`).toMatch(/\bspec(\.[\w[\]-]+)*|metadata\.[\w.]+/);
      }),
      fuzzParameters('crds/apply-dry-run', { seed: 0xc7d5, numRuns: 120 }),
    );
  });
});
