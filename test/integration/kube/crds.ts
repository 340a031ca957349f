/** Test-file set-up against the shared control plane: CRDs installed, a namespace of its own. */
import { join } from 'node:path';
import { installCrds as install } from '../../controlplane/kubectl.js';
import { kubectl } from './kubectl.js';

export const repoRoot = join(import.meta.dirname, '../../..');

/** Applies crds/ server-side and waits until every CRD is Established. */
export function installCrds(): Promise<void> {
  return install(kubectl(), join(repoRoot, 'crds'));
}

/** Creates a namespace with a unique name for one test file. */
export async function freshNamespace(prefix: string): Promise<string> {
  const name = `${prefix}-${Math.random().toString(36).slice(2, 8)}`;
  await kubectl().ok(['create', 'namespace', name]);
  return name;
}
