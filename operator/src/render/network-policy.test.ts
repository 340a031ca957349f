import { describe, expect, it } from 'vitest';
import { AgentSandbox, ModelProvider } from '../api/index.js';
import { renderNetworkPolicy } from './network-policy.js';

const sandbox = AgentSandbox.parse({ apiVersion: 'airlock.dev/v1alpha1', kind: 'AgentSandbox', metadata: { name: 'agents', namespace: 'team-a' }, spec: { providers: ['oa'] } });
const provider = ModelProvider.parse({ apiVersion: 'airlock.dev/v1alpha1', kind: 'ModelProvider', metadata: { name: 'oa', namespace: 'team-a' }, spec: { type: 'openai', models: [{ name: 'm' }], egress: { cidrs: ['203.0.113.0/24'] } } });

describe('renderNetworkPolicy', () => {
  it('lets sandbox pods reach the OTLP collector the sidecars export to: its port, at its address when the endpoint names one', () => {
    const egress = (otlpEndpoint?: string) => renderNetworkPolicy(sandbox, [provider], [], { namespace: 'airlock-system', otlpEndpoint })!.spec!.egress!;
    // Before: no rule, so on a CNI that enforces policies every span was dropped.
    expect(egress('http://otel-collector.observability:4318')).toContainEqual({ ports: [{ protocol: 'TCP', port: 4318 }] });
    expect(egress('https://otlp.example.com')).toContainEqual({ ports: [{ protocol: 'TCP', port: 443 }] });
    expect(egress('http://10.96.50.10:4318')).toContainEqual({ to: [{ ipBlock: { cidr: '10.96.50.10/32' } }], ports: [{ protocol: 'TCP', port: 4318 }] });
    expect(egress('http://[fd00::10]:4318')).toContainEqual({ to: [{ ipBlock: { cidr: 'fd00::10/128' } }], ports: [{ protocol: 'TCP', port: 4318 }] });
    // Without tracing, nothing more than the provider's CIDRs and DNS.
    expect(egress()).toEqual([{ ports: [{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 53 }] }, { to: [{ ipBlock: { cidr: '203.0.113.0/24' } }] }]);
  });
});
