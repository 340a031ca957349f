/** The three Airlock kinds with the names and columns their CRDs carry. */
import { AgentSandbox, AgentSandboxSpec, AgentSandboxStatus } from './agent-sandbox.js';
import type { KindInfo } from './crd.js';
import { MCPBackend, MCPBackendSpec, MCPBackendStatus } from './mcp-backend.js';
import { ModelProvider, ModelProviderSpec, ModelProviderStatus } from './model-provider.js';

export const KINDS: readonly KindInfo[] = [
  {
    kind: 'ModelProvider',
    plural: 'modelproviders',
    singular: 'modelprovider',
    shortNames: ['mp'],
    description: ModelProvider.description ?? '',
    spec: ModelProviderSpec,
    status: ModelProviderStatus,
    printerColumns: [
      { name: 'Type', type: 'string', jsonPath: '.spec.type', description: 'Provider API type.' },
      { name: 'Priority', type: 'integer', jsonPath: '.spec.priority', description: 'Failover tier; lower is tried first.' },
      { name: 'Models', type: 'integer', jsonPath: '.status.modelCount', description: 'Number of models served.' },
    ],
  },
  {
    kind: 'MCPBackend',
    plural: 'mcpbackends',
    singular: 'mcpbackend',
    shortNames: ['mcpb'],
    description: MCPBackend.description ?? '',
    spec: MCPBackendSpec,
    status: MCPBackendStatus,
    printerColumns: [
      { name: 'Transport', type: 'string', jsonPath: '.spec.transport', description: 'MCP transport.' },
      { name: 'Tools', type: 'integer', jsonPath: '.status.toolCount', description: 'Tools discovered.' },
      { name: 'Pending', type: 'integer', jsonPath: '.status.pendingCount', description: 'Tools waiting for approval.' },
    ],
  },
  {
    kind: 'AgentSandbox',
    plural: 'agentsandboxes',
    singular: 'agentsandbox',
    shortNames: ['asbx'],
    description: AgentSandbox.description ?? '',
    spec: AgentSandboxSpec,
    status: AgentSandboxStatus,
    printerColumns: [
      { name: 'Providers', type: 'string', jsonPath: '.status.readyProviders', description: 'Model providers ready of those the sandbox names (ready/named).' },
      { name: 'Backends', type: 'string', jsonPath: '.status.readyBackends', description: 'MCP backends ready of those the sandbox names (ready/named).' },
      { name: 'Pods', type: 'integer', jsonPath: '.status.injectedPods', description: 'Pods running with the sidecar.' },
      { name: 'Outdated', type: 'integer', jsonPath: '.status.outdatedPods', description: 'Pods started with isolation or a sidecar image the sandbox no longer gives (restart them).' },
      { name: 'Spend', type: 'number', jsonPath: '.status.usage.spentUSD', description: 'Spend today (UTC) in USD across all the sandbox\'s pods.' },
      { name: 'Budget', type: 'number', jsonPath: '.spec.limits.dailyBudgetUSD', description: 'Daily budget in USD.' },
      { name: 'Network', type: 'string', jsonPath: '.spec.isolation.network', description: 'Network isolation mode.', priority: 1 },
    ],
  },
];
