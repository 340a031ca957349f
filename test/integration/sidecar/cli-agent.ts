/**
 * Coding-agent CLIs from npm (Claude Code, Codex) run as a user runs them in a sandbox: the
 * installed binary, a fresh HOME and working directory, no provider key, the sidecar's loopback
 * port in the base-URL variables the pod gets, and nothing else of this machine's environment
 * (no proxy, no real keys), so a run can reach nothing but the sidecar.
 */
import { execFile } from 'node:child_process';
import { access, constants, mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect } from 'vitest';
import type { MockKind } from '../../mocks/index.js';
import { npmServer } from '../mcp/harness.js';
import { freePort, type modelUsage, providerStackForFile, waitForTools, type FileProviderStack } from './harness.js';

/** What a CLI run printed. */
export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

const BIN = fileURLToPath(new URL('../../../node_modules/.bin/', import.meta.url));

/** The path of an npm-installed CLI, or a failure saying how to get it. */
export async function npmBinary(name: string, pkg: string): Promise<string> {
  const path = join(BIN, name);
  try {
    await access(path, constants.X_OK);
  } catch (error) {
    throw new Error(`${name} is not installed: run npm ci (the pinned ${pkg} in package.json brings its native binary for this platform as an optional dependency)`, { cause: error });
  }
  return path;
}

/** A test file's CLI agent: its binary, a sidecar with a loopback port in front of one mock per kind, fresh homes. */
export interface CliAgentSuite {
  readonly suite: FileProviderStack;
  readonly loopbackPort: number;
  /** The CLI's path (read inside tests). */
  binary(): string;
  /** A fresh HOME and a working directory inside it, removed after the file's tests. */
  home(): Promise<{ home: string; work: string }>;
}

/** The sandbox MCP tools the CLI tests offer: the echo tool of a real MCP server from npm, behind the gateway. */
const ECHO_BACKEND = { backends: [{ name: 'everything', prefix: 'everything', transport: 'stdio' as const, stdio: npmServer('mcp-server-everything', 'stdio'), tools: { allow: ['echo'] } }] };

/** A Gemini 3 model the gemini mock serves: its function calls carry thought signatures it checks when they come back. */
export const GEMINI_3 = 'gemini-3-pro-preview';

/** {@link CliAgentSuite} for a whole test file (hooks registered in it); the sandbox's `/mcp` offers `everything__echo`; the gemini mock also serves {@link GEMINI_3}. */
export async function cliAgentSuite(options: { name: string; pkg: string; sandbox: string; kinds: readonly MockKind[] }): Promise<CliAgentSuite> {
  const loopbackPort = await freePort();
  const suite = providerStackForFile(options.sandbox, { kinds: options.kinds, extra: { listen: { loopbackPort }, mcp: ECHO_BACKEND }, models: { gemini: [GEMINI_3] } });
  const homes: string[] = [];
  let binary: string | undefined;
  beforeAll(async () => {
    binary = await npmBinary(options.name, options.pkg);
    await waitForTools(suite.stack, ['everything__echo']);
  });
  afterAll(() => Promise.all(homes.map((home) => rm(home, { recursive: true, force: true }))));
  return {
    suite,
    loopbackPort,
    binary: () => binary ?? '',
    async home() {
      const home = await mkdtemp(join(tmpdir(), 'airlock-agent-home-'));
      homes.push(home);
      const work = join(home, 'work');
      await mkdir(work);
      return { home, work };
    },
  };
}

/** What a run added to {@link modelUsage}: compared with what the CLI reports it used. */
export function usageAdded(before: Awaited<ReturnType<typeof modelUsage>>, after: Awaited<ReturnType<typeof modelUsage>>): { requests: number; input: number; output: number } {
  return { requests: after.requests - before.requests, input: after.inputTokens - before.inputTokens, output: after.outputTokens - before.outputTokens };
}

/** The provider's key (Ollama has none) is neither in what the CLI printed nor in any file under its HOME. */
export async function expectKeyNowhere(key: string | undefined, output: string, home: string): Promise<void> {
  if (key === undefined) return;
  expect(output).not.toContain(key);
  expect(await filesText(home)).not.toContain(key);
}

/** Every file under `dir` as text, joined: where a CLI could have kept a secret. */
export async function filesText(dir: string): Promise<string> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const texts = await Promise.all(entries.filter((e) => e.isFile()).map((e) => readFile(join(e.parentPath, e.name), 'utf8').catch(() => '')));
  return texts.join('\n');
}

/** Runs `binary args` in `cwd` with only `env` (plus PATH and a HOME), stdin closed, output captured. */
export function runCli(binary: string, args: string[], options: { cwd: string; home: string; env: Record<string, string>; timeoutMs?: number }): Promise<CliRun> {
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: options.home, LANG: 'C.UTF-8', TERM: 'dumb', NO_COLOR: '1', ...options.env };
  return new Promise((resolve, reject) => {
    const child = execFile(binary, args, { cwd: options.cwd, env, timeout: options.timeoutMs ?? 45_000, maxBuffer: 32 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') {
        reject(new Error(`${binary} ${args.join(' ')} failed to run: ${error.message}\n${stderr}`, { cause: error }));
        return;
      }
      resolve({ code: child.exitCode, stdout, stderr });
    });
    child.stdin?.end();
  });
}
