/**
 * Coding-agent CLIs from npm (Claude Code, Codex) run as a user runs them in a sandbox: the
 * installed binary, a fresh HOME and working directory, no provider key, the sidecar's loopback
 * port in the base-URL variables the pod gets, and nothing else of this machine's environment
 * (no proxy, no real keys), so a run can reach nothing but the sidecar.
 */
import { execFile } from 'node:child_process';
import { access, constants, mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

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

/** A fresh HOME and a working directory inside it. */
export async function agentHome(): Promise<{ home: string; work: string }> {
  const home = await mkdtemp(join(tmpdir(), 'airlock-agent-home-'));
  const work = join(home, 'work');
  await mkdir(work);
  return { home, work };
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
