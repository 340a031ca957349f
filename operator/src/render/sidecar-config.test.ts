import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { SidecarConfig } from '@airlock/sidecar/config';
import { AgentSandbox, MCPBackend } from '../api/index.js';
import { renderSidecarConfig } from './sidecar-config.js';

const meta = (name: string) => ({ name, namespace: 'team-a' });

describe('renderSidecarConfig', () => {
  it('carries the sandbox mcpHealth and a stdio backend per-session processes into the sidecar config', () => {
    const sandbox = AgentSandbox.parse({
      apiVersion: 'airlock.dev/v1alpha1',
      kind: 'AgentSandbox',
      metadata: meta('agents'),
      spec: { mcpBackends: ['git'], mcpHealth: { intervalMs: 5_000, backoffBaseMs: 200, backoffMaxMs: 4_000 } },
    });
    const backend = MCPBackend.parse({
      apiVersion: 'airlock.dev/v1alpha1',
      kind: 'MCPBackend',
      metadata: meta('git'),
      spec: { transport: 'stdio', stdio: { command: 'mcp-server-git', processes: 'per-session', maxProcesses: 4 } },
    });
    const { yaml } = renderSidecarConfig({ sandbox, providers: [], backends: [backend], secret: () => undefined });
    const config = SidecarConfig.parse(parse(yaml));
    expect(config.mcp.health).toEqual({ intervalMs: 5_000, backoffBaseMs: 200, backoffMaxMs: 4_000 });
    expect(config.mcp.backends[0]?.stdio).toMatchObject({ command: 'mcp-server-git', processes: 'per-session', maxProcesses: 4 });
  });

  it('has the sidecar listen in its own socket directory whatever socket.dir the sandbox names (that is where the agent finds it)', () => {
    const sandbox = AgentSandbox.parse({ apiVersion: 'airlock.dev/v1alpha1', kind: 'AgentSandbox', metadata: meta('agents'), spec: { socket: { dir: '/app/sidecar/dist', mode: '0666', group: 3000 } } });
    const config = SidecarConfig.parse(parse(renderSidecarConfig({ sandbox, providers: [], backends: [], secret: () => undefined }).yaml));
    expect(config.listen.socket).toEqual({ path: '/var/run/airlock/airlock.sock', mode: '0666', group: 3000 });
  });

  it('leaves the sidecar defaults when the sandbox says nothing', () => {
    const sandbox = AgentSandbox.parse({ apiVersion: 'airlock.dev/v1alpha1', kind: 'AgentSandbox', metadata: meta('agents'), spec: { mcpBackends: ['git'] } });
    const backend = MCPBackend.parse({ apiVersion: 'airlock.dev/v1alpha1', kind: 'MCPBackend', metadata: meta('git'), spec: { transport: 'stdio', stdio: { command: 'mcp-server-git' } } });
    const config = SidecarConfig.parse(parse(renderSidecarConfig({ sandbox, providers: [], backends: [backend], secret: () => undefined }).yaml));
    expect(config.mcp.health).toEqual({ intervalMs: 15_000, backoffBaseMs: 500, backoffMaxMs: 5_000 });
    expect(config.mcp.backends[0]?.stdio?.processes).toBe('shared');
  });
});
