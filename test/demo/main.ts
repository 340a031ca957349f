/**
 * `npm run demo`: the main job on one machine with no cluster. Starts a real kube-apiserver and
 * etcd, installs the Airlock CRDs, applies the examples, and shows what a user of kubectl sees,
 * including how an invalid resource is refused. `--keep` leaves it running with a KUBECONFIG.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureBinaries, startControlPlane } from '../controlplane/control-plane.js';
import { installCrds, kubectlFor } from '../controlplane/kubectl.js';

const root = join(import.meta.dirname, '../..');
const { values } = parseArgs({ options: { keep: { type: 'boolean', default: false } } });
const step = (text: string) => console.log(`\n==> ${text}`);

step('building (or reusing) kube-apiserver, etcd and kubectl');
const binaries = await ensureBinaries();
console.log(binaries.cached ? `reused from ${binaries.dir}` : `built in ${Math.round(binaries.buildSeconds)}s into ${binaries.dir}`);

step('starting a local control plane');
const started = performance.now();
const controlPlane = await startControlPlane({ binDir: binaries.dir });
console.log(`kube-apiserver ${binaries.kubeVersion} ready at ${controlPlane.server} in ${((performance.now() - started) / 1000).toFixed(1)}s`);
const kubectl = kubectlFor(binaries.dir, controlPlane.kubeconfigPath);
const show = async (args: string[]) => {
  console.log(`$ kubectl ${args.join(' ')}`);
  const result = await kubectl.run(args);
  process.stdout.write(result.stdout + result.stderr);
  return result;
};

try {
  step('installing the Airlock CRDs');
  await installCrds(kubectl, join(root, 'crds'));
  await show(['get', 'crd', '-l', 'app.kubernetes.io/part-of=airlock']);

  step('applying examples/ to namespace airlock-demo');
  await kubectl.ok(['create', 'namespace', 'airlock-demo']);
  for (const file of readdirSync(join(root, 'examples')).filter((f) => f.endsWith('.yaml'))) {
    await show(['apply', '-n', 'airlock-demo', '-f', join('examples', file)]);
  }
  await show(['get', 'airlock', '-n', 'airlock-demo']);

  step('an invalid resource is refused, naming the field');
  const refused = await show(['apply', '-n', 'airlock-demo', '-f', 'examples/invalid/modelprovider-missing-apikeys.yaml']);
  if (refused.code === 0) throw new Error('the invalid example was accepted');

  step('the schema documents itself');
  await show(['explain', 'agentsandboxes.spec.isolation.network']);

  if (values.keep) {
    step(`running; try: export KUBECONFIG=${controlPlane.kubeconfigPath}; kubectl get airlock -A   (Ctrl-C stops)`);
    await new Promise<void>((resolve) => process.once('SIGINT', resolve));
  }
  step('done');
} finally {
  await controlPlane.stop();
}
