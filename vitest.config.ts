import { defineConfig } from 'vitest/config';

// Workspace packages resolve to their TypeScript sources in tests (see package.json exports).
const conditions = ['airlock-source', 'node', 'import', 'module', 'default'];
const resolve = { conditions };
// expect.poll waits for what the product does after a call (usage counted after an abort, a
// stream's end): Vitest gives up after 1 s by default, which a loaded CI machine can overrun.
// The test's own timeout still bounds it.
const expect = { poll: { timeout: 30_000 } };

export default defineConfig({
  resolve,
  ssr: { resolve: { conditions, externalConditions: ['airlock-source'] } },
  test: {
    reporters: ['default'],
    projects: [
      {
        resolve,
        ssr: { resolve: { conditions, externalConditions: ['airlock-source'] } },
        test: {
          expect,
          name: 'unit',
          include: ['sidecar/src/**/*.test.ts', 'operator/src/**/*.test.ts'],
        },
      },
      {
        resolve,
        ssr: { resolve: { conditions, externalConditions: ['airlock-source'] } },
        test: {
          expect,
          name: 'integration',
          include: ['test/mocks/**/*.test.ts', 'test/integration/sidecar/**/*.test.ts', 'test/integration/mcp/**/*.test.ts', 'test/integration/python/**/*.test.ts', 'test/helm/**/*.test.ts', 'test/images/**/*.test.ts', 'test/fuzz/http.test.ts', 'test/fuzz/schemas.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        resolve,
        ssr: { resolve: { conditions, externalConditions: ['airlock-source'] } },
        test: {
          // Real kernel rules in network namespaces: needs root (CI and these machines are).
          name: 'firewall',
          expect,
          include: ['test/integration/firewall/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        resolve,
        ssr: { resolve: { conditions, externalConditions: ['airlock-source'] } },
        test: {
          expect,
          name: 'kube',
          include: ['test/controlplane/**/*.test.ts', 'test/integration/kube/**/*.test.ts', 'test/integration/chart/**/*.test.ts', 'test/fuzz/crds.test.ts'],
          globalSetup: ['test/controlplane/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
        },
      },
      {
        resolve,
        ssr: { resolve: { conditions, externalConditions: ['airlock-source'] } },
        test: {
          // A real node (test/node): kubelet, containerd, runc, CNI bridge, iptables. Linux and
          // root; the first run builds the node's binaries and images (about 35 minutes on 2
          // cores), later runs reuse them.
          name: 'e2e',
          expect,
          include: ['test/e2e/**/*.test.ts'],
          testTimeout: 300_000,
          hookTimeout: 2_400_000,
        },
      },
    ],
  },
});
