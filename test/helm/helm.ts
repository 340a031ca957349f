/**
 * helm for the chart tests: built once from the Go module proxy by build.sh (cached outside the
 * repo, like the test control plane), then run the way a user runs it. Rendered manifests come
 * back parsed, so tests assert on objects rather than on text.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubernetesObject } from '@kubernetes/client-node';
import { parseAllDocuments, stringify } from 'yaml';

const here = import.meta.dirname;
export const repoRoot = join(here, '../..');
export const chartDir = join(repoRoot, 'charts/airlock');
/** The non-default values the chart is linted, rendered and applied with. */
export const customValuesFile = join(here, 'fixtures/custom-values.yaml');

/** helm could not be built or found; the message says how to get it. */
export class HelmUnavailableError extends Error {
  override readonly name = 'HelmUnavailableError';
}

let helmPath: Promise<string> | undefined;

/**
 * The path of the pinned helm, building it on first use (a few minutes, once per machine).
 * Callers run this in a beforeAll with a long timeout; a test that needs helm must fail, never
 * skip, when it cannot be had.
 * @throws {HelmUnavailableError} with build.sh's explanation (e.g. Go is not installed).
 */
export function ensureHelm(): Promise<string> {
  return (helmPath ??= new Promise<string>((resolve, reject) => {
    const child = spawn('bash', [join(here, 'build.sh')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      process.stderr.write(chunk);
      stderr = (stderr + chunk).slice(-4000);
    });
    child.on('error', reject).on('close', (code) => {
      const path = stdout.trim().split('\n').pop() ?? '';
      if (code === 0 && path) return resolve(path);
      reject(new HelmUnavailableError(`the chart tests need helm, which test/helm/build.sh builds from the Go module proxy, and it failed (exit ${code}):\n${stderr}\nRun \`bash test/helm/build.sh\` to see why.`));
    });
  }));
}

export interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs helm, with no cluster configured unless `kubeconfig` names one; resolves with its exit code
 * and output, never rejects on a non-zero exit.
 */
export async function helm(args: string[], kubeconfig = '/dev/null'): Promise<HelmResult> {
  const bin = await ensureHelm();
  // No kubeconfig by default: lint and template must not depend on, or touch, any cluster.
  const env = { ...process.env, KUBECONFIG: kubeconfig, HELM_CACHE_HOME: join(tmpdir(), 'airlock-helm-cache'), HELM_CONFIG_HOME: join(tmpdir(), 'airlock-helm-config') };
  return new Promise((resolve, reject) => {
    execFile(bin, args, { env, maxBuffer: 32 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') return reject(error);
      resolve({ code: typeof error?.code === 'number' ? error.code : 0, stdout, stderr });
    });
  });
}

/** How to render the chart. */
export interface RenderOptions {
  release?: string;
  namespace?: string;
  /** Values files, in order. */
  valuesFiles?: string[];
  /** Values given inline (written to a temp values file, applied after valuesFiles). */
  values?: Record<string, unknown>;
  /** Also render the chart's crds/ (as `helm template --include-crds`). */
  includeCrds?: boolean;
}

/** A rendered manifest with the fields tests read typed loosely. */
export type Manifest = KubernetesObject & { kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> } } & Record<string, unknown>;

/** Values and release options as helm flags; the caller removes `dir`. */
async function valueFlags(options: RenderOptions): Promise<{ flags: string[]; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'airlock-helm-values-'));
  const flags = [
    '--namespace', options.namespace ?? 'airlock-system',
    ...(options.valuesFiles ?? []).flatMap((file) => ['--values', file]),
  ];
  if (options.values) {
    const file = join(dir, 'values.yaml');
    await writeFile(file, stringify(options.values));
    flags.push('--values', file);
  }
  return { flags, dir };
}

/** `helm template`, parsed into objects. @throws when helm fails, with its stderr. */
export async function renderChart(options: RenderOptions = {}): Promise<Manifest[]> {
  const { flags, dir } = await valueFlags(options);
  try {
    const result = await helm(['template', options.release ?? 'airlock', chartDir, ...flags, ...(options.includeCrds ? ['--include-crds'] : [])]);
    if (result.code !== 0) throw new Error(`helm template failed (${result.code}):\n${result.stderr}`);
    return parseManifests(result.stdout);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** `helm lint --strict` with the given values. */
export async function lintChart(options: RenderOptions = {}): Promise<HelmResult> {
  const { flags, dir } = await valueFlags(options);
  try {
    return await helm(['lint', '--strict', chartDir, ...flags]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The NOTES.txt a user sees after `helm install` (a client-side dry run; no cluster needed). */
export async function renderNotes(options: RenderOptions = {}): Promise<string> {
  const { flags, dir } = await valueFlags(options);
  try {
    const result = await helm(['install', options.release ?? 'airlock', chartDir, ...flags, '--dry-run=client']);
    if (result.code !== 0) throw new Error(`helm install --dry-run=client failed (${result.code}):\n${result.stderr}`);
    const notes = result.stdout.split('\nNOTES:\n')[1];
    if (notes === undefined) throw new Error(`helm install --dry-run=client printed no NOTES:\n${result.stdout}`);
    return notes;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Multi-document YAML to objects, dropping empty documents (as kubectl does). */
export function parseManifests(yaml: string): Manifest[] {
  return parseAllDocuments(yaml)
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`rendered YAML does not parse: ${doc.errors.map((e) => e.message).join('; ')}`);
      return doc.toJS() as Manifest | null;
    })
    .filter((object): object is Manifest => object !== null);
}

/** Objects back to one YAML stream, e.g. for `kubectl apply -f -`. */
export function toYamlStream(objects: Manifest[]): string {
  return objects.map((object) => stringify(object)).join('---\n');
}

/** The one object of `kind` (and `name`, if given); throws when there is not exactly one. */
export function only(objects: Manifest[], kind: string, name?: string): Manifest {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (found.length !== 1) throw new Error(`expected one ${kind}${name ? ` ${name}` : ''}, found ${found.length}: ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`);
  return found[0]!;
}

/** API groups whose CRDs a plain cluster lacks; objects of these are optional extras of the chart. */
export const OPTIONAL_API_GROUPS = ['cert-manager.io', 'monitoring.coreos.com'];

/** Whether an object belongs to an API group in {@link OPTIONAL_API_GROUPS}. */
export function isOptionalKind(object: Manifest): boolean {
  return OPTIONAL_API_GROUPS.includes(object.apiVersion?.split('/')[0] ?? '');
}
