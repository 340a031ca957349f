import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { injectionRecordOf, injectPod } from './inject.js';
import { podPatch } from './patch.js';
import { renderFirewall, renderSidecar, renderTools } from './render.js';
import { configMapNameFor, CREDENTIALS_VOLUME, FIREWALL_CONTAINER, INJECTED_ANNOTATION, SIDECAR_CONTAINER, TOOLS_CONTAINER, TOOLS_VOLUME } from './settings.js';
import { testPod, testSandbox, testSettings } from './test-fixtures.js';

const allContainers = (pod: V1Pod): V1Container[] => [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
const byName = (pod: V1Pod, name: string) => allContainers(pod).find((c) => c.name === name);

/** A pod exercising most of what injection touches: init containers, several apps, user env and drops. */
function busyPod(): V1Pod {
  return testPod('research', {
    initContainers: [{ name: 'setup', image: 'setup:1' }],
    containers: [
      { name: 'agent', image: 'agent:1', env: [{ name: 'A', value: '1' }, { name: 'OPENAI_BASE_URL', value: 'https://api.openai.com/v1' }, { name: 'B', value: '$(OPENAI_BASE_URL)' }] },
      { name: 'helper', image: 'helper:1', securityContext: { capabilities: { drop: ['cap_net_raw', 'MKNOD'] } } },
    ],
    volumes: [{ name: 'data', emptyDir: {} }],
  });
}

const variants = [
  { label: 'native, firewall, loopback', native: true, spec: { providers: ['p'], socket: { loopbackPort: 8080 } } },
  { label: 'native, networkpolicy', native: true, spec: { providers: ['p'], isolation: { network: 'networkpolicy' } } },
  { label: 'fallback, firewall', native: false, spec: { providers: ['p'], isolation: { allowEgress: [{ cidr: '10.0.0.0/8', ports: [443] }] } } },
  { label: 'fallback, none, loopback', native: false, spec: { providers: ['p'], isolation: { network: 'none' }, socket: { loopbackPort: 9000 } } },
];

describe('injectPod', () => {
  describe.each(variants)('$label', ({ native, spec }) => {
    const sandbox = testSandbox('research', spec);
    const settings = testSettings({ nativeSidecars: native });

    it('inject twice = inject once', () => {
      const once = injectPod(busyPod(), sandbox, settings);
      const twice = injectPod(once.pod, sandbox, settings);
      expect(twice.pod).toEqual(once.pod);
      expect(twice.annotation).toEqual(once.annotation);
      expect(podPatch(once.pod, twice.pod)).toEqual([]);
      // Nothing is duplicated: one sidecar, one socket volume, one AIRLOCK_SOCKET per container.
      expect(allContainers(twice.pod).filter((c) => c.name === SIDECAR_CONTAINER)).toHaveLength(1);
      expect(twice.pod.spec?.volumes?.filter((v) => v.name === 'airlock-socket')).toHaveLength(1);
      for (const c of allContainers(twice.pod)) {
        expect(c.env?.filter((e) => e.name === 'AIRLOCK_SOCKET').length ?? 0).toBeLessThanOrEqual(1);
        expect(c.volumeMounts?.filter((m) => m.name === 'airlock-socket').length ?? 0).toBeLessThanOrEqual(1);
        expect(new Set(c.securityContext?.capabilities?.drop).size).toBe(c.securityContext?.capabilities?.drop?.length ?? 0);
      }
    });

    it('mounts the credentials Secret in the sidecar only, and reads the config from it, not from the ConfigMap', () => {
      const { pod } = injectPod(busyPod(), sandbox, settings);
      const secret = settings.credentialsSecretName('research');
      const configMap = configMapNameFor('research');
      // Every volume whose source is the Secret or the ConfigMap, however it is spelled.
      const sensitive = new Set(
        (pod.spec?.volumes ?? [])
          .filter(
            (v) =>
              v.secret?.secretName === secret ||
              v.configMap?.name === configMap ||
              (v.projected?.sources ?? []).some((s) => s.secret?.name === secret || s.configMap?.name === configMap),
          )
          .map((v) => v.name),
      );
      // The ConfigMap is a copy for people: someone who may edit it but not read the Secret
      // cannot change what the sidecar runs with (ADR 29).
      expect([...sensitive].sort()).toEqual(['airlock-credentials']);
      const sidecar = byName(pod, SIDECAR_CONTAINER)!;
      const credentialsDir = sidecar.volumeMounts!.find((m) => m.name === 'airlock-credentials')!.mountPath;
      expect(sidecar.command).toEqual(['airlock-sidecar', 'run', '--config', `${credentialsDir}/config.yaml`]);

      const exposedIn = new Set<string>();
      for (const c of [...allContainers(pod), ...(pod.spec?.ephemeralContainers ?? [])]) {
        if (c.volumeMounts?.some((m) => sensitive.has(m.name))) exposedIn.add(c.name);
        if (c.env?.some((e) => e.valueFrom?.secretKeyRef?.name === secret || e.valueFrom?.configMapKeyRef?.name === configMap)) exposedIn.add(c.name);
        if (c.envFrom?.some((e) => e.secretRef?.name === secret || e.configMapRef?.name === configMap)) exposedIn.add(c.name);
      }
      expect([...exposedIn]).toEqual([SIDECAR_CONTAINER]);
      expect(byName(pod, SIDECAR_CONTAINER)?.volumeMounts?.filter((m) => sensitive.has(m.name)).every((m) => m.readOnly)).toBe(true);
    });

    it('places the firewall first and the sidecar where the mode says', () => {
      const { pod } = injectPod(busyPod(), sandbox, settings);
      const init = (pod.spec?.initContainers ?? []).map((c) => c.name);
      const containers = (pod.spec?.containers ?? []).map((c) => c.name);
      const firewall = sandbox.spec.isolation.network === 'firewall';
      expect(init).toEqual([...(firewall ? [FIREWALL_CONTAINER] : []), ...(native ? [TOOLS_CONTAINER, SIDECAR_CONTAINER] : []), 'setup']);
      expect(containers).toEqual(['agent', 'helper', ...(native ? [] : [TOOLS_CONTAINER, SIDECAR_CONTAINER])]);
      expect(byName(pod, SIDECAR_CONTAINER)?.restartPolicy).toBe(native ? 'Always' : undefined);
      expect(byName(pod, TOOLS_CONTAINER)?.restartPolicy).toBe(native ? 'Always' : undefined);
    });

    it("gives airlock-tools a /dev/shm of its own, in memory and bounded, which no other container mounts (the pod's is the agent's too)", () => {
      const { pod } = injectPod(busyPod(), sandbox, settings);
      expect(byName(pod, TOOLS_CONTAINER)?.volumeMounts).toContainEqual({ name: 'airlock-tools-shm', mountPath: '/dev/shm' });
      expect(pod.spec?.volumes).toContainEqual({ name: 'airlock-tools-shm', emptyDir: { medium: 'Memory', sizeLimit: '64Mi' } });
      const mountsShm = allContainers(pod).filter((c) => c.volumeMounts?.some((m) => m.name === 'airlock-tools-shm' || m.mountPath === '/dev/shm')).map((c) => c.name);
      expect(mountsShm).toEqual([TOOLS_CONTAINER]);
    });

    it('runs stdio servers in airlock-tools: its own UID, no keys, no config, no token, a socket only the sidecar shares', () => {
      const { pod } = injectPod(busyPod(), sandbox, settings);
      const tools = byName(pod, TOOLS_CONTAINER)!;
      expect(tools.command).toEqual(['airlock-sidecar', 'stdio-host', '--socket', '/var/run/airlock-tools/stdio.sock']);
      expect(tools.securityContext).toEqual({
        runAsUser: 61338,
        runAsGroup: 61338,
        runAsNonRoot: true,
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
        seccompProfile: { type: 'RuntimeDefault' },
      });
      expect(tools.volumeMounts?.map((m) => m.name).sort()).toEqual(['airlock-tools', 'airlock-tools-shm', 'airlock-tools-tmp', 'airlock-tools-tmp']);
      // The ServiceAccount admission plugin mounts no token where a mount already is.
      expect(tools.volumeMounts?.find((m) => m.mountPath === '/var/run/secrets/kubernetes.io/serviceaccount')).toMatchObject({ readOnly: true });
      expect(tools.env).toEqual([{ name: 'HOME', value: '/tmp' }]);
      const mountsTools = allContainers(pod).filter((c) => c.volumeMounts?.some((m) => m.name === TOOLS_VOLUME)).map((c) => c.name).sort();
      expect(mountsTools).toEqual([SIDECAR_CONTAINER, TOOLS_CONTAINER]);
      expect(byName(pod, SIDECAR_CONTAINER)?.env).toContainEqual({ name: 'AIRLOCK_STDIO_HOST', value: '/var/run/airlock-tools/stdio.sock' });
      // The agent shares the pod's network: the sidecar connects to no name that resolves to the pod's own addresses.
      expect(byName(pod, SIDECAR_CONTAINER)?.env).toContainEqual({ name: 'AIRLOCK_REFUSE_POD_ADDRESSES', value: 'true' });
      expect(tools.image).toBe(byName(pod, SIDECAR_CONTAINER)?.image);
    });
  });

  it("gives the sidecar the operator's public seal key and its sandbox, so it uses only the credentials sealed for it (ADR 30)", () => {
    const sandbox = testSandbox('sealed');
    const sealed = renderSidecar(sandbox, testSettings({ sealKey: 'cHVibGljLWhhbGYtb2YtdGhlLW9wZXJhdG9yLWtleS0=' }), true);
    expect(sealed.env).toEqual(expect.arrayContaining([{ name: 'AIRLOCK_CONFIG_KEY', value: 'cHVibGljLWhhbGYtb2YtdGhlLW9wZXJhdG9yLWtleS0=' }, { name: 'AIRLOCK_SANDBOX', value: sandbox.metadata!.name }]));
    // The namespace the seal must name comes from the pod itself.
    expect(sealed.env).toContainEqual({ name: 'AIRLOCK_POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } });
  });

  it('a sandbox author\'s socket.dir places the socket in the app containers only, never over the sidecar\'s own files', () => {
    // The socket volume is shared with the agent, which can write to it. Mounted at a directory of
    // the sidecar image (its code, a module it imports lazily on the first /mcp call), it would run
    // the agent's files as the sidecar, next to every key.
    for (const dir of ['/app/node_modules/@modelcontextprotocol/sdk/dist/esm/server', '/app/sidecar/dist', '/app/sidecar/bundle/chunks', '/etc/airlock/config/.', '/usr/local/bin', '/run/agent-airlock']) {
      const { pod } = injectPod(testPod(), testSandbox('research', { providers: ['openai'], socket: { dir } }), testSettings());
      const sidecar = byName(pod, SIDECAR_CONTAINER)!;
      const socketMounts = (sidecar.volumeMounts ?? []).filter((m) => m.name === 'airlock-socket');
      expect(socketMounts, dir).toEqual([{ name: 'airlock-socket', mountPath: '/var/run/airlock' }]);
      expect(sidecar.startupProbe?.exec?.command, dir).toEqual(['airlock-sidecar', 'probe', '--socket', '/var/run/airlock/airlock.sock']);
      expect(sidecar.env?.find((e) => e.name === 'AIRLOCK_SOCKET')?.value, dir).toBe('/var/run/airlock/airlock.sock');
      // The agent still finds the socket where its sandbox says.
      const agent = byName(pod, 'agent')!;
      expect(agent.volumeMounts?.find((m) => m.name === 'airlock-socket')?.mountPath, dir).toBe(dir);
      expect(agent.env?.find((e) => e.name === 'AIRLOCK_SOCKET')?.value, dir).toBe(`${dir}/airlock.sock`);
    }
  });

  it('does not modify the pod it is given', () => {
    const pod = busyPod();
    const copy = structuredClone(pod);
    injectPod(pod, testSandbox('research'), testSettings());
    expect(pod).toEqual(copy);
  });

  it('hardens every app container and keeps the user\'s own drops', () => {
    const { pod } = injectPod(busyPod(), testSandbox('research'), testSettings());
    for (const name of ['setup', 'agent', 'helper']) {
      const sc = byName(pod, name)?.securityContext;
      expect(sc?.allowPrivilegeEscalation).toBe(false);
      expect(sc?.capabilities?.drop).toEqual(expect.arrayContaining(['NET_ADMIN', 'SETUID', 'SETGID']));
    }
    // cap_net_raw already drops NET_RAW, so it is not added a second time; MKNOD stays.
    expect(byName(pod, 'helper')?.securityContext?.capabilities?.drop).toEqual(['cap_net_raw', 'MKNOD', 'NET_ADMIN', 'SETUID', 'SETGID']);
  });

  it('forces allowPrivilegeEscalation off even when the pod asks for it', () => {
    const pod = testPod('research', { containers: [{ name: 'agent', securityContext: { allowPrivilegeEscalation: true } }] });
    expect(byName(injectPod(pod, testSandbox('research'), testSettings()).pod, 'agent')?.securityContext?.allowPrivilegeEscalation).toBe(false);
  });

  it('sets the SDK base URLs in place of the user\'s own only with a loopback port', () => {
    const withPort = injectPod(busyPod(), testSandbox('research', { providers: ['p'], socket: { loopbackPort: 8080 } }), testSettings()).pod;
    expect(byName(withPort, 'agent')?.env).toEqual([
      { name: 'A', value: '1' },
      { name: 'OPENAI_BASE_URL', value: 'http://127.0.0.1:8080/v1' },
      { name: 'B', value: '$(OPENAI_BASE_URL)' },
      { name: 'AIRLOCK_SOCKET', value: '/var/run/airlock/airlock.sock' },
      { name: 'ANTHROPIC_BASE_URL', value: 'http://127.0.0.1:8080' },
      { name: 'AIRLOCK_MCP_URL', value: 'http://127.0.0.1:8080/mcp' },
    ]);
    const without = injectPod(busyPod(), testSandbox('research'), testSettings()).pod;
    expect(byName(without, 'helper')?.env).toEqual([{ name: 'AIRLOCK_SOCKET', value: '/var/run/airlock/airlock.sock' }]);
    expect(byName(without, 'agent')?.env?.find((e) => e.name === 'OPENAI_BASE_URL')?.value).toBe('https://api.openai.com/v1');
  });

  it('gives existing init containers the socket only when the sidecar runs before them', () => {
    const native = injectPod(busyPod(), testSandbox('research'), testSettings({ nativeSidecars: true }));
    const fallback = injectPod(busyPod(), testSandbox('research'), testSettings({ nativeSidecars: false }));
    expect(native.annotation.containers).toEqual(['setup', 'agent', 'helper']);
    expect(fallback.annotation.containers).toEqual(['agent', 'helper']);
    expect(byName(fallback.pod, 'setup')?.env).toBeUndefined();
    expect(fallback.annotation.hardened).toEqual(['setup', 'agent', 'helper']);
  });

  it('turns the service account token off unless the sandbox allows it', () => {
    const asking = testPod('research', { automountServiceAccountToken: true });
    expect(injectPod(asking, testSandbox('research'), testSettings()).pod.spec?.automountServiceAccountToken).toBe(false);
    const allowed = testSandbox('research', { providers: ['p'], isolation: { automountServiceAccountToken: true } });
    expect(injectPod(asking, allowed, testSettings()).pod.spec?.automountServiceAccountToken).toBe(true);
    expect(injectPod(testPod('research'), allowed, testSettings()).pod.spec).not.toHaveProperty('automountServiceAccountToken');
  });

  it("removes the token the API server's ServiceAccount admission mounted in every container before the webhook ran, unless the sandbox allows it", () => {
    // As the pod reaches the webhook in a real cluster: the plugin runs first and has added this.
    const tokenVolume = {
      name: 'kube-api-access-47m8j',
      projected: {
        sources: [
          { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
          { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
          { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
        ],
      },
    };
    const tokenMount = { name: 'kube-api-access-47m8j', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true };
    const admitted = testPod('research', {
      initContainers: [{ name: 'setup', image: 'busybox', volumeMounts: [tokenMount] }],
      containers: [{ name: 'agent', image: 'agent:1', volumeMounts: [{ name: 'work', mountPath: '/work' }, tokenMount] }],
      volumes: [{ name: 'work', emptyDir: {} }, tokenVolume],
    });
    const injected = injectPod(admitted, testSandbox('research'), testSettings()).pod;
    expect(injected.spec!.volumes!.map((v) => v.name)).not.toContain('kube-api-access-47m8j');
    expect(injected.spec!.volumes!.map((v) => v.name)).toContain('work');
    const mounts = [...injected.spec!.initContainers!, ...injected.spec!.containers].flatMap((c) => (c.volumeMounts ?? []).map((m) => `${c.name}:${m.name}:${m.mountPath}`));
    // (airlock-tools masks the path with an empty volume of its own, for a sandbox that allows tokens.)
    expect(mounts.filter((m) => m.includes('serviceaccount') && !m.startsWith('airlock-tools:airlock-'))).toEqual([]);
    expect(mounts).toContain('agent:work:/work');
    const allowed = testSandbox('research', { providers: ['p'], isolation: { automountServiceAccountToken: true } });
    expect(byName(injectPod(admitted, allowed, testSettings()).pod, 'agent')?.volumeMounts).toContainEqual(tokenMount);
  });

  it('replaces containers and volumes a pod brings under Airlock\'s names', () => {
    const sandbox = testSandbox('research');
    const settings = testSettings();
    const impostor = testPod('research', {
      initContainers: [{ name: FIREWALL_CONTAINER, image: 'evil:1', command: ['sh', '-c', 'iptables -F'], securityContext: { privileged: true } }],
      containers: [{ name: 'agent' }, { name: SIDECAR_CONTAINER, image: 'evil:1', securityContext: { runAsUser: 61337 } }, { name: TOOLS_CONTAINER, image: 'evil:1', volumeMounts: [{ name: CREDENTIALS_VOLUME, mountPath: '/keys' }] }],
      volumes: [{ name: CREDENTIALS_VOLUME, secret: { secretName: 'something-else' } }],
    });
    const { pod } = injectPod(impostor, sandbox, settings);
    expect(pod.spec?.initContainers).toEqual([renderFirewall(sandbox, settings), renderTools(sandbox, settings, true), renderSidecar(sandbox, settings, true)]);
    expect(pod.spec?.containers.map((c) => c.name)).toEqual(['agent']);
    expect(pod.spec?.volumes?.find((v) => v.name === CREDENTIALS_VOLUME)).toEqual({ name: CREDENTIALS_VOLUME, secret: { secretName: 'airlock-research-credentials' } });
  });

  it('does not trust an injection annotation the pod already carries', () => {
    const faked = testPod('research');
    faked.metadata!.annotations = { [INJECTED_ANNOTATION]: '{"version":1,"sandbox":"research"}' };
    const { pod } = injectPod(faked, testSandbox('research'), testSettings());
    expect(byName(pod, SIDECAR_CONTAINER)).toBeDefined();
  });

  it('stamps the record it returns as the annotation', () => {
    const { pod, annotation } = injectPod(busyPod(), testSandbox('research', { providers: ['p'], isolation: { network: 'none' } }), testSettings({ nativeSidecars: false }));
    expect(injectionRecordOf(pod)).toEqual(annotation);
    expect(annotation).toEqual({
      version: 2,
      sandbox: 'research',
      image: testSettings().sidecarImage,
      firewall: false,
      sidecar: 'fallback',
      containers: ['agent', 'helper'],
      hardened: ['setup', 'agent', 'helper'],
    });
    expect(pod.metadata?.labels).toEqual(busyPod().metadata?.labels);
  });

  it('uses the configured sidecar and tools UIDs for their containers and the firewall', () => {
    const { pod } = injectPod(testPod('research'), testSandbox('research'), testSettings({ sidecarUID: 4242, toolsUID: 4343 }));
    expect(byName(pod, SIDECAR_CONTAINER)?.securityContext).toMatchObject({ runAsUser: 4242, runAsGroup: 4242, runAsNonRoot: true });
    expect(byName(pod, TOOLS_CONTAINER)?.securityContext).toMatchObject({ runAsUser: 4343, runAsGroup: 4343, runAsNonRoot: true });
    expect(byName(pod, FIREWALL_CONTAINER)?.command).toEqual(['airlock-sidecar', 'firewall', '--sidecar-uid', '4242', '--tools-uid', '4343', '--admin-port', '9090']);
  });

  it("sizes airlock-tools for the idle stdio host and its servers, not as the proxy, unless the sandbox sizes its sidecar", () => {
    const { pod } = injectPod(testPod('research'), testSandbox('research'), testSettings());
    expect(byName(pod, TOOLS_CONTAINER)?.resources).toEqual({ requests: { cpu: '10m', memory: '64Mi' }, limits: { memory: '512Mi' } });
    expect(byName(pod, SIDECAR_CONTAINER)?.resources).toEqual({ requests: { cpu: '50m', memory: '96Mi' }, limits: { memory: '512Mi' } });
    // The operator's setting (chart sidecar.toolsResources) replaces the default.
    const configured = { requests: { cpu: '5m', memory: '80Mi' }, limits: { cpu: '1', memory: '1Gi' } };
    const tuned = injectPod(testPod('research'), testSandbox('research'), testSettings({ toolsResources: configured })).pod;
    expect(byName(tuned, TOOLS_CONTAINER)?.resources).toEqual(configured);
    // A sandbox that sizes its sidecar (heavy stdio servers, a quota that demands limits) sizes airlock-tools the same.
    const own = { requests: { cpu: '200m', memory: '256Mi' }, limits: { cpu: '1', memory: '2Gi' } };
    const sized = injectPod(testPod('research'), testSandbox('research', { providers: ['openai'], sidecar: { resources: own } }), testSettings({ toolsResources: configured })).pod;
    expect(byName(sized, TOOLS_CONTAINER)?.resources).toEqual(own);
    expect(byName(sized, SIDECAR_CONTAINER)?.resources).toEqual(own);
  });

  it('adds no init containers field when there is nothing to put in it', () => {
    const { pod } = injectPod(testPod('research'), testSandbox('research', { providers: ['p'], isolation: { network: 'none' } }), testSettings({ nativeSidecars: false }));
    expect(pod.spec).not.toHaveProperty('initContainers');
  });
});
