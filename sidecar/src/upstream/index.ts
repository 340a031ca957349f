/** The sidecar's HTTP client and its failure classes, shared with the operator (provider probe, usage collector). */
export { bodyText, CallAbort, ProviderClient, type ClientOptions, type UpstreamAnswer, type UpstreamResponse } from './client.js';
export { classifyError, UpstreamFailure, UpstreamTimeout } from './failure.js';
