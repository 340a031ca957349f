/** `@airlock/sidecar/config`: the version-1 sidecar configuration contract. */
export * from './schema.js';
export * from './load.js';
export * from './glob.js';
