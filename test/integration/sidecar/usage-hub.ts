/**
 * The operator's side of sandbox-wide usage (ADR 0014) for sidecar tests, in process: its own
 * usage route, for the one sandbox `agents/shared`, over a status the test merges itself.
 */
import { HttpApp, PLAIN_ANSWERS, plainError } from '../../../sidecar/src/server/http/index.js';
import type { AgentSandbox, SandboxUsageStatus } from '../../../operator/src/api/index.js';
import { usageRoute } from '../../../operator/src/usage/route.js';

/** Serves `GET /usage/agents/shared` from `status()` to callers with `token`; the URL is the base. */
export async function startUsageRoute(status: () => SandboxUsageStatus | undefined, token: string): Promise<{ url: string; close(): Promise<void> }> {
  const app = new HttpApp({ bodyLimit: 0, ...PLAIN_ANSWERS });
  const ours = (namespace: string, name: string) => namespace === 'agents' && name === 'shared';
  usageRoute(
    app,
    { sandbox: (namespace, name) => (ours(namespace, name) ? ({ status: { usage: status() } } as unknown as AgentSandbox) : undefined), token: (namespace, name) => (ours(namespace, name) ? token : undefined) },
    plainError(console),
  );
  await app.listen({ host: '127.0.0.1', port: 0 });
  return { url: `http://127.0.0.1:${app.address().port}`, close: () => app.close() };
}
