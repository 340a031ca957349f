/**
 * Claude Code (`@anthropic-ai/claude-code`, pinned in package.json) run unmodified and
 * non-interactively (`claude -p ... --output-format json`) against the sidecar's loopback port, as
 * in a pod with `spec.socket.loopbackPort`: ANTHROPIC_BASE_URL on 127.0.0.1, a dummy key. It sends
 * what it sends Anthropic (`?beta=true`, its `anthropic-beta` list, adaptive thinking, streaming,
 * a mid-conversation system message, a dozen tools of its own), runs its Read tool on a file the
 * model asks for, and answers from the result; with `--mcp-config` naming the sandbox's `/mcp` it
 * finds an MCP tool with ToolSearch and calls it (or, with ENABLE_TOOL_SEARCH=auto, counts its
 * tokens with count_tokens and offers it at once) — on a model Anthropic serves (native) and on
 * models OpenAI, Gemini and Ollama serve (translated).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { MockKind } from '../../mocks/index.js';
import { cliAgentSuite, expectKeyNowhere, GEMINI_3, runCli, usageAdded } from './cli-agent.js';
import { modelUsage } from './harness.js';

const KINDS: readonly MockKind[] = ['anthropic', 'openai', 'gemini', 'ollama'];
const agent = await cliAgentSuite({ name: 'claude', pkg: '@anthropic-ai/claude-code', sandbox: 'claude-code', kinds: KINDS });
const { suite, loopbackPort } = agent;

/** Claude Code's JSON result (the fields a user reads). */
interface ClaudeResult {
  is_error: boolean;
  result: string;
  num_turns: number;
  /** Claude Code reports the prompt tokens written to and read from Anthropic's cache apart from `inputTokens`. */
  modelUsage: Record<string, { inputTokens: number; outputTokens: number; cacheReadInputTokens?: number; cacheCreationInputTokens?: number }>;
}

/** `claude -p <prompt> --output-format json` in `work`, as the pod runs it; fails on a non-zero exit. */
async function claude(work: string, home: string, prompt: string, args: string[], env: Record<string, string> = {}): Promise<{ result: ClaudeResult; output: string }> {
  const run = await runCli(agent.binary(), ['-p', prompt, '--output-format', 'json', ...args], {
    cwd: work,
    home,
    env: {
      ANTHROPIC_BASE_URL: `http://127.0.0.1:${loopbackPort}`,
      ANTHROPIC_API_KEY: 'unused',
      // No telemetry, error reports or update checks: the sidecar is the pod's only door.
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
      ...env,
    },
  });
  expect(run.code, run.stdout + run.stderr).toBe(0);
  const result = JSON.parse(run.stdout) as ClaudeResult;
  expect(result.is_error, result.result).toBe(false);
  return { result, output: run.stdout + run.stderr };
}

describe.each(KINDS)('Claude Code on a model served by %s', (kind) => {
  const model = `via-${kind}`;

  it('reads the file the model asks for and answers from it; the sidecar counts what Claude Code reports', async () => {
    const { home, work } = await agent.home();
    const secret = `pineapple-${kind}`;
    const note = join(work, 'note.txt');
    await writeFile(note, `the secret word is ${secret}\n`);
    const mock = suite.mocks.get(kind)!;
    mock.reset();
    mock.script({ toolCalls: [{ name: 'Read', arguments: { file_path: note } }] });
    const before = await modelUsage(suite.stack, model);

    // A model whose output limit is below Claude Code's default 32,000 tokens needs it lowered.
    const env = { CLAUDE_CODE_MAX_OUTPUT_TOKENS: '8000' };
    const { result, output } = await claude(work, home, 'Read note.txt and tell me the secret word', ['--model', model, '--effort', 'low', '--allowedTools', 'Read'], env);
    expect(result.result).toContain(secret);
    expect(result.num_turns).toBe(2);

    // The file's words went up only after Claude Code ran Read: the second request carries them.
    const [ask, answer] = mock.received.filter((r) => r.method === 'POST');
    expect(ask!.rawBody).not.toContain(secret);
    expect(answer!.rawBody).toContain(secret);
    // Its beta list is Anthropic's business: it reaches Anthropic, and no other provider.
    if (kind === 'anthropic') expect(ask!.headers['anthropic-beta']).toContain('claude-code-20250219');
    else expect(ask!.headers['anthropic-beta']).toBeUndefined();
    // Its effort (--effort low) reaches the model whoever serves it, but an OpenAI model that does
    // not reason (via-openai), which refuses reasoning_effort with 400.
    const body = ask!.body as Record<string, unknown>;
    const effort = { anthropic: () => (body.output_config as { effort?: string }).effort, openai: () => body.reasoning_effort, gemini: () => (body.generationConfig as { thinkingConfig?: unknown }).thinkingConfig, ollama: () => body.think }[kind as 'openai']();
    expect(effort).toEqual({ anthropic: 'low', openai: undefined, gemini: { thinkingBudget: 1024, includeThoughts: true }, ollama: true }[kind as 'openai']);
    const limit = {
      anthropic: () => body.max_tokens,
      openai: () => body.max_completion_tokens,
      gemini: () => (body.generationConfig as { maxOutputTokens?: number }).maxOutputTokens,
      ollama: () => (body.options as { num_predict?: number }).num_predict,
    }[kind as 'openai']();
    expect(limit).toBe(8000);

    // What Claude Code says it used is what the sandbox was charged with.
    const after = await modelUsage(suite.stack, model);
    const reported = result.modelUsage[model]!;
    // Its prompt is cached (cache_control): the sidecar counts the cache's tokens as input too.
    const input = reported.inputTokens + (reported.cacheReadInputTokens ?? 0) + (reported.cacheCreationInputTokens ?? 0);
    expect(usageAdded(before, after)).toEqual({ requests: 2, input, output: reported.outputTokens });
    // The provider's key is nowhere Claude Code could show or keep it.
    await expectKeyNowhere(suite.keys[kind], output, home);
  });

  it.each([
    ['defers it: the model loads it with ToolSearch, then calls it', undefined],
    ['with ENABLE_TOOL_SEARCH=auto counts its tokens (count_tokens) and offers it at once', 'auto'],
  ])('uses a sandbox MCP tool on /mcp (--mcp-config, the loopback port): %s', async (_how, toolSearch) => {
    const { home, work } = await agent.home();
    await writeFile(join(work, 'mcp.json'), JSON.stringify({ mcpServers: { airlock: { type: 'http', url: `http://127.0.0.1:${loopbackPort}/mcp` } } }));
    const mock = suite.mocks.get(kind)!;
    mock.reset();
    const tool = 'mcp__airlock__everything__echo';
    const call = { toolCalls: [{ name: tool, arguments: { message: `via claude code on ${kind}` } }] };
    // Anthropic and Gemini count tokens themselves (a request to the mock, which takes a step); the sidecar estimates for the others.
    const counter = toolSearch && (kind === 'anthropic' || kind === 'gemini') ? [{}] : [];
    if (toolSearch) mock.script(...counter, call);
    else mock.script({ toolCalls: [{ name: 'ToolSearch', arguments: { query: `select:${tool}` } }] }, call);
    const { result } = await claude(work, home, 'Echo something with the sandbox tools', ['--model', model, '--mcp-config', 'mcp.json', '--strict-mcp-config', '--allowedTools', tool], toolSearch ? { ENABLE_TOOL_SEARCH: toolSearch } : {});
    expect(result.num_turns).toBe(toolSearch ? 2 : 3);
    expect(result.result).toContain(`Echo: via claude code on ${kind}`);
    // Where the provider has a counter, it was asked (Anthropic's count_tokens, Gemini's countTokens).
    if (counter.length > 0) expect(mock.received[0]!.path).toMatch(/count_?tokens$/i);
  });
});

describe('Claude Code on a Gemini 3 model', () => {
  it('runs two tool steps: the thought signature of each call goes back to Gemini, which checks it', async () => {
    const { home, work } = await agent.home();
    const note = join(work, 'note.txt');
    await writeFile(note, 'kiwi\n');
    const mock = suite.mocks.get('gemini')!;
    mock.reset();
    mock.script({ toolCalls: [{ name: 'Read', arguments: { file_path: note } }] }, { toolCalls: [{ name: 'Bash', arguments: { command: 'wc -c note.txt', description: 'count bytes' } }] });
    const { result } = await claude(work, home, 'Read note.txt, then count its bytes', ['--model', GEMINI_3, '--allowedTools', 'Read,Bash']);
    expect(result.num_turns).toBe(3);
    expect(result.result).toContain('5 note.txt');
    // Each step's request carried every earlier call with the signature Gemini gave it.
    const last = JSON.stringify(mock.received.at(-1)!.body);
    expect(last.match(/"thoughtSignature"/g)).toHaveLength(2);
  });
});
