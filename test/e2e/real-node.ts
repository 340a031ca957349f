/**
 * Airlock on a real node, the way a user gets it: the images built from the repository's
 * Dockerfiles (test/images/build.ts), a single-node cluster (test/node), the chart installed with
 * `helm install`, the mock provider on the node's bridge address (what pods can reach), and
 * examples/quickstart applied with kubectl. Shared by the real-node e2e and `npm run demo`.
 */
import { ensureHelm, helm, chartDir } from '../helm/helm.js';
import { ensureNodeImages, type NodeImages } from '../images/build.js';
import { startMock, type MockProvider } from '../mocks/index.js';
import { startNodeCluster, type NodeCluster } from '../node/cluster.js';
import { quickstartManifests, SANDBOX, SANDBOX_LABEL, type ProviderChoice } from './scenario.js';

export const OPERATOR_NAMESPACE = 'airlock-system';

/** Everything running, and how long the slow parts took. */
export interface AirlockOnNode {
  cluster: NodeCluster;
  images: NodeImages;
  /** Seconds: building images (0 when all cached), starting the node, installing the chart. */
  timings: { images: number; node: number; helm: number };
  stop(): Promise<void>;
}

/** Builds (or reuses) the images, starts the node and installs the chart; waits for the operator's rollout. */
export async function startAirlockOnNode(progress: (line: string) => void = () => undefined): Promise<AirlockOnNode> {
  let started = Date.now();
  const [images] = await Promise.all([ensureNodeImages(progress), ensureHelm()]);
  const timings = { images: (Date.now() - started) / 1000, node: 0, helm: 0 };
  started = Date.now();
  const archives = [images.pause, images.sidecar, images.sidecarExamples, images.operator, images.agent].map((image) => image.archive);
  const cluster = await startNodeCluster({ images: archives, pauseImage: images.pause.name, progress });
  timings.node = (Date.now() - started) / 1000;
  try {
    started = Date.now();
    await installChart(cluster, images);
    timings.helm = (Date.now() - started) / 1000;
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return { cluster, images, timings, stop: () => cluster.stop() };
}

/** `helm install` of charts/airlock with the locally built images; waits until the operator is ready. */
export async function installChart(cluster: NodeCluster, images: NodeImages): Promise<void> {
  const [operatorRepository, operatorTag] = images.operator.name.split(':') as [string, string];
  // The quick start's stdio MCP server is in the mcp-examples target (see examples/quickstart/README.md).
  const [sidecarRepository, sidecarTag] = images.sidecarExamples.name.split(':') as [string, string];
  const result = await helm([
    'install', 'airlock', chartDir,
    '--kubeconfig', cluster.kubeconfigPath,
    '--namespace', OPERATOR_NAMESPACE, '--create-namespace',
    '--set', `operator.image.repository=${operatorRepository}`, '--set', `operator.image.tag=${operatorTag}`,
    '--set', `sidecar.image.repository=${sidecarRepository}`, '--set', `sidecar.image.tag=${sidecarTag}`,
    // One replica: a single node, two cores.
    '--set', 'operator.replicas=1',
    '--wait', '--timeout', '5m',
  ]);
  if (result.code !== 0) {
    const pods = await cluster.kubectl.run(['get', 'pods,events', '-n', OPERATOR_NAMESPACE, '-o', 'wide']);
    const logs = await cluster.kubectl.run(['logs', '-n', OPERATOR_NAMESPACE, '-l', 'app.kubernetes.io/name=airlock', '--tail=40']);
    throw new Error(`helm install failed (${result.code}):\n${result.stderr}\n${pods.stdout}\n${logs.stdout}${logs.stderr}`);
  }
}

/** The OpenAI-format mock on the node's bridge address, where pods (and only they, and this machine) reach it. */
export function startNodeMock(cluster: NodeCluster, keys: string[]): Promise<MockProvider> {
  return startMock('openai', { keys, host: cluster.network.gateway });
}

/** Applies examples/quickstart (the provider pointed at `choice`) and waits for the sandbox to be Ready. */
export async function applyQuickstart(cluster: NodeCluster, namespace: string, choice: ProviderChoice): Promise<void> {
  await cluster.kubectl.ok(['apply', '-n', namespace, '-f', '-'], await quickstartManifests(choice));
  await cluster.kubectl.ok(['wait', '-n', namespace, '--for=condition=Ready', `agentsandbox/${SANDBOX}`, '--timeout=90s']);
}

/** A Deployment of the agent image in the sandbox (one replica, stdin open so the agent waits for commands). */
export function agentDeployment(name: string, image: string): string {
  return JSON.stringify({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name, [SANDBOX_LABEL]: SANDBOX } },
        spec: {
          securityContext: { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, supplementalGroups: [61337], seccompProfile: { type: 'RuntimeDefault' } },
          // A read-only root, and a writable /tmp as agents (and the kind e2e's MCP script) expect.
          containers: [{ name: 'agent', image, imagePullPolicy: 'Never', stdin: true, securityContext: { readOnlyRootFilesystem: true }, volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }] }],
          volumes: [{ name: 'tmp', emptyDir: {} }],
          terminationGracePeriodSeconds: 5,
        },
      },
    },
  });
}

/** Waits for a Deployment's rollout and returns the name of its one pod. */
export async function rolledOutPod(cluster: NodeCluster, namespace: string, deployment: string): Promise<string> {
  const rollout = await cluster.kubectl.run(['rollout', 'status', `deployment/${deployment}`, '-n', namespace, '--timeout=180s']);
  if (rollout.code !== 0) {
    const describe = await cluster.kubectl.run(['describe', 'pods', '-n', namespace, '-l', `app=${deployment}`]);
    throw new Error(`deployment ${deployment} did not roll out:\n${rollout.stderr}\n${describe.stdout}`);
  }
  // Pods of an older ReplicaSet may still be terminating; the new one is Running and not being deleted.
  const pods = JSON.parse(await cluster.kubectl.ok(['get', 'pods', '-n', namespace, '-l', `app=${deployment}`, '-o', 'json'])) as { items: { metadata: { name: string; deletionTimestamp?: string }; status: { phase: string } }[] };
  const running = pods.items.filter((pod) => pod.status.phase === 'Running' && !pod.metadata.deletionTimestamp);
  if (running.length !== 1) throw new Error(`expected one running pod of deployment ${deployment}, found ${running.map((pod) => pod.metadata.name).join(', ') || 'none'}`);
  return running[0]!.metadata.name;
}

/**
 * Runs the agent in a fresh process of the agent container (`kubectl exec -i`), feeding it
 * commands one JSON line each, and returns its answers: the OpenAI SDK and the MCP client
 * inside the real container, through the socket.
 */
export async function agentExec<T extends Record<string, unknown>>(cluster: NodeCluster, namespace: string, pod: string, commands: Record<string, unknown>[]): Promise<({ ok: boolean; status?: number; error?: string } & T)[]> {
  const input = commands.map((command) => `${JSON.stringify(command)}\n`).join('');
  const result = await cluster.kubectl.run(['exec', '-i', '-n', namespace, pod, '-c', 'agent', '--', 'node', '/agent/agent.mts'], input);
  if (result.code !== 0) throw new Error(`kubectl exec ${pod} agent failed (${result.code}):\n${result.stderr}`);
  return result.stdout.trim().split('\n').map((line) => JSON.parse(line) as { ok: boolean } & T);
}
