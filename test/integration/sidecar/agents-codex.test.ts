/**
 * Codex CLI (`@openai/codex`, pinned in package.json) run unmodified and non-interactively
 * (`codex exec --json`) with a custom model provider in `~/.codex/config.toml` pointing at the
 * sidecar's loopback port, `wire_api = "responses"`: it streams the Responses API with its own
 * tools (exec_command, a `namespace` tool of sub-agent functions, ...), runs the shell command the
 * model asks for, hands its output back as a function_call_output and answers, and calls the
 * sandbox's MCP tools (`[mcp_servers]` naming `/mcp` on the loopback port) — on a model OpenAI
 * serves (native) and on models Anthropic, Gemini and Ollama serve (translated).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { MockKind } from '../../mocks/index.js';
import { cliAgentSuite, expectKeyNowhere, GEMINI_3, runCli, usageAdded } from './cli-agent.js';
import { modelUsage } from './harness.js';

const KINDS: readonly MockKind[] = ['openai', 'anthropic', 'gemini', 'ollama'];
const agent = await cliAgentSuite({ name: 'codex', pkg: '@openai/codex', sandbox: 'codex', kinds: KINDS });
const { suite, loopbackPort } = agent;

/** The config a user writes: the sidecar as a Responses provider, and nothing that leaves the pod. */
function codexConfig(model: string, webSearch = 'disabled'): string {
  return `model = "${model}"
model_provider = "airlock"
# Web search is a hosted tool only OpenAI serves; off, Codex runs on any model of the sandbox.
web_search = "${webSearch}"
check_for_update_on_startup = false

[analytics]
enabled = false

[model_providers.airlock]
name = "Airlock"
base_url = "http://127.0.0.1:${loopbackPort}/v1"
wire_api = "responses"

[mcp_servers.airlock]
url = "http://127.0.0.1:${loopbackPort}/mcp"
`;
}

/** One line of `codex exec --json`. */
type CodexEvent =
  | { type: 'item.completed'; item: { type: string; [field: string]: unknown } }
  | { type: 'turn.completed'; usage: { input_tokens: number; output_tokens: number } }
  | { type: string };

/** A fresh HOME whose config.toml points Codex at `model` (plus `extra` top-level settings), and a working directory. */
async function codexHome(model: string, extra = ''): Promise<{ home: string; work: string }> {
  const place = await agent.home();
  await mkdir(join(place.home, '.codex'));
  await writeFile(join(place.home, '.codex', 'config.toml'), extra + codexConfig(model));
  return place;
}

/** `codex exec --json ...args` in `place`: its completed items and the turn's usage. */
async function codexExec(place: { home: string; work: string }, args: string[]) {
  const run = await runCli(agent.binary(), ['exec', '--json', '--skip-git-repo-check', ...args], { cwd: place.work, home: place.home, env: {} });
  expect(run.code, run.stdout + run.stderr).toBe(0);
  const events = run.stdout.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as CodexEvent);
  const items = events.flatMap((e) => ('item' in e && e.type === 'item.completed' ? [e.item] : []));
  const usage = (events.findLast((e) => e.type === 'turn.completed') as Extract<CodexEvent, { usage: unknown }>).usage;
  return { items, usage, output: run.stdout + run.stderr };
}

describe.each(KINDS)('Codex on a model served by %s', (kind) => {
  const model = `via-${kind}`;

  it('runs the shell command the model asks for and answers from its output; the sidecar counts what Codex reports', async () => {
    const secret = `mango-${kind}`;
    const mock = suite.mocks.get(kind)!;
    mock.reset();
    mock.script({ toolCalls: [{ name: 'exec_command', arguments: { cmd: 'cat note.txt' } }] });
    const before = await modelUsage(suite.stack, model);
    const place = await codexHome(model);
    await writeFile(join(place.work, 'note.txt'), `the secret word is ${secret}\n`);
    const { items, usage, output } = await codexExec(place, ['Read note.txt and tell me the secret word']);

    const command = items.find((i) => i.type === 'command_execution');
    expect(command, output).toMatchObject({ exit_code: 0, command: expect.stringContaining('cat note.txt'), aggregated_output: expect.stringContaining(secret) });
    expect(items.findLast((i) => i.type === 'agent_message')).toMatchObject({ text: expect.stringContaining(secret) });

    // The file's words went up only after Codex ran the command: the second request carries them.
    const [ask, reply] = mock.received.filter((r) => r.method === 'POST');
    expect(ask!.rawBody).not.toContain(secret);
    expect(reply!.rawBody).toContain(secret);

    // What Codex says the turn used is what the sandbox was charged with.
    const after = await modelUsage(suite.stack, model);
    expect(usageAdded(before, after)).toEqual({ requests: 2, input: usage.input_tokens, output: usage.output_tokens });
    await expectKeyNowhere(suite.keys[kind], output, place.home);
  });

  it('calls a sandbox MCP tool on /mcp ([mcp_servers] on the loopback port) and answers from its result', async () => {
    const mock = suite.mocks.get(kind)!;
    mock.reset();
    // Codex offers an MCP server's tools as a namespace (mcp__airlock__ + the tool's name).
    mock.script({ toolCalls: [{ name: 'mcp__airlock__everything__echo', arguments: { message: `via codex on ${kind}` } }] });
    const { items } = await codexExec(await codexHome(model), ['Echo something with the sandbox tools']);
    expect(items.find((i) => i.type === 'mcp_tool_call')).toMatchObject({ server: 'airlock', tool: 'everything__echo', status: 'completed' });
    expect(items.findLast((i) => i.type === 'agent_message')).toMatchObject({ text: expect.stringContaining(`Echo: via codex on ${kind}`) });
  });

  it('thinks at the effort asked for (model_reasoning_effort) through tool turns, and goes on with the session (exec resume --last)', async () => {
    const mock = suite.mocks.get(kind)!;
    mock.reset();
    const place = await codexHome(model, 'model_reasoning_effort = "high"\n');
    await writeFile(join(place.work, 'note.txt'), 'kiwi\n');
    mock.script({ toolCalls: [{ name: 'exec_command', arguments: { cmd: 'cat note.txt' } }] });
    const first = await codexExec(place, ['Show note.txt']);
    expect(first.items.findLast((i) => i.type === 'agent_message')).toMatchObject({ text: expect.stringContaining('kiwi') });
    // The next turn sends the whole session back: earlier calls, outputs and reasoning (with
    // Anthropic's signatures in encrypted_content, which Anthropic checks on a tool turn).
    mock.script({ toolCalls: [{ name: 'exec_command', arguments: { cmd: 'wc -c note.txt' } }] });
    const second = await codexExec(place, ['resume', '--last', 'Now count its bytes']);
    expect(second.items.findLast((i) => i.type === 'agent_message')).toMatchObject({ text: expect.stringContaining('5 note.txt') });
    expect(mock.received.at(-1)!.rawBody).toContain('kiwi');
    const body = mock.received[0]!.body as Record<string, unknown>;
    const reasoning = {
      openai: () => (body.reasoning as { effort?: string }).effort,
      anthropic: () => body.thinking,
      gemini: () => (body.generationConfig as { thinkingConfig?: unknown }).thinkingConfig,
      ollama: () => body.think,
    }[kind as 'openai']();
    expect(reasoning).toEqual({ openai: 'high', anthropic: { type: 'enabled', budget_tokens: 24576 }, gemini: { thinkingBudget: 24576, includeThoughts: true }, ollama: true }[kind as 'openai']);
  });
});

describe('Codex with its web search left on', () => {
  it("is told, on a model OpenAI does not serve, that web_search needs an OpenAI model (its cached-only search is no reach past the sandbox: ADR 27)", async () => {
    const place = await agent.home();
    await mkdir(join(place.home, '.codex'));
    await writeFile(join(place.home, '.codex', 'config.toml'), codexConfig('via-anthropic', 'cached'));
    const run = await runCli(agent.binary(), ['exec', '--json', '--skip-git-repo-check', 'Look something up'], { cwd: place.work, home: place.home, env: {} });
    expect(run.code).not.toBe(0);
    expect(run.stdout).toContain('the hosted tool web_search can only be served by an OpenAI provider');
    expect(run.stdout).not.toContain('reaches past the sandbox');
    expect(suite.mocks.get('anthropic')!.received.filter((r) => JSON.stringify(r.body).includes('Look something up'))).toEqual([]);
  });
});

describe('Codex on a Gemini 3 model', () => {
  it('runs two tool steps: the thought signature of each call goes back to Gemini, which checks it', async () => {
    const mock = suite.mocks.get('gemini')!;
    mock.reset();
    const place = await codexHome(GEMINI_3);
    await writeFile(join(place.work, 'note.txt'), 'kiwi\n');
    mock.script({ toolCalls: [{ name: 'exec_command', arguments: { cmd: 'cat note.txt' } }] }, { toolCalls: [{ name: 'exec_command', arguments: { cmd: 'wc -c note.txt' } }] });
    const { items } = await codexExec(place, ['Show note.txt, then count its bytes']);
    expect(items.filter((i) => i.type === 'command_execution').map((i) => i.exit_code)).toEqual([0, 0]);
    expect(items.findLast((i) => i.type === 'agent_message')).toMatchObject({ text: expect.stringContaining('5 note.txt') });
    expect(JSON.stringify(mock.received.at(-1)!.body).match(/"thoughtSignature"/g)).toHaveLength(2);
  });
});
