/**
 * A stand-in for the kubelet, for the local e2e test and `npm run demo`: runs a pod the API
 * server stored (mutated by the Airlock webhook) on this machine without a container runtime.
 * Needs root (namespaces and mounts), util-linux and iproute2; see test/e2e/README.md.
 */
export { runPod, execIn, type RunPodOptions, type RunningPod, type ExecResult } from './pod.js';
export { containerArgv, containerEnv, containerIdentity, type RunningContainer } from './container.js';
export { sourceImages, hostCommand, nodeWithTsx, repoRoot, SYSTEM_PATH, type ImageRuntime, type ImageResolver, type SourceImages } from './runtime.js';
export { materialiseVolumes, type PodVolumes, type MaterialisedVolume } from './volumes.js';
