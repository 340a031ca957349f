/**
 * Claude Code (`@anthropic-ai/claude-code`, pinned in package.json) run unmodified and
 * non-interactively (`claude -p ... --output-format json`) against the sidecar's loopback port, as
 * in a pod with `spec.socket.loopbackPort`: ANTHROPIC_BASE_URL on 127.0.0.1, a dummy key. It sends
 * what it sends Anthropic (`?beta=true`, its `anthropic-beta` list, adaptive thinking, streaming,
 * a mid-conversation system message, a dozen tools of its own), runs its Read tool on a file the
 * model asks for, and answers from the result — on a model Anthropic serves (native) and on models
 * OpenAI and Gemini serve (translated).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { SandboxUsageView } from '../../../sidecar/src/usage/sync.js';
import type { MockKind } from '../../mocks/index.js';
import { cliAgentSuite, filesText, runCli } from './cli-agent.js';

const KINDS: readonly MockKind[] = ['anthropic', 'openai', 'gemini'];
const agent = await cliAgentSuite({ name: 'claude', pkg: '@anthropic-ai/claude-code', sandbox: 'claude-code', kinds: KINDS });
const { suite, loopbackPort } = agent;

/** Claude Code's JSON result (the fields a user reads). */
interface ClaudeResult {
  is_error: boolean;
  result: string;
  num_turns: number;
  modelUsage: Record<string, { inputTokens: number; outputTokens: number }>;
}

describe.each(KINDS)('Claude Code on a model served by %s', (kind) => {
  it('reads the file the model asks for and answers from it; the sidecar counts what Claude Code reports', async () => {
    const { home, work } = await agent.home();
    const secret = `pineapple-${kind}`;
    const note = join(work, 'note.txt');
    await writeFile(note, `the secret word is ${secret}\n`);
    const mock = suite.mocks.get(kind)!;
    mock.reset();
    mock.script({ toolCalls: [{ name: 'Read', arguments: { file_path: note } }] });

    const run = await runCli(agent.binary(), ['-p', 'Read note.txt and tell me the secret word', '--output-format', 'json', '--model', `via-${kind}`, '--allowedTools', 'Read'], {
      cwd: work,
      home,
      env: {
        ANTHROPIC_BASE_URL: `http://127.0.0.1:${loopbackPort}`,
        ANTHROPIC_API_KEY: 'unused',
        // No telemetry, error reports or update checks: the sidecar is the pod's only door.
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
      },
    });
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout) as ClaudeResult;
    expect(result.is_error, result.result).toBe(false);
    expect(result.result).toContain(secret);
    expect(result.num_turns).toBe(2);

    // The file's words went up only after Claude Code ran Read: the second request carries them.
    const [ask, answer] = mock.received.filter((r) => r.method === 'POST');
    expect(ask!.rawBody).not.toContain(secret);
    expect(answer!.rawBody).toContain(secret);
    // Its beta list is Anthropic's business: it reaches Anthropic, and no other provider.
    if (kind === 'anthropic') expect(ask!.headers['anthropic-beta']).toContain('claude-code-20250219');
    else expect(ask!.headers['anthropic-beta']).toBeUndefined();

    // What Claude Code says it used is what the sandbox was charged with.
    const view = (await (await suite.stack.fetch('/v1/usage')).json()) as SandboxUsageView;
    const counted = view.byModel.find((m) => m.model === `via-${kind}`)!;
    const reported = result.modelUsage[`via-${kind}`]!;
    expect(counted).toMatchObject({ requests: 2, inputTokens: reported.inputTokens, outputTokens: reported.outputTokens });

    // The provider's key is nowhere Claude Code could show or keep it.
    const key = suite.keys[kind]!;
    expect(run.stdout + run.stderr).not.toContain(key);
    expect(await filesText(home)).not.toContain(key);
  });
});
