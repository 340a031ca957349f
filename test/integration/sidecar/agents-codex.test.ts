/**
 * Codex CLI (`@openai/codex`, pinned in package.json) run unmodified and non-interactively
 * (`codex exec --json`) with a custom model provider in `~/.codex/config.toml` pointing at the
 * sidecar's loopback port, `wire_api = "responses"`: it streams the Responses API with its own
 * tools (exec_command, a `namespace` tool of sub-agent functions, ...), runs the shell command the
 * model asks for, hands its output back as a function_call_output and answers — on a model OpenAI
 * serves (native) and on models Anthropic and Gemini serve (translated).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { SandboxUsageView } from '../../../sidecar/src/usage/sync.js';
import type { MockKind } from '../../mocks/index.js';
import { cliAgentSuite, filesText, runCli } from './cli-agent.js';

const KINDS: readonly MockKind[] = ['openai', 'anthropic', 'gemini'];
const agent = await cliAgentSuite({ name: 'codex', pkg: '@openai/codex', sandbox: 'codex', kinds: KINDS });
const { suite, loopbackPort } = agent;

/** The config a user writes: the sidecar as a Responses provider, and nothing that leaves the pod. */
function codexConfig(model: string): string {
  return `model = "${model}"
model_provider = "airlock"
# Web search is a hosted tool only OpenAI serves; off, Codex runs on any model of the sandbox.
web_search = "disabled"
check_for_update_on_startup = false

[analytics]
enabled = false

[model_providers.airlock]
name = "Airlock"
base_url = "http://127.0.0.1:${loopbackPort}/v1"
wire_api = "responses"
`;
}

/** One line of `codex exec --json`. */
type CodexEvent =
  | { type: 'item.completed'; item: { type: 'command_execution'; command: string; aggregated_output: string; exit_code: number | null } | { type: 'agent_message'; text: string } | { type: string } }
  | { type: 'turn.completed'; usage: { input_tokens: number; output_tokens: number } }
  | { type: string };

describe.each(KINDS)('Codex on a model served by %s', (kind) => {
  it('runs the shell command the model asks for and answers from its output; the sidecar counts what Codex reports', async () => {
    const { home, work } = await agent.home();
    await mkdir(join(home, '.codex'));
    await writeFile(join(home, '.codex', 'config.toml'), codexConfig(`via-${kind}`));
    const secret = `mango-${kind}`;
    await writeFile(join(work, 'note.txt'), `the secret word is ${secret}\n`);
    const mock = suite.mocks.get(kind)!;
    mock.reset();
    mock.script({ toolCalls: [{ name: 'exec_command', arguments: { cmd: 'cat note.txt' } }] });

    const run = await runCli(agent.binary(), ['exec', '--json', '--skip-git-repo-check', 'Read note.txt and tell me the secret word'], { cwd: work, home, env: {} });
    expect(run.code, run.stdout + run.stderr).toBe(0);
    const events = run.stdout.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as CodexEvent);
    const items = events.flatMap((e) => (e.type === 'item.completed' ? [(e as Extract<CodexEvent, { type: 'item.completed' }>).item] : []));
    const command = items.find((i) => i.type === 'command_execution') as { command: string; aggregated_output: string; exit_code: number } | undefined;
    expect(command, run.stdout).toMatchObject({ exit_code: 0 });
    expect(command!.command).toContain('cat note.txt');
    expect(command!.aggregated_output).toContain(secret);
    const answer = items.findLast((i) => i.type === 'agent_message') as { text: string } | undefined;
    expect(answer?.text).toContain(secret);

    // The file's words went up only after Codex ran the command: the second request carries them.
    const [ask, reply] = mock.received.filter((r) => r.method === 'POST');
    expect(ask!.rawBody).not.toContain(secret);
    expect(reply!.rawBody).toContain(secret);

    // What Codex says the turn used is what the sandbox was charged with.
    const usage = (events.findLast((e) => e.type === 'turn.completed') as Extract<CodexEvent, { type: 'turn.completed' }>).usage;
    const view = (await (await suite.stack.fetch('/v1/usage')).json()) as SandboxUsageView;
    expect(view.byModel.find((m) => m.model === `via-${kind}`)).toMatchObject({ requests: 2, inputTokens: usage.input_tokens, outputTokens: usage.output_tokens });

    const key = suite.keys[kind]!;
    expect(run.stdout + run.stderr).not.toContain(key);
    expect(await filesText(home)).not.toContain(key);
  });
});
