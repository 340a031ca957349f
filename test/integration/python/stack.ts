/**
 * A Python test file's setup: a sidecar in front of one mock per provider kind (model
 * `via-<kind>`), and one Python driver process running the file's case modules against its socket.
 */
import type { SidecarConfigInput } from '../../../sidecar/src/config/schema.js';
import type { MockKind, MockProvider } from '../../mocks/index.js';
import { startPython, type PythonDriver } from '../../python/driver.js';
import { EVERY_PROVIDER, realKeys, startProviderStack, type Stack } from '../sidecar/harness.js';

export { VENV_BUILD_TIMEOUT_MS } from '../../python/driver.js';

/** Every provider kind the Python SDKs are tried against. */
export const PROVIDERS = EVERY_PROVIDER;

export interface PythonStack {
  stack: Stack;
  /** The providers' keys, which the Python side must never see. */
  keys: Partial<Record<MockKind, string>>;
  mocks: Map<MockKind, MockProvider>;
  python: PythonDriver;
  close(): Promise<void>;
}

/**
 * Starts the providers' mocks, the sidecar (sandbox `name`, `extra` config such as `mcp`) and
 * driver.py with `modules`, in the venv of `requirements` (test/python/requirements.txt unless given).
 */
export async function startPythonStack(name: string, modules: string[], extra: Partial<SidecarConfigInput> = {}, requirements?: string): Promise<PythonStack> {
  const keys = realKeys(PROVIDERS);
  const { stack, mocks, close } = await startProviderStack(PROVIDERS, keys, { ...extra, sandbox: { name } });
  const python = await startPython(stack.socketPath, modules, {}, requirements).catch(async (error: unknown) => {
    await close();
    throw error;
  });
  return {
    stack,
    keys,
    mocks,
    python,
    async close() {
      await python.close();
      await close();
    },
  };
}
