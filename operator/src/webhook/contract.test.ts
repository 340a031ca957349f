/**
 * The injected pod and the rendered sidecar config must agree on where files live and which
 * port the probes hit; a mismatch would only show up as pods that never become ready. Both
 * sides are rendered here and compared as the kubelet and the sidecar would see them.
 */
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { SidecarConfig } from '@airlock/sidecar/config';
import { ModelProvider } from '../api/index.js';
import { renderSidecarConfig } from '../render/sidecar-config.js';
import { renderSidecar } from './render.js';
import { CONFIG_KEY } from './settings.js';
import { testSandbox, testSettings } from './test-fixtures.js';

const sandbox = testSandbox('research', { providers: ['openai'] });
const provider = ModelProvider.parse({
  apiVersion: 'airlock.dev/v1alpha1',
  kind: 'ModelProvider',
  metadata: { name: 'openai', namespace: 'agents' },
  spec: { type: 'openai', models: [{ name: 'gpt' }], apiKeys: [{ secretName: 'k', key: 'a' }] },
});
const rendered = renderSidecarConfig({ sandbox, providers: [provider], backends: [], secret: () => ({ data: { a: 'c2stYQ==' } }) });
const config = SidecarConfig.parse(parse(rendered.yaml));
const container = renderSidecar(sandbox, testSettings(), true);
const mountOf = (path: string) => container.volumeMounts?.find((m) => path.startsWith(`${m.mountPath}/`));

describe('pod spec and sidecar config contract', () => {
  it('starts the sidecar on the config file the config volume holds', () => {
    const configArg = container.command?.[container.command.indexOf('--config') + 1] ?? '';
    expect(mountOf(configArg)).toMatchObject({ readOnly: true });
    expect(configArg.endsWith(`/${CONFIG_KEY}`)).toBe(true);
  });

  it('mounts the credentials volume where the rendered config reads every key file', () => {
    const files = config.providers.flatMap((p) => p.apiKeys.map((k) => ('file' in k ? k.file : '')));
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      const mount = mountOf(file);
      expect(mount, file).toBeDefined();
      expect(rendered.credentials[file.slice((mount?.mountPath.length ?? 0) + 1)], file).toBeDefined();
    }
  });

  it('probes the admin port the rendered config listens on', () => {
    expect(container.ports?.map((p) => p.containerPort)).toEqual([config.listen.admin.port]);
    expect(container.readinessProbe?.httpGet?.port).toBe(container.ports?.[0]?.name);
  });

  it('tells the agent the socket path the sidecar listens on', () => {
    expect(container.env?.find((e) => e.name === 'AIRLOCK_SOCKET')?.value).toBe(config.listen.socket.path);
  });
});
