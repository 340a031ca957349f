/**
 * The built-in model tools as an agent meets them: the MCP SDK client on the sidecar's Unix
 * socket, the sidecar in front of the OpenAI, Anthropic and Gemini mocks. Tokens and cost are
 * checked against what each mock itself counted for the request it received.
 */
import { readFile } from 'node:fs/promises';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { SidecarConfigInput } from '../../../sidecar/src/config/schema.js';
import { startMock, type MockKind, type MockProvider } from '../../mocks/index.js';
import { countTokens, countWords } from '../../mocks/turn.js';
import { keyFile, mcpClient, stackDir, startStack, type Stack } from './harness.js';

const PRICES: Record<string, { inputCostPerMTok: number; outputCostPerMTok: number; contextWindow: number }> = {
  'gpt-mock': { inputCostPerMTok: 2, outputCostPerMTok: 8, contextWindow: 128_000 },
  'claude-mock': { inputCostPerMTok: 3, outputCostPerMTok: 15, contextWindow: 200_000 },
  'gemini-mock': { inputCostPerMTok: 1.25, outputCostPerMTok: 10, contextWindow: 1_000_000 },
};
const KEYS: Record<string, string> = { openai: 'sk-mock-openai-key-1234', anthropic: 'sk-ant-mock-key-1234', gemini: 'gemini-mock-key-1234' };
const MODEL_OF: Record<string, string> = { openai: 'gpt-mock', anthropic: 'claude-mock', gemini: 'gemini-mock' };

const mocks = new Map<string, MockProvider>();
const open: { stack: Stack; client: Client }[] = [];

beforeAll(async () => {
  for (const kind of ['openai', 'anthropic', 'gemini'] as const) mocks.set(kind, await startMock(kind, { keys: [KEYS[kind]!] }));
});

afterAll(async () => {
  for (const { stack, client } of open) {
    await client.close();
    await stack.close();
  }
  await Promise.all([...mocks.values()].map((m) => m.close()));
});

/** A sidecar over the three mocks (`shared` served by openai first, anthropic second) and an MCP client on its socket. */
async function start(extra: Partial<SidecarConfigInput>): Promise<{ stack: Stack; client: Client }> {
  const dir = await stackDir();
  const providers = [];
  for (const [kind, mock] of mocks) {
    const model = MODEL_OF[kind]!;
    providers.push({
      name: kind,
      type: kind as MockKind,
      baseURL: mock.url,
      apiKeys: [{ file: await keyFile(dir, kind, KEYS[kind]!) }],
      priority: kind === 'openai' ? 0 : 1,
      retries: { maxAttempts: 1 },
      models: [{ name: model, ...PRICES[model] }, ...(kind === 'openai' || kind === 'anthropic' ? [{ name: 'shared', ...PRICES[model] }] : [])],
    });
  }
  const stack = await startStack(dir, { version: 1, sandbox: { name: 'tools' }, providers, models: { aliases: { fast: 'gpt-mock' } }, ...extra });
  const client = await mcpClient(stack);
  open.push({ stack, client });
  return { stack, client };
}

/** What the mock counted as prompt tokens for the request it received, in its own API. */
function mockPromptTokens(kind: string, body: unknown): number {
  const b = body as Record<string, unknown>;
  if (kind === 'anthropic') return countTokens([b.system, b.messages]);
  if (kind === 'gemini') return countTokens([b.systemInstruction, b.contents]);
  return countTokens(b.messages);
}

const structured = (result: unknown) => (result as CallToolResult).structuredContent as Record<string, unknown>;
const text = (result: unknown) => ((result as CallToolResult).content[0] as { text: string }).text;

describe('with modelTools enabled', () => {
  let stack: Stack;
  let client: Client;
  beforeAll(async () => ({ stack, client } = await start({ mcp: { modelTools: { enabled: true } } })));

  it('lists the three tools under the reserved prefix and the usage resource', async () => {
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['airlock__list_models', 'airlock__generate', 'airlock__compare_models']));
    expect((await client.listResources()).resources.map((r) => r.uri)).toContain('airlock+airlock:usage');
  });

  it('list_models shows served models and aliases with context window and prices', async () => {
    const models = structured(await client.callTool({ name: 'airlock__list_models', arguments: {} })).models as Record<string, unknown>[];
    expect(models).toEqual(
      expect.arrayContaining([
        { id: 'gpt-mock', providers: ['openai'], ...PRICES['gpt-mock'] },
        { id: 'fast', aliasOf: 'gpt-mock', providers: ['openai'], ...PRICES['gpt-mock'] },
        { id: 'shared', providers: ['openai', 'anthropic'], ...PRICES['gpt-mock'] },
        { id: 'gemini-mock', providers: ['gemini'], ...PRICES['gemini-mock'] },
      ]),
    );
  });

  it('compare_models returns one result per model with tokens and cost matching each mock', async () => {
    for (const m of mocks.values()) m.reset();
    mocks.get('openai')!.script({ reply: 'Paris it is' });
    mocks.get('anthropic')!.script({ reply: 'The capital is Paris' });
    mocks.get('gemini')!.script({ reply: 'Paris' });
    const prompt = 'What is the capital of France?';
    const result = await client.callTool({ name: 'airlock__compare_models', arguments: { models: ['gpt-mock', 'claude-mock', 'gemini-mock'], prompt, system: 'Answer briefly.', maxTokens: 64 } });
    expect((result as CallToolResult).isError).toBeFalsy();
    const results = structured(result).results as Record<string, unknown>[];
    expect(results.map((r) => r.model)).toEqual(['gpt-mock', 'claude-mock', 'gemini-mock']);
    for (const [kind, mock] of mocks) {
      const answer = results.find((r) => r.model === MODEL_OF[kind])!;
      expect(mock.received).toHaveLength(1);
      const input = mockPromptTokens(kind, mock.received[0]!.body);
      const output = countWords(answer.text as string);
      expect(input).toBeGreaterThan(0);
      expect(answer).toMatchObject({ ok: true, provider: kind, resolvedModel: MODEL_OF[kind], usage: { inputTokens: input, outputTokens: output } });
      const price = PRICES[MODEL_OF[kind]!]!;
      expect(answer.costUSD).toBeCloseTo((input * price.inputCostPerMTok + output * price.outputCostPerMTok) / 1e6, 12);
      expect(answer.latencyMs).toEqual(expect.any(Number));
    }
    expect(results.map((r) => r.text)).toEqual(['Paris it is', 'The capital is Paris', 'Paris']);
  });

  it('compare_models reports a failing model in its own entry and still answers for the others', async () => {
    mocks.get('gemini')!.script({ status: 503 });
    const result = await client.callTool({ name: 'airlock__compare_models', arguments: { models: ['gemini-mock', 'fast', 'no-such-model'], prompt: 'hello there' } });
    expect((result as CallToolResult).isError).toBeFalsy();
    const [gemini, fast, missing] = structured(result).results as Record<string, unknown>[];
    expect(gemini).toMatchObject({ model: 'gemini-mock', ok: false, status: 503 });
    expect(fast).toMatchObject({ model: 'fast', ok: true, provider: 'openai', resolvedModel: 'gpt-mock', text: 'echo: hello there' });
    expect(missing).toMatchObject({ model: 'no-such-model', ok: false, status: 404, error: expect.stringContaining('list_models') });
  });

  it('generate fails over to the next provider when the first one fails', async () => {
    for (const m of mocks.values()) m.reset();
    mocks.get('openai')!.script({ status: 500 });
    const result = await client.callTool({ name: 'airlock__generate', arguments: { model: 'shared', prompt: 'fail over please' } });
    expect((result as CallToolResult).isError).toBeFalsy();
    expect(structured(result)).toMatchObject({ model: 'shared', ok: true, provider: 'anthropic', text: 'echo: fail over please' });
    expect(mocks.get('openai')!.received).toHaveLength(1);
    expect(mocks.get('anthropic')!.received).toHaveLength(1);
  });

  it('a cancelled generate aborts the provider request', async () => {
    for (const m of mocks.values()) m.reset();
    const openai = mocks.get('openai')!;
    openai.script({ latencyMs: 30_000 });
    const controller = new AbortController();
    const call = client.callTool({ name: 'airlock__generate', arguments: { model: 'gpt-mock', prompt: 'take your time' } }, undefined, { signal: controller.signal });
    const [request] = await openai.waitForRequests(1);
    controller.abort();
    await expect(call).rejects.toThrow();
    await request!.settled;
    expect(request!.aborted).toBe(true);
    const audit = () => stack.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.audit === 'mcp_tool_call' && l.tool === 'airlock__generate');
    await expect.poll(() => audit().at(-1)?.outcome).toBe('cancelled');
  });

  it('search_tools finds the model tools by what they do', async () => {
    const found = structured(await client.callTool({ name: 'search_tools', arguments: { query: 'ask several models the same question and compare their answers', limit: 3 } }));
    expect((found.tools as { name: string }[]).map((t) => t.name)).toContain('airlock__compare_models');
  });

  it('reports argument mistakes as a tool error the model can read', async () => {
    const result = (await client.callTool({ name: 'airlock__compare_models', arguments: { models: ['gpt-mock'], prompt: 'x' } })) as CallToolResult;
    expect(result.isError).toBe(true);
    expect(text(result)).toContain('models');
  });

  it('audits and counts the calls like other tools, without the prompt', async () => {
    await client.callTool({ name: 'airlock__generate', arguments: { model: 'gpt-mock', prompt: 'a secret plan for the audit' } });
    const audit = stack.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.audit === 'mcp_tool_call' && l.tool === 'airlock__generate');
    expect(audit.length).toBeGreaterThan(0);
    expect(audit.at(-1)).toMatchObject({ backend: 'airlock (built-in)', outcome: 'ok' });
    expect(stack.logs.join('\n')).not.toContain('a secret plan');
    const metrics = await (await fetch(`http://127.0.0.1:${stack.sidecar.adminPort}/metrics`)).text();
    expect(metrics).toMatch(/airlock_mcp_tool_calls_total\{[^}]*tool="airlock__compare_models"[^}]*\} [1-9]/);
  });

  it('the usage resource shows what the calls spent', async () => {
    const read = await client.readResource({ uri: 'airlock+airlock:usage' });
    const usage = JSON.parse((read.contents[0] as { text: string }).text) as Record<string, unknown>;
    expect(usage).toMatchObject({ sandbox: 'tools', byModel: expect.arrayContaining([expect.objectContaining({ model: 'gpt-mock' })]) });
    expect(usage.spentUSD).toBeGreaterThan(0);
    // The same view the socket's GET /v1/usage gives, MCP calls counted like socket calls.
    expect(usage).toEqual(await (await stack.fetch('/v1/usage')).json());
  });
});

describe('with a daily budget, models.allow and a deny filter', () => {
  let client: Client;
  beforeAll(
    async () =>
      ({ client } = await start({
        models: { allow: ['gpt-*', 'claude-*'], aliases: { fast: 'gpt-mock' } },
        mcp: { modelTools: { enabled: true }, tools: { deny: ['airlock__compare_models'] } },
        limits: { dailyBudgetUSD: 0.000_001 },
      })),
  );

  it('neither lists nor calls a model models.allow leaves out', async () => {
    const ids = (structured(await client.callTool({ name: 'airlock__list_models', arguments: {} })).models as { id: string }[]).map((m) => m.id);
    expect(ids).toEqual(expect.arrayContaining(['gpt-mock', 'claude-mock', 'fast']));
    expect(ids).not.toContain('gemini-mock');
    mocks.get('gemini')!.reset();
    const refused = (await client.callTool({ name: 'airlock__generate', arguments: { model: 'gemini-mock', prompt: 'not for you' } })) as CallToolResult;
    expect(refused.isError).toBe(true);
    expect(text(refused)).toContain('(404)');
    expect(mocks.get('gemini')!.received).toHaveLength(0);
  });

  it('refuses generate as a tool error once the budget is spent', async () => {
    const first = (await client.callTool({ name: 'airlock__generate', arguments: { model: 'claude-mock', prompt: 'spend the whole budget in one go please' } })) as CallToolResult;
    expect(first.isError).toBeFalsy();
    const refused = (await client.callTool({ name: 'airlock__generate', arguments: { model: 'claude-mock', prompt: 'one more' } })) as CallToolResult;
    expect(refused.isError).toBe(true);
    expect(text(refused)).toMatch(/\(429\).*daily budget/);
  });

  it('filters the denied tool out of the list and refuses calling it', async () => {
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['airlock__generate', 'airlock__list_models']));
    expect(names).not.toContain('airlock__compare_models');
    await expect(client.callTool({ name: 'airlock__compare_models', arguments: { models: ['gpt-mock', 'fast'], prompt: 'x' } })).rejects.toThrow(/denied|airlock__compare_models/);
  });
});

describe('without modelTools', () => {
  let stack: Stack;
  let client: Client;
  beforeAll(async () => ({ stack, client } = await start({})));

  it('offers no model tool and no usage resource', async () => {
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names.filter((n) => n.startsWith('airlock__'))).toEqual([]);
    expect((await client.listResources()).resources).toEqual([]);
    await expect(client.callTool({ name: 'airlock__generate', arguments: { model: 'gpt-mock', prompt: 'x' } })).rejects.toThrow();
    await expect(client.readResource({ uri: 'airlock+airlock:usage' })).rejects.toThrow();
  });

  it('offers them once a reload enables them', async () => {
    const current = parse(await readFile(stack.configPath, 'utf8')) as SidecarConfigInput;
    await stack.writeConfig({ ...current, mcp: { ...current.mcp, modelTools: { enabled: true } } });
    await expect.poll(async () => (await client.listTools()).tools.map((t) => t.name), { timeout: 10_000 }).toContain('airlock__generate');
  });
});
