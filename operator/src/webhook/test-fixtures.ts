/** Shared builders for the webhook tests: a parsed sandbox, settings and a minimal sandbox pod. */
import type { V1Pod } from '@kubernetes/client-node';
import { AgentSandbox, API_VERSION, SANDBOX_LABEL } from '../api/index.js';
import { injectionSettings, type InjectionSettings } from './settings.js';
import type { HttpApp } from '@airlock/sidecar/http';

/** The image the tests inject. */
export const TEST_IMAGE = 'ghcr.io/airlock-dev/airlock-sidecar:0.1.0';

/** Parses a sandbox the way the informer cache does, so schema defaults apply. */
export function testSandbox(name: string, spec: unknown = { providers: ['openai'] }, namespace = 'agents'): AgentSandbox {
  return AgentSandbox.parse({ apiVersion: API_VERSION, kind: 'AgentSandbox', metadata: { name, namespace }, spec });
}

/** Settings with the test image and any overrides. */
export const testSettings = (overrides: Partial<InjectionSettings> = {}): InjectionSettings =>
  injectionSettings({ sidecarImage: TEST_IMAGE, ...overrides });

/** A pod labelled for `sandbox` with one container `agent`; `spec` is merged over the default spec. */
export function testPod(sandbox = 'research', spec: Partial<V1Pod['spec']> = {}): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'agent-0', namespace: 'agents', labels: { [SANDBOX_LABEL]: sandbox } },
    spec: { containers: [{ name: 'agent', image: 'ghcr.io/example/agent:1' }], ...spec },
  };
}

/**
 * POSTs `payload` as JSON (a Buffer: those bytes) to `path` of `app`, as the API server does (over plain HTTP on a loopback
 * port the app listens on from the first call; `serve` adds TLS, tested in server.test.ts).
 */
export async function postJson<T>(app: HttpApp, path: string, payload: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: T }> {
  if (!app.server.listening) await app.listen({ host: '127.0.0.1', port: 0 });
  const response = await fetch(`http://127.0.0.1:${app.address().port}${path}`, { method: 'POST', body: Buffer.isBuffer(payload) ? payload : JSON.stringify(payload), headers: { 'content-type': 'application/json', ...headers } });
  return { status: response.status, body: (await response.json()) as T };
}
