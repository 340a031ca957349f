/** Runs the kubectl that build.sh built at the API server's version, the way a user would. */
import { execFile } from 'node:child_process';
import { join } from 'node:path';

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Kubectl {
  /** Runs kubectl; resolves with its exit code and output, never rejects on a non-zero exit. */
  run(args: string[], input?: string): Promise<KubectlResult>;
  /** Runs kubectl and rejects with its stderr when it exits non-zero. */
  ok(args: string[], input?: string): Promise<string>;
}

/** A kubectl bound to a binaries directory and a kubeconfig file. */
export function kubectlFor(binDir: string, kubeconfigPath: string): Kubectl {
  const run = (args: string[], input?: string) =>
    new Promise<KubectlResult>((resolve, reject) => {
      const child = execFile(join(binDir, 'kubectl'), args, { env: { ...process.env, KUBECONFIG: kubeconfigPath }, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
        if (error && typeof error.code !== 'number') return reject(error);
        resolve({ code: typeof error?.code === 'number' ? error.code : 0, stdout, stderr });
      });
      if (input !== undefined) child.stdin?.end(input);
    });
  return {
    run,
    async ok(args, input) {
      const result = await run(args, input);
      if (result.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${result.code}):\n${result.stderr}`);
      return result.stdout;
    },
  };
}

const CRD_NAMES = ['modelproviders.airlock.dev', 'mcpbackends.airlock.dev', 'agentsandboxes.airlock.dev'];

/** Applies the CRDs in `crdDir` server-side and waits until every one is Established. */
export async function installCrds(kubectl: Kubectl, crdDir: string): Promise<void> {
  await kubectl.ok(['apply', '--server-side', '--field-manager=airlock-tests', '-f', crdDir]);
  await kubectl.ok(['wait', '--for=condition=Established', '--timeout=60s', ...CRD_NAMES.map((n) => `crd/${n}`)]);
}
