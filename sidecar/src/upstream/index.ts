/** The sidecar's HTTP client and its failure classes, shared with the operator (provider probe, usage collector). */
export { bodyText, CallAbort, ProviderClient, RESERVED_HEADERS, type ClientOptions, type UpstreamAnswer, type UpstreamResponse } from './client.js';
export { classifyError, UpstreamFailure, UpstreamTimeout } from './failure.js';
export { hasInvalidChar } from './connection.js';
