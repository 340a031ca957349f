import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfigFile, parseConfig } from './index.js';

const example = join(import.meta.dirname, '../../../docs/sidecar-config.example.yaml');

async function issuesOf(text: string) {
  try {
    await parseConfig(text);
  } catch (err) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
  throw new Error('config was accepted');
}

describe('sidecar config version 1', () => {
  it('accepts the documented complete example', async () => {
    const config = await loadConfigFile(example);
    expect(config.providers.map((p) => p.name)).toEqual(['openai', 'anthropic']);
    expect(config.mcp.backends.map((b) => b.prefix)).toEqual(['everything', 'github']);
    expect(config.models.aliases.fast).toBe('gpt-4o-mini');
  });

  it('fills defaults a minimal config leaves out', async () => {
    const config = await parseConfig('version: 1\nsandbox: { name: s }\n');
    expect(config.listen.socket).toEqual({ path: '/var/run/airlock/airlock.sock', mode: '0660' });
    expect(config.listen.admin.port).toBe(9090);
    expect(config.providers).toEqual([]);
    expect(config.mcp.tools.lazy).toBe(false);
  });

  it('fills per-provider defaults', async () => {
    const config = await parseConfig(
      'version: 1\nsandbox: { name: s }\nproviders:\n  - { name: local, type: ollama, models: [{ name: llama3.2 }] }\n',
    );
    expect(config.providers[0]).toMatchObject({
      priority: 0,
      weight: 1,
      apiKeys: [],
      timeouts: { connectMs: 5000, firstByteMs: 60000, idleMs: 60000, totalMs: 600000 },
      retries: { maxAttempts: 2, baseDelayMs: 250 },
    });
  });

  it("reads the operator's JSON rendering, and leaves any other spelling to the YAML parser", async () => {
    const rendered = (json: string) => `# Rendered by airlock-operator from AgentSandbox default/s. Do not edit.\n${json}\n`;
    const config = { version: 1, sandbox: { name: 's' }, models: { aliases: { fast: 'gpt-4o-mini' } }, providers: [{ name: 'o', type: 'openai', apiKeys: [{ file: '/k' }], models: [{ name: 'gpt-4o-mini' }] }] };
    expect((await parseConfig(rendered(JSON.stringify(config, null, 2)))).models.aliases).toEqual({ fast: 'gpt-4o-mini' });
    // JSON.parse keeps the last of a repeated key; YAML refuses it, and so does the loader.
    const repeated = JSON.stringify(config, null, 2).replace('"version": 1,', '"version": 1,\n  "version": 1,');
    expect((await issuesOf(rendered(repeated)))[0]!.message).toMatch(/not valid YAML: Map keys must be unique/);
    // A YAML flow mapping starts with a brace too.
    expect((await parseConfig('{version: 1, sandbox: {name: s}}\n')).sandbox.name).toBe('s');
  });

  it("reads a resource author's __proto__ and constructor alias keys the same on the JSON and the YAML path, setting no prototype", async () => {
    // Alias names come from an AgentSandbox's spec: a resource author chooses them.
    const config = { version: 1, sandbox: { name: 's' }, models: { aliases: JSON.parse('{"__proto__":"gpt","constructor":"gpt"}') as Record<string, string> }, providers: [{ name: 'o', type: 'openai', apiKeys: [{ file: '/k' }], models: [{ name: 'gpt' }] }] };
    const json = `# Rendered by airlock-operator. Do not edit.\n${JSON.stringify(config, null, 2)}\n`;
    const read = async (text: string) => {
      const { aliases } = (await parseConfig(text)).models;
      return { keys: Object.keys(aliases), prototype: Object.getPrototypeOf(aliases) === Object.prototype, ownProto: Object.hasOwn(aliases, '__proto__') };
    };
    const viaJson = await read(json);
    expect(viaJson).toEqual({ keys: ['constructor'], prototype: true, ownProto: false });
    expect(await read(json.replace('{', '{ '))).toEqual(viaJson);
  });

  it('names the path of every error', async () => {
    const text = await readFile(example, 'utf8');
    const broken = text
      .replace('version: 1', 'version: 2')
      .replace('type: anthropic', 'type: bedrock')
      .replace('mode: "0660"', 'mode: "rw-rw----"');
    expect((await issuesOf(broken)).map((i) => i.path)).toEqual(expect.arrayContaining(['version', 'providers.1.type', 'listen.socket.mode']));
  });

  it('refuses rules the schema alone cannot state', async () => {
    const issues = await issuesOf(`
version: 1
sandbox: { name: s }
providers:
  - { name: a, type: openai, models: [{ name: m }] }
  - { name: a, type: openai-compatible, models: [{ name: n }] }
  - { name: l, type: ollama, models: [{ name: llama3.2, numCtx: 32768 }] }
  - { name: v, type: openai-compatible, baseURL: "http://vllm.test/v1", models: [{ name: q, numCtx: 32768 }] }
models:
  aliases: { fast: nowhere }
mcp:
  backends:
    - { name: x, prefix: x, transport: stdio }
    - { name: y, prefix: x, transport: sse }
    - { name: z, prefix: z, transport: sse, url: "http://z.test/sse", approval: { mode: pinned } }
`);
    expect(issues).toEqual(
      expect.arrayContaining([
        { path: 'providers.0.apiKeys', message: 'type openai needs at least one API key file' },
        { path: 'providers.1.name', message: 'duplicate provider name' },
        { path: 'providers.1.baseURL', message: 'type openai-compatible needs a baseURL' },
        { path: 'providers.3.models.0.numCtx', message: "numCtx is Ollama's num_ctx; type openai-compatible has no such option" },
        { path: 'models.aliases.fast', message: 'alias target nowhere is not a model of any provider' },
        { path: 'mcp.backends.0.stdio', message: 'a stdio backend needs stdio.command' },
        { path: 'mcp.backends.1.prefix', message: 'duplicate backend prefix' },
        { path: 'mcp.backends.1.url', message: 'transport sse needs a url' },
        { path: 'mcp.backends.2.approval.pinned', message: 'pinned mode needs at least one pinned tool, prompt or resource' },
      ]),
    );
    expect(issues.map((i) => i.path)).not.toContain('providers.2.models.0.numCtx');
  });

  it('reports broken YAML and unreadable files as config errors, not crashes', async () => {
    expect((await issuesOf('version: [1\n'))[0]!.message).toMatch(/not valid YAML/);
    await expect(loadConfigFile('/nonexistent/config.yaml')).rejects.toThrow(/cannot read: ENOENT/);
  });

  it('never inlines a secret: keys and secret headers are file references', async () => {
    expect((await issuesOf('version: 1\nsandbox: { name: s }\nproviders:\n  - { name: o, type: openai, apiKeys: ["sk-inline"], models: [{ name: m }] }\n'))[0]!.path).toBe(
      'providers.0.apiKeys.0',
    );
  });
});
