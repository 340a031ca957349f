/**
 * The sandbox NetworkPolicy: egress of sandbox pods limited to what the sidecar needs (the
 * providers' egress CIDRs, cluster DNS) and the sandbox's allowEgress entries; ingress denied but
 * for the sidecar's admin port from a configured source. A NetworkPolicy
 * sees the pod, not the process, so it is the coarse outer wall; the firewall init container is
 * the inner one that tells the sidecar from the agent.
 */
import { isIP } from 'node:net';
import type { V1NetworkPolicy, V1NetworkPolicyEgressRule, V1NetworkPolicyPeer } from '@kubernetes/client-node';
import { SANDBOX_LABEL, type AgentSandbox, type MCPBackend, type ModelProvider } from '../api/index.js';

/** Name of a sandbox's NetworkPolicy: the same as its ConfigMap. */
export { configMapNameFor as sandboxObjectName } from '../webhook/settings.js';
import { ADMIN_PORT, configMapNameFor as sandboxObjectName } from '../webhook/settings.js';

const peer = (cidr: string) => ({ ipBlock: { cidr } });

/**
 * The operator: its namespace, its usage port when sidecars read the sandbox-wide usage there (ADR
 * 0014), and the OTLP endpoint it has the sidecars export their spans to (the chart's
 * `telemetry.otlp.endpoint`).
 */
export interface OperatorPeer {
  namespace: string;
  usagePort?: number | undefined;
  otlpEndpoint?: string | undefined;
}

/**
 * The NetworkPolicy for a sandbox, or undefined when its isolation mode renders none. Inbound
 * connections to sandbox pods are denied too, except to the sidecar's admin port from the
 * operator's namespace (it collects each sidecar's usage there) and from `metricsFrom` (a
 * scraper): nothing in the cluster may open connections to the agent.
 */
export function renderNetworkPolicy(sandbox: AgentSandbox, providers: ModelProvider[], backends: MCPBackend[], operator?: OperatorPeer, metricsFrom: V1NetworkPolicyPeer[] = []): V1NetworkPolicy | undefined {
  const isolation = sandbox.spec.isolation;
  if (isolation.network === 'none') return undefined;
  const egress: V1NetworkPolicyEgressRule[] = [
    // Cluster DNS, wherever it runs: the sidecar resolves provider and backend names.
    { ports: [{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 53 }] },
  ];
  const cidrs = new Set<string>();
  let open = false;
  for (const p of providers) {
    const list = p.spec.egress?.cidrs ?? [];
    if (list.length === 0) open = true;
    list.forEach((c) => cidrs.add(c));
  }
  // HTTP MCP backends are named by URL, not address: they need the web ports open.
  if (backends.some((b) => b.spec.transport !== 'stdio')) open = true;
  if (cidrs.size > 0) egress.push({ to: [...cidrs].sort().map(peer) });
  if (open) egress.push({ ports: [{ protocol: 'TCP', port: 443 }, { protocol: 'TCP', port: 80 }] });
  const operatorNamespace = operator ? [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': operator.namespace } } }] : [];
  if (operator?.usagePort) egress.push({ to: operatorNamespace, ports: [{ protocol: 'TCP', port: operator.usagePort }] });
  const collector = operator?.otlpEndpoint ? collectorRule(operator.otlpEndpoint) : undefined;
  if (collector) egress.push(collector);
  for (const entry of isolation.allowEgress ?? []) {
    egress.push({ to: [peer(entry.cidr)], ...(entry.ports?.length ? { ports: entry.ports.flatMap((port) => [{ protocol: 'TCP', port }, { protocol: 'UDP', port }]) } : {}) });
  }
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: sandboxObjectName(sandbox.metadata.name), namespace: sandbox.metadata.namespace },
    spec: {
      podSelector: { matchLabels: { [SANDBOX_LABEL]: sandbox.metadata.name } },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [...operatorNamespace, ...metricsFrom].length > 0 ? [{ _from: [...operatorNamespace, ...metricsFrom], ports: [{ protocol: 'TCP', port: ADMIN_PORT }] }] : [],
      egress,
    },
  };
}

/**
 * Egress to the OTLP collector: its port, to its address when the endpoint names one, else to any
 * address (a Service name resolves to an address the policy cannot know). The policy sees the pod:
 * the firewall still lets only the sidecar out, so the agent does not reach the collector.
 */
function collectorRule(endpoint: string): V1NetworkPolicyEgressRule | undefined {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return undefined;
  }
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const ports = [{ protocol: 'TCP', port }];
  if (isIP(host) === 4) return { to: [peer(`${host}/32`)], ports };
  if (isIP(host) === 6) return { to: [peer(`${host}/128`)], ports };
  return { ports };
}
