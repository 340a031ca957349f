/** The webhook: sidecar injection, the pod policy for the pod's whole life, and the HTTPS server around them. */
export * from './settings.js';
export { validatePod, validateEphemeral, secretGuard, secretReferences, formatRefusal, normalizeCapability, sandboxNameOf } from './validate.js';
export type { Refusal, SecretGuard } from './validate.js';
export { decideUpdate, carriesSidecar, sharesLimits } from './lifecycle.js';
export { injectPod, injectionRecordOf, appEnv, podName, harden } from './inject.js';
export type { InjectionRecord, InjectionResult } from './inject.js';
export { renderSidecar, renderFirewall, renderVolumes, allowArgument } from './render.js';
export { podPatch, applyPodPatch } from './patch.js';
export type { PatchOperation } from './patch.js';
export { admit, AdmissionReviewRequest } from './admission.js';
export type { AdmissionDeps, AdmissionResponse, AdmissionReviewResponse, ReferencedSecrets, SandboxLookup } from './admission.js';
export { buildWebhookApp, serve } from './server.js';
export type { ServeOptions, WebhookAppOptions, WebhookServer } from './server.js';
