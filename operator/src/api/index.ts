/** The Airlock API (airlock.dev/v1alpha1): schemas, types and CRD rendering. */
export * from './common.js';
export * from './model-provider.js';
export * from './mcp-backend.js';
export * from './agent-sandbox.js';
export { KINDS } from './kinds.js';
export { renderCrd, structuralSchemaOf, toStructural, StructuralSchemaError } from './crd.js';
export type { KindInfo } from './crd.js';
export { crdFiles } from './crd-files.js';
