/**
 * A Python test file's setup: a sidecar in front of one mock per provider kind (model
 * `via-<kind>`), and one Python driver process running the file's case modules against its socket.
 */
import type { MockKind, MockProvider } from '../../mocks/index.js';
import { startPython, type PythonDriver } from '../../python/driver.js';
import { startProviderStack, type Stack } from '../sidecar/harness.js';

export { VENV_BUILD_TIMEOUT_MS } from '../../python/driver.js';

/** Every provider kind the Python SDKs are tried against. */
export const PROVIDERS: MockKind[] = ['openai', 'anthropic', 'gemini', 'ollama'];

/** Provider keys in their real formats: each must be accepted upstream and never reach the client. */
const KEYS: Partial<Record<MockKind, string>> = {
  openai: 'sk-proj-Pq3vT9mB2kLp7RwZ4nYc8HdF1sJ6aGe5uV0oKiEt',
  anthropic: 'sk-ant-api03-P7tYp2QwE9mZx4VbN6cL1kJ8hG3fD5sA0uIoP-AbCdEfGh',
  gemini: 'AIzaSyP4k9Lm2Nq7Rs1Tv6Wx3Yz8Ab5Cd0Ef2Gh',
};

export interface PythonStack {
  stack: Stack;
  mocks: Map<MockKind, MockProvider>;
  python: PythonDriver;
  close(): Promise<void>;
}

/** Starts the providers' mocks, the sidecar (sandbox `name`) and driver.py with `modules`. */
export async function startPythonStack(name: string, modules: string[], env: Record<string, string> = {}): Promise<PythonStack> {
  const { stack, mocks, close } = await startProviderStack(PROVIDERS, KEYS, { sandbox: { name } });
  const python = await startPython(stack.socketPath, modules, env).catch(async (error: unknown) => {
    await close();
    throw error;
  });
  return {
    stack,
    mocks,
    python,
    async close() {
      await python.close();
      await close();
    },
  };
}
