/**
 * Vitest globalSetup for the `kube` project: builds (or reuses) the control plane binaries,
 * starts one shared kube-apiserver + etcd for all test files, and hands tests its admin
 * kubeconfig (`inject('kubeconfig')`) and the binaries directory (`inject('controlPlaneBin')`);
 * context.ts declares their types.
 */
import type { TestProject } from 'vitest/node';
import { ensureBinaries, startControlPlane } from './control-plane.js';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const binaries = await ensureBinaries();
  const versions = `kube-apiserver ${binaries.kubeVersion} + etcd ${binaries.etcdVersion}`;
  const origin = binaries.cached ? 'reused from cache (built earlier)' : `built in ${Math.round(binaries.buildSeconds)}s`;
  const started = performance.now();
  const controlPlane = await startControlPlane({ binDir: binaries.dir });
  const startSeconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(`control plane: ${versions} ${origin}, started in ${startSeconds}s at ${controlPlane.server}`);
  project.provide('kubeconfig', controlPlane.kubeconfigYaml);
  project.provide('controlPlaneBin', binaries.dir);
  return () => controlPlane.stop();
}
