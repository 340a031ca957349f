/** The sidecar's MCP gateway: one Streamable HTTP endpoint for every MCP backend of the sandbox. */
export { createMcpGateway, DEFAULT_GATEWAY_TUNING } from './gateway.js';
export type { GatewayTuning, McpGateway, McpGatewayOptions, McpGatewayView, ToolView } from './gateway.js';
export type { BackendState, BackendStatus, SecretSink } from './backend.js';
export { toolHash, approvalState } from './pinning.js';
export type { ToolApprovalState, HashableTool } from './pinning.js';
export { BUILTIN_PREFIX, toolError } from './builtin-tools.js';
export type { BuiltinResource, BuiltinTool } from './builtin-tools.js';
