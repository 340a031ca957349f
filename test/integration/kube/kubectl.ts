/** kubectl against the shared test control plane of the `kube` vitest project. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import { kubectlFor, type Kubectl } from '../../controlplane/kubectl.js';

let shared: Kubectl | undefined;

/** The kubectl of this test file, with the shared control plane's admin kubeconfig. */
export function kubectl(): Kubectl {
  if (!shared) {
    const dir = mkdtempSync(join(tmpdir(), 'airlock-kubectl-'));
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, inject('kubeconfig'), { mode: 0o600 });
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    shared = kubectlFor(inject('controlPlaneBin'), kubeconfig);
  }
  return shared;
}
