/**
 * examples/quickstart as the real-node e2e and `npm run demo` apply it: the manifests with the
 * provider pointed where the run wants it.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';

export const repoRoot = join(import.meta.dirname, '../..');

export const QUICKSTART_DIR = join(repoRoot, 'examples/quickstart');
export const SANDBOX = 'quickstart';
export const SANDBOX_LABEL = 'airlock.dev/sandbox';

/** What the quickstart's ModelProvider and its Secret become for one run. */
export interface ProviderChoice {
  /** ModelProvider spec fields to set (baseURL, ...). */
  spec?: Record<string, unknown>;
  /** The API key the Secret carries. */
  apiKey?: string;
}

/** The key Secret as examples/quickstart/README.md's `kubectl create secret ... | kubectl label` makes it. */
export function quickstartKeySecret(apiKey: string): Record<string, unknown> {
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'openai-key', labels: { 'airlock.dev/credential': 'true' } }, data: { 'api-key': Buffer.from(apiKey).toString('base64') } };
}

/**
 * The key Secret (README.md's step), then the YAML of examples/quickstart/*.yaml (not the agent
 * pod) with the provider adjusted, as one multi-document string for `kubectl apply -f -`.
 */
export async function quickstartManifests(choice: ProviderChoice = {}): Promise<string> {
  const files = (await readdir(QUICKSTART_DIR)).filter((f) => f.endsWith('.yaml')).sort();
  const docs: unknown[] = [quickstartKeySecret(choice.apiKey ?? 'sk-replace-me')];
  for (const file of files) {
    for (const doc of parseAllDocuments(await readFile(join(QUICKSTART_DIR, file), 'utf8'))) {
      const object = doc.toJS() as { kind?: string; spec?: Record<string, unknown> } | null;
      if (!object) continue;
      if (object.kind === 'ModelProvider') object.spec = { ...object.spec, ...choice.spec };
      docs.push(object);
    }
  }
  return docs.map((doc) => stringify(doc)).join('---\n');
}
