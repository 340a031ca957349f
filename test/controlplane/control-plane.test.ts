import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { ApiException, CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlPlaneError, startControlPlane, type ControlPlane } from './control-plane.js';
import { sharedKubeConfig } from './context.js';

/** Pids of processes whose command line mentions `text`, e.g. a control plane's temp dir. */
async function processesMentioning(text: string): Promise<number[]> {
  const pids = (await readdir('/proc')).filter((entry) => /^\d+$/.test(entry));
  const matches = await Promise.all(
    pids.map(async (pid) => {
      // A process may exit between readdir and readFile; it then mentions nothing.
      const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
      return cmdline.includes(text) ? Number(pid) : undefined;
    }),
  );
  return matches.filter((pid) => pid !== undefined);
}

describe('shared control plane from global setup', () => {
  it('serves the admin kubeconfig it provided', async () => {
    const namespaces = await sharedKubeConfig().makeApiClient(CoreV1Api).listNamespace({});

    expect(namespaces.items.map((namespace) => namespace.metadata?.name)).toContain('default');
  });
});

describe('startControlPlane', () => {
  let controlPlane: ControlPlane;

  beforeAll(async () => {
    controlPlane = await startControlPlane();
  });

  afterAll(async () => {
    await controlPlane?.stop();
  });

  it('lists namespaces with the admin client certificate', async () => {
    const namespaces = await controlPlane.kubeConfig.makeApiClient(CoreV1Api).listNamespace({});

    expect(namespaces.items.map((namespace) => namespace.metadata?.name)).toEqual(
      expect.arrayContaining(['default', 'kube-system']),
    );
    expect(controlPlane.server).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(existsSync(controlPlane.kubeconfigPath)).toBe(true);
  });

  it('keeps data in etcd across an apiserver restart', async () => {
    const core = controlPlane.kubeConfig.makeApiClient(CoreV1Api);
    await core.createNamespacedConfigMap({
      namespace: 'default',
      body: { metadata: { name: 'survives-restart' }, data: { written: 'before' } },
    });
    const before = controlPlane.pids();

    await controlPlane.restartApiServer();

    const after = controlPlane.pids();
    expect(after.apiServer).toBeDefined();
    expect(after.apiServer).not.toBe(before.apiServer);
    expect(after.etcd).toBe(before.etcd);
    expect(existsSync(`/proc/${before.apiServer}`)).toBe(false);
    const configMap = await core.readNamespacedConfigMap({ name: 'survives-restart', namespace: 'default' });
    expect(configMap.data).toEqual({ written: 'before' });
  });

  it('issues ServiceAccount tokens that authenticate but carry no permissions by default', async () => {
    const core = controlPlane.kubeConfig.makeApiClient(CoreV1Api);
    await core.createNamespacedServiceAccount({ namespace: 'default', body: { metadata: { name: 'nobody' } } });

    const token = await controlPlane.tokenFor('default', 'nobody');
    const asNobody = controlPlane.kubeConfigForToken(token).makeApiClient(CoreV1Api);
    const error = await asNobody.listNamespace({}).catch((caught: unknown) => caught);

    // 403 rather than 401: the token was accepted and RBAC denied the request.
    expect(error).toBeInstanceOf(ApiException);
    expect((error as ApiException<unknown>).code).toBe(403);
    expect(String((error as ApiException<unknown>).body)).toContain('system:serviceaccount:default:nobody');
  });

  it('stop() leaves no process and no temp dir, and is idempotent', async () => {
    const { etcd, apiServer } = controlPlane.pids();
    expect(etcd).toBeDefined();
    expect(apiServer).toBeDefined();
    expect(existsSync(`/proc/${etcd}`)).toBe(true);

    await Promise.all([controlPlane.stop(), controlPlane.stop()]);
    await controlPlane.stop();

    expect(existsSync(`/proc/${etcd}`)).toBe(false);
    expect(existsSync(`/proc/${apiServer}`)).toBe(false);
    expect(controlPlane.pids()).toEqual({ etcd: undefined, apiServer: undefined });
    expect(await processesMentioning(controlPlane.dir)).toEqual([]);
    expect(existsSync(controlPlane.dir)).toBe(false);
  });
});

describe('startControlPlane failing', () => {
  it('reports the apiserver log tail and leaves no temp dir behind', async () => {
    const controlPlaneDirs = async (): Promise<string[]> =>
      (await readdir(tmpdir())).filter((name) => name.startsWith('airlock-controlplane-'));
    const before = await controlPlaneDirs();

    const error = await startControlPlane({ apiServerFlags: ['--authorization-mode=NoSuchMode'] }).catch(
      (caught: unknown) => caught,
    );

    expect(error).toBeInstanceOf(ControlPlaneError);
    expect((error as Error).message).toMatch(/kube-apiserver exited \(code \d+\)/);
    expect((error as Error).message).toContain('NoSuchMode');
    const leftOver = (await controlPlaneDirs()).filter((name) => !before.includes(name));
    expect(leftOver).toEqual([]);
  });
});
