/**
 * Discovery: what the operator learns by calling out (a provider's models, an MCP server's
 * tools) and the pure approval view of those tools. The controllers call these; nothing here
 * touches the Kubernetes API.
 */
export { probeProvider } from './provider-probe.js';
export type { ProbeResult, ProbeTarget } from './provider-probe.js';
export { CLIENT_INFO, discoverTools } from './tool-discovery.js';
export { approvalMessage, definitionStates, inList, MAX_CONDITION_MESSAGE, toolStates } from './approval.js';
export type { DiscoveryResult, DiscoveryTarget } from './tool-discovery.js';
export type { ApprovalMessageTarget, ApprovalSpec } from './approval.js';
