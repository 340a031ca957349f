/**
 * `npm run demo`: the whole Airlock path on one machine, on a real single-node Kubernetes cluster.
 * Builds (first run) or reuses the Kubernetes binaries and the images from the repository's
 * Dockerfiles, starts etcd, kube-apiserver, kube-controller-manager, kube-scheduler and a kubelet
 * on containerd + runc, installs the chart with `helm install`, applies examples/quickstart with
 * kubectl, rolls out an agent Deployment that the webhook injects, and has the agent, in its real
 * container, send a chat request and call a tool through its socket. The provider is the
 * OpenAI-format mock, listening on the node's bridge address: pods on this node reach this
 * machine and nothing beyond it.
 *
 * Flags: --keep leaves everything running and prints the KUBECONFIG until Ctrl-C;
 * --verbose prints every build line.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { MockProvider } from '../mocks/index.js';
import { agentDeployment, agentExec, applyQuickstart, installChart, OPERATOR_NAMESPACE, rolledOutPod, startNodeMock } from '../e2e/real-node.js';
import { ensureBinaries } from '../controlplane/control-plane.js';
import { ensureNodeImages } from '../images/build.js';
import { ensureHelm } from '../helm/helm.js';
import { checkPrerequisites, startNodeCluster, type NodeCluster } from '../node/cluster.js';

const { values } = parseArgs({ options: { keep: { type: 'boolean', default: false }, verbose: { type: 'boolean', default: false } } });
const NAMESPACE = 'airlock-demo';
const KEY = 'sk-demo-mock-key-0000000000000001';

const began = performance.now();
const timings: [string, number][] = [];
let stepStarted = began;
let stepName = '';
const bold = (text: string) => (process.stdout.isTTY ? `\x1b[1m${text}\x1b[0m` : text);
const dim = (text: string) => (process.stdout.isTTY ? `\x1b[2m${text}\x1b[0m` : text);
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`;
function step(name: string, text: string): void {
  finishStep();
  stepName = name;
  stepStarted = performance.now();
  console.log(`\n${bold(`==> ${text}`)}`);
}
function finishStep(): void {
  if (stepName) timings.push([stepName, performance.now() - stepStarted]);
  stepName = '';
}
const say = (text: string) => console.log(`    ${text}`);
const buildLine = (line: string) => {
  if (values.verbose || /^(building|built|assembl|the base)/.test(line)) console.log(dim(`      ${line}`));
};

try {
  checkPrerequisites();
} catch (error) {
  console.error(`npm run demo: ${(error as Error).message}`);
  process.exit(1);
}

let cluster: NodeCluster | undefined;
let mock: MockProvider | undefined;
let failed = false;

try {
  step('binaries', 'Kubernetes binaries: etcd, kube-apiserver, kubectl, kube-controller-manager, kube-scheduler, kubelet');
  const binaries = await ensureBinaries({ names: ['node'], progress: { write: (chunk: string) => (buildLine(chunk.trim()), true) } as NodeJS.WritableStream });
  await ensureHelm();
  say(binaries.cached ? `reused ${binaries.kubeVersion} from ${binaries.dir}` : `built in ${Math.round(binaries.buildSeconds)}s into ${binaries.dir} (the first run builds them from the Go module proxy, about 10 minutes on 2 cores)`);

  step('images', 'images from Dockerfile.sidecar (both targets), Dockerfile.operator, the agent and the pause image (buildah, no Docker)');
  const images = await ensureNodeImages(buildLine);
  const built = [images.pause, images.sidecar, images.sidecarExamples, images.operator, images.agent];
  for (const image of built) say(`${image.name} ${image.buildSeconds > 0 ? `built in ${Math.round(image.buildSeconds)}s` : 'reused'}`);
  if (built.some((image) => image.buildSeconds > 0)) say('(the first run builds them, about 10 minutes on 2 cores; later runs reuse them until their sources change)');

  step('node', 'starting a single-node cluster: etcd, kube-apiserver, controller-manager, scheduler, kubelet on containerd + runc + CNI bridge');
  cluster = await startNodeCluster({ images: built.map((image) => image.archive), pauseImage: images.pause.name, progress: (line) => say(dim(line)) });
  const kubectl = cluster.kubectl;
  const show = async (args: string[]) => {
    console.log(dim(`    $ kubectl ${args.join(' ')}`));
    const result = await kubectl.run(args);
    process.stdout.write(`${result.stdout}${result.stderr}`.replace(/^(?=.)/gm, '    '));
  };
  await show(['get', 'nodes', '-o', 'wide']);

  step('helm', `helm install airlock charts/airlock -n ${OPERATOR_NAMESPACE} (the operator from its image; its webhook reached through its Service)`);
  await installChart(cluster, images);
  await show(['get', 'pods,services', '-n', OPERATOR_NAMESPACE]);

  step('quickstart', `kubectl apply -f examples/quickstart/ -n ${NAMESPACE} (the provider pointed at the OpenAI-format mock)`);
  mock = await startNodeMock(cluster, [KEY]);
  say(`mock provider at ${mock.url}, on the node's bridge: pods reach it, nothing else does`);
  await cluster.namespace(NAMESPACE);
  await applyQuickstart(cluster, NAMESPACE, { spec: { baseURL: mock.url }, apiKey: KEY });
  await show(['get', 'airlock', '-n', NAMESPACE]);

  step('agent', 'a Deployment of the agent image labelled airlock.dev/sandbox=quickstart; the webhook injects the airlock');
  await kubectl.ok(['apply', '-n', NAMESPACE, '-f', '-'], agentDeployment('agent', images.agent.name));
  const pod = await rolledOutPod(cluster, NAMESPACE, 'agent');
  const stored = JSON.parse(await kubectl.ok(['get', 'pod', pod, '-n', NAMESPACE, '-o', 'json'])) as { spec: { initContainers: { name: string; restartPolicy?: string; command?: string[]; args?: string[] }[] } };
  for (const container of stored.spec.initContainers) {
    say(`init container ${container.name}${container.restartPolicy === 'Always' ? ' (native sidecar)' : ''}: ${[...(container.command ?? []), ...(container.args ?? [])].join(' ')}`);
  }
  await show(['get', 'pod', pod, '-n', NAMESPACE, '-o', 'wide']);

  step('chat', 'the agent, in its container, sends a chat request through the socket (OpenAI SDK, model alias "fast")');
  const question = 'In one short sentence: what is an airlock?';
  const [models, chat] = await agentExec<{ models: string[]; model: string; content: string }>(cluster, NAMESPACE, pod, [{ op: 'models' }, { op: 'chat', model: 'fast', content: question }]);
  say(`GET /v1/models -> ${models!.ok ? models!.models.join(', ') : models!.error}`);
  say(`POST /v1/chat/completions  "${question}"`);
  if (!chat!.ok) throw new Error(`the chat failed: ${chat!.error}`);
  say(`${bold(chat!.model)}: ${chat!.content.trim()}`);

  step('tools', 'the agent calls a tool through the socket (MCP client -> sidecar -> mcp-server-everything over stdio)');
  mock.script({ toolCalls: [{ name: 'everything__echo', arguments: { message: 'hello from inside the airlock' } }] });
  const [tools, sum, loop] = await agentExec<{ tools: string[]; text: string; content: string; steps: { tool: string; arguments: unknown; result: string }[] }>(cluster, NAMESPACE, pod, [
    { op: 'tools' },
    { op: 'call', name: 'everything__get-sum', arguments: { a: 19, b: 23 } },
    { op: 'agent', model: 'fast', prompt: 'Call everything__echo with "hello from inside the airlock", then say what it returned.', tools: ['everything__echo'] },
  ]);
  say(`tools/list -> ${tools!.tools?.join(', ') ?? tools!.error}`);
  say(`tools/call everything__get-sum {a: 19, b: 23} -> ${sum!.ok ? sum!.text : sum!.error}`);
  for (const call of loop!.steps ?? []) say(`the model called ${call.tool} ${JSON.stringify(call.arguments)} -> ${call.result}`);
  if (!sum!.ok || !loop!.ok) throw new Error(`the tool calls failed: ${sum!.error ?? loop!.error}`);
  say(`${bold('answer')}: ${loop!.content.trim()}`);
  finishStep();

  if (values.keep) {
    const kubeconfig = join(cluster.controlPlane.dir, 'demo-kubeconfig');
    await writeFile(kubeconfig, cluster.controlPlane.kubeconfigYaml, { mode: 0o600 });
    console.log(`\n${bold('==> running until Ctrl-C. Try:')}`);
    say(`export KUBECONFIG=${kubeconfig} PATH=${cluster.binDir}:$PATH`);
    say(`kubectl get airlock,pods -n ${NAMESPACE}`);
    say(`kubectl logs -n ${NAMESPACE} ${pod} -c airlock-sidecar`);
    say(`kubectl exec -n ${NAMESPACE} ${pod} -c agent -- curl -s --unix-socket /var/run/airlock/airlock.sock http://airlock/v1/models`);
    await new Promise<void>((resolve) => process.once('SIGINT', resolve));
  }
} catch (error) {
  failed = true;
  console.error(`\ndemo failed: ${error instanceof Error ? error.message : String(error)}`);
  if (cluster) {
    const logs = await cluster.kubectl.run(['logs', '-n', NAMESPACE, 'deployment/agent', '-c', 'airlock-sidecar', '--tail=20']);
    if (logs.code === 0) console.error(`--- last sidecar log lines ---\n${logs.stdout}`);
  }
} finally {
  finishStep();
  await mock?.close();
  await cluster?.stop();
}

console.log(`\n${bold(failed ? '==> failed' : '==> done')} in ${seconds(performance.now() - began)}: ${timings.map(([name, ms]) => `${name} ${seconds(ms)}`).join(', ')}`);
process.exit(failed ? 1 : 0);
