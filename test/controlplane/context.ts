/**
 * What the `kube` project's global setup gives each test file, and a typed way to read it.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { inject } from 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Admin kubeconfig YAML of the shared control plane started by global-setup.ts. */
    kubeconfig: string;
    /** Directory of the control plane binaries build.sh produced (kube-apiserver, etcd, ...). */
    controlPlaneBin: string;
  }
}

/**
 * A fresh admin KubeConfig for the shared control plane. Only works in a test project whose
 * globalSetup is test/controlplane/global-setup.ts.
 */
export function sharedKubeConfig(): KubeConfig {
  const yaml = inject('kubeconfig');
  if (!yaml) throw new Error('no shared control plane: run this test in the vitest project that uses test/controlplane/global-setup.ts');
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromString(yaml);
  return kubeConfig;
}
