import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { SidecarConfig } from '@airlock/sidecar/config';
import { AgentSandbox, MCPBackend, ModelProvider } from '../api/index.js';
import { newUsageToken } from '../usage/token.js';
import { renderSidecarConfig, UnfitSecretError } from './sidecar-config.js';

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

  it('writes next to each provider key the origin it is for, in the credentials Secret (the volume the key travels in)', () => {
    const sandbox = AgentSandbox.parse({ apiVersion: 'airlock.dev/v1alpha1', kind: 'AgentSandbox', metadata: meta('agents'), spec: { providers: ['oa', 'local'] } });
    const provider = (name: string, spec: object) =>
      ModelProvider.parse({ apiVersion: 'airlock.dev/v1alpha1', kind: 'ModelProvider', metadata: meta(name), spec: { models: [{ name: 'm' }], ...spec } });
    const keys = { apiKeys: [{ secretName: 'k', key: 'a' }, { secretName: 'k', key: 'b' }] };
    const providers = [provider('oa', { type: 'openai', ...keys }), provider('local', { type: 'openai-compatible', baseURL: 'http://10.0.0.5:8000/v1/', apiKeys: [{ secretName: 'k', key: 'a' }] })];
    const secret = () => ({ data: { a: Buffer.from('sk-a').toString('base64'), b: Buffer.from('sk-b').toString('base64') } });
    const { credentials, yaml } = renderSidecarConfig({ sandbox, providers, backends: [], secret });
    const decoded = Object.fromEntries(Object.entries(credentials).map(([file, value]) => [file, Buffer.from(value, 'base64').toString()]));
    expect(decoded).toEqual({
      'provider.oa.0': 'sk-a',
      'provider.oa.0.origin': 'https://api.openai.com',
      'provider.oa.1': 'sk-b',
      'provider.oa.1.origin': 'https://api.openai.com',
      'provider.local.0': 'sk-a',
      'provider.local.0.origin': 'http://10.0.0.5:8000',
      'config.yaml': yaml,
    });
    // The config names the key files and has the sidecar require each key's origin next to it.
    expect(SidecarConfig.parse(parse(yaml)).providers.map((p) => p.apiKeys)).toEqual([
      [
        { file: '/etc/airlock/credentials/provider.oa.0', requireOrigin: true },
        { file: '/etc/airlock/credentials/provider.oa.1', requireOrigin: true },
      ],
      [{ file: '/etc/airlock/credentials/provider.local.0', requireOrigin: true }],
    ]);
  });

  it("puts the sandbox's usage token into the credentials Secret and only its file into the config", () => {
    const sandbox = AgentSandbox.parse({ apiVersion: 'airlock.dev/v1alpha1', kind: 'AgentSandbox', metadata: meta('agents'), spec: {} });
    const token = newUsageToken();
    const rendered = renderSidecarConfig({ sandbox, providers: [], backends: [], secret: () => undefined, usage: { baseUrl: 'http://airlock-metrics.airlock-system:8081/', intervalMs: 5_000, token } });
    expect(Buffer.from(rendered.credentials['usage.token']!, 'base64').toString()).toBe(token);
    expect(rendered.yaml).not.toContain(token);
    expect(SidecarConfig.parse(parse(rendered.yaml)).limits.sandboxUsage).toEqual({
      url: 'http://airlock-metrics.airlock-system:8081/usage/team-a/agents',
      intervalMs: 5_000,
      tokenFile: '/etc/airlock/credentials/usage.token',
    });
    // Rendering again with the same token changes nothing.
    expect(renderSidecarConfig({ sandbox, providers: [], backends: [], secret: () => undefined, usage: { baseUrl: 'http://airlock-metrics.airlock-system:8081/', intervalMs: 5_000, token } }).hash).toBe(rendered.hash);
  });

  it("puts the collector's secret headers into the credentials Secret and only their files into the config; the Secret wins a clash with a plain header", () => {
    const sandbox = AgentSandbox.parse({ apiVersion: 'airlock.dev/v1alpha1', kind: 'AgentSandbox', metadata: meta('agents'), spec: {} });
    const bearer = 'Bearer otlp-7f3c9d2e1a8b4c6d';
    const team = 'hny-c0ffee-team-key';
    const b64 = (text: string) => Buffer.from(text).toString('base64');
    const render = (authorization: string) =>
      renderSidecarConfig({
        sandbox,
        providers: [],
        backends: [],
        secret: () => undefined,
        otlp: { endpoint: 'http://collector:4318', headers: { 'x-tenant': 'platform', authorization: 'plain-loses' }, secretHeaders: { Authorization: b64(authorization), 'x-honeycomb-team': b64(`${team}\n`) } },
      });
    const rendered = render(bearer);
    const headers = SidecarConfig.parse(parse(rendered.yaml)).telemetry.otlp!.headers;
    expect(headers).toEqual([
      { name: 'x-tenant', value: 'platform', requireOrigin: false },
      { name: 'Authorization', file: '/etc/airlock/credentials/otlp.header.0', requireOrigin: true },
      { name: 'x-honeycomb-team', file: '/etc/airlock/credentials/otlp.header.1', requireOrigin: true },
    ]);
    // Bound to the collector as a provider key is to its provider (ADR 16).
    expect(rendered.credentials['otlp.header.0.origin']).toBe(b64('http://collector:4318'));
    expect(rendered.credentials['otlp.header.1.origin']).toBe(b64('http://collector:4318'));
    // Copied as the headers Secret holds them: base64, never decoded here.
    expect(rendered.credentials['otlp.header.0']).toBe(b64(bearer));
    expect(rendered.credentials['otlp.header.1']).toBe(b64(`${team}\n`));
    for (const secret of [bearer, 'otlp-7f3c9d2e1a8b4c6d', team, b64(bearer), 'plain-loses']) expect(rendered.yaml).not.toContain(secret);
    // A rotated header changes the hash, as a rotated key does: pods are told their config moved on.
    expect(render('Bearer otlp-rotated').hash).not.toBe(rendered.hash);
  });

  it("writes next to each HTTP backend's secret header the origin it is for, and leaves literal headers and stdio env unbound", () => {
    const sandbox = AgentSandbox.parse({ apiVersion: 'airlock.dev/v1alpha1', kind: 'AgentSandbox', metadata: meta('agents'), spec: { mcpBackends: ['gh', 'git'] } });
    const ref = { secretKeyRef: { name: 'k', key: 'a' } };
    const http = MCPBackend.parse({
      apiVersion: 'airlock.dev/v1alpha1',
      kind: 'MCPBackend',
      metadata: meta('gh'),
      spec: { transport: 'streamable-http', url: 'https://mcp.example.com:8443/mcp', headers: [{ name: 'X-Plain', value: 'v' }, { name: 'Authorization', ...ref }] },
    });
    const stdio = MCPBackend.parse({ apiVersion: 'airlock.dev/v1alpha1', kind: 'MCPBackend', metadata: meta('git'), spec: { transport: 'stdio', stdio: { command: 'mcp-server-git', env: [{ name: 'TOKEN', ...ref }] } } });
    const secret = () => ({ data: { a: Buffer.from('tok-a').toString('base64') } });
    const { credentials, yaml } = renderSidecarConfig({ sandbox, providers: [], backends: [http, stdio], secret });
    const decoded = Object.fromEntries(Object.entries(credentials).map(([file, value]) => [file, Buffer.from(value, 'base64').toString()]));
    expect(decoded).toEqual({ 'mcp.gh.header.1': 'tok-a', 'mcp.gh.header.1.origin': 'https://mcp.example.com:8443', 'mcp.git.env.0': 'tok-a', 'config.yaml': yaml });
    const backends = SidecarConfig.parse(parse(yaml)).mcp.backends;
    expect(backends[0]!.headers).toEqual([
      { name: 'X-Plain', value: 'v', requireOrigin: false },
      { name: 'Authorization', file: '/etc/airlock/credentials/mcp.gh.header.1', requireOrigin: true },
    ]);
    expect(backends[1]!.stdio!.env).toEqual([{ name: 'TOKEN', file: '/etc/airlock/credentials/mcp.git.env.0' }]);
  });

  it('refuses a Secret value its destination cannot carry, naming the Secret, key and entry, never the value', () => {
    const sandbox = AgentSandbox.parse({ apiVersion: 'airlock.dev/v1alpha1', kind: 'AgentSandbox', metadata: meta('agents'), spec: { mcpBackends: ['tools'] } });
    const backend = (spec: object) => MCPBackend.parse({ apiVersion: 'airlock.dev/v1alpha1', kind: 'MCPBackend', metadata: meta('tools'), spec });
    const stdio = backend({ transport: 'stdio', stdio: { command: 'mcp-server', env: [{ name: 'API_TOKEN', secretKeyRef: { name: 'keystore', key: 'token' } }] } });
    const http = backend({ transport: 'streamable-http', url: 'https://mcp.example.com/mcp', headers: [{ name: 'Authorization', secretKeyRef: { name: 'keystore', key: 'token' } }] });
    const render = (value: string, backends: MCPBackend[]) => () =>
      renderSidecarConfig({ sandbox, providers: [], backends, secret: () => ({ data: { token: Buffer.from(value).toString('base64') } }) });
    const secret = 'tok-9f8e7d6c5b4a39281706f5e4d3c2b1a0';
    expect(render(`${secret}\0binary-tail`, [stdio])).toThrow(UnfitSecretError);
    expect(render(`${secret}\0binary-tail`, [stdio])).toThrow(/^Secret keystore key token, used as env API_TOKEN of MCPBackend tools, holds a NUL byte, which a process environment cannot carry$/);
    expect(render(`${secret}\r\nX-Injected: 1`, [http])).toThrow(/^Secret keystore key token, used as header Authorization of MCPBackend tools, holds a control character or one past U\+00FF/);
    // As the sidecar reads the file: one trailing line break is not part of the value.
    expect(render(`${secret}\n`, [http])).not.toThrow();
    expect(render(`line one\nline two`, [stdio])).not.toThrow();
  });

  it('leaves the sidecar defaults when the sandbox says nothing', () => {
    const sandbox = AgentSandbox.parse({ apiVersion: 'airlock.dev/v1alpha1', kind: 'AgentSandbox', metadata: meta('agents'), spec: { mcpBackends: ['git'] } });
    const backend = MCPBackend.parse({ apiVersion: 'airlock.dev/v1alpha1', kind: 'MCPBackend', metadata: meta('git'), spec: { transport: 'stdio', stdio: { command: 'mcp-server-git' } } });
    const config = SidecarConfig.parse(parse(renderSidecarConfig({ sandbox, providers: [], backends: [backend], secret: () => undefined }).yaml));
    expect(config.mcp.health).toEqual({ intervalMs: 15_000, backoffBaseMs: 500, backoffMaxMs: 5_000 });
    expect(config.mcp.backends[0]?.stdio?.processes).toBe('shared');
    // Providers reach nothing for the agent unless the sandbox says so.
    expect(config.models.providerReach).toEqual([]);
  });

  it('carries what the sandbox lets its providers reach for the agent', () => {
    const sandbox = AgentSandbox.parse({ apiVersion: 'airlock.dev/v1alpha1', kind: 'AgentSandbox', metadata: meta('agents'), spec: { providers: ['oa'], models: { providerReach: ['urls', 'web'] } } });
    const config = SidecarConfig.parse(parse(renderSidecarConfig({ sandbox, providers: [], backends: [], secret: () => undefined }).yaml));
    expect(config.models.providerReach).toEqual(['urls', 'web']);
    expect(AgentSandbox.safeParse({ ...sandbox, spec: { models: { providerReach: ['everything'] } } }).success).toBe(false);
  });
});
