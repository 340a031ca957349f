/**
 * The Python venv the Python integration tests run in: built by the machine's `python3 -m venv`
 * from test/python/requirements.txt on first use and cached under
 * `~/.cache/airlock/python/<hash>` (the hash of the requirements and the interpreter's version),
 * with pip's download cache beside it, so a fresh machine's `npm test` builds it once and later
 * runs reuse it. Several test files may ask at once: one builds while the others wait on a lock.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { access, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The requirements file the venv is built from. */
export const REQUIREMENTS = fileURLToPath(new URL('./requirements.txt', import.meta.url));
/**
 * Google's ADK and what it pulls in, a venv of its own: ADK 2 needs google-genai 2 (on httpx),
 * the other SDKs' venv has google-genai 3 (on httpx2).
 */
export const ADK_REQUIREMENTS = fileURLToPath(new URL('./requirements-adk.txt', import.meta.url));
/** The directory of the Python scripts the tests run. */
export const PYTHON_DIR = fileURLToPath(new URL('./', import.meta.url));

const CACHE = join(homedir(), '.cache', 'airlock', 'python');
/** A lock older than this belongs to a build that died without cleaning up. */
const STALE_LOCK_MS = 20 * 60_000;

/** The version line of the machine's python3, or a failure that says how to get one. */
async function systemPython(): Promise<string> {
  try {
    const { stdout, stderr } = await run('python3', ['-c', 'import sys, venv, ensurepip; print(sys.version)']);
    return `${stdout}${stderr}`.trim();
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new Error(
      missing
        ? 'python3 is not on PATH: the Python integration tests need it (Debian: apt-get install python3 python3-venv; test/setup/install-debian-packages.sh does this as root)'
        : `python3 cannot make a venv (${String((error as { stderr?: string }).stderr ?? error).trim()}); Debian: apt-get install python3-venv`,
      { cause: error },
    );
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function withLock<T>(lock: string, fn: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      await writeFile(lock, String(process.pid), { flag: 'wx' });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number(await readFile(lock, 'utf8').catch(() => '0'));
      const age = Date.now() - (await stat(lock).then((s) => s.mtimeMs, () => Date.now()));
      if (!holder || !alive(holder) || age > STALE_LOCK_MS) await rm(lock, { force: true });
      else await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lock, { force: true });
  }
}

const exists = (path: string) => access(path).then(() => true, () => false);

const building = new Map<string, Promise<string>>();

/**
 * The path of the venv's python, building the venv first when the cache has none for this
 * requirements file. Scripts are run as `python -m <module>` or `python <file>`: the venv is
 * built in a temp dir and renamed into place, so its console-script shebangs point elsewhere.
 */
export function venvPython(requirementsFile = REQUIREMENTS): Promise<string> {
  let python = building.get(requirementsFile);
  if (python === undefined) building.set(requirementsFile, (python = build(requirementsFile)));
  return python;
}

async function build(requirementsFile: string): Promise<string> {
  const version = await systemPython();
  const requirements = await readFile(requirementsFile);
  const hash = createHash('sha256').update(requirements).update(version).digest('hex').slice(0, 16);
  const dir = join(CACHE, hash);
  const python = join(dir, 'bin', 'python');
  const done = join(dir, '.complete');
  if (await exists(done)) return python;
  await mkdir(CACHE, { recursive: true });
  return withLock(`${dir}.lock`, async () => {
    if (await exists(done)) return python;
    const tmp = `${dir}.building-${process.pid}`;
    await rm(tmp, { recursive: true, force: true });
    try {
      await run('python3', ['-m', 'venv', tmp]);
      const pip = ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--cache-dir', join(CACHE, 'pip'), '-r', requirementsFile];
      await run(join(tmp, 'bin', 'python'), pip, { maxBuffer: 64 * 1024 * 1024, timeout: 15 * 60_000 });
      await writeFile(join(tmp, '.complete'), `${version}\n`);
      await rm(dir, { recursive: true, force: true });
      await rename(tmp, dir);
    } catch (error) {
      await rm(tmp, { recursive: true, force: true });
      const detail = String((error as { stderr?: string }).stderr || error).trim().slice(-2000);
      throw new Error(`building the Python test venv from ${requirementsFile} failed (PyPI must be reachable on the first run): ${detail}`, { cause: error });
    }
    return python;
  });
}
