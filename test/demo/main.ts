/**
 * `npm run demo`: the whole Airlock path on one machine, no cluster. Starts a real kube-apiserver
 * and etcd, installs the CRDs and the webhook configuration, runs the operator, applies
 * examples/quickstart, creates an agent pod (the webhook injects the sidecar), runs that pod as a
 * kubelet would (test/e2e/kubelet), and has the agent send a chat request and a tool call
 * through its socket. A real provider is used when OPENAI_API_KEY, ANTHROPIC_API_KEY or
 * GEMINI_API_KEY is set or Ollama answers on localhost:11434; otherwise the OpenAI-format mock.
 *
 * Flags: --keep leaves everything running (KUBECONFIG and the socket are printed) until Ctrl-C;
 * --verbose prints every sidecar log line. Env: AIRLOCK_DEMO_MODEL picks the real provider's model.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { ensureBinaries, startControlPlane, type ControlPlane } from '../controlplane/control-plane.js';
import { installCrds, kubectlFor } from '../controlplane/kubectl.js';
import { until } from '../integration/kube/operator-harness.js';
import { startMock, type MockProvider } from '../mocks/index.js';
import { runPod, sourceImages, type RunningPod } from '../e2e/kubelet/index.js';
import { AgentSession, agentPod, condition, quickstartManifests, SANDBOX, startOperatorWithWebhook, webhookActive, type ProviderChoice } from '../e2e/scenario.js';

const root = join(import.meta.dirname, '../..');
const { values } = parseArgs({ options: { keep: { type: 'boolean', default: false }, verbose: { type: 'boolean', default: false } } });
const NAMESPACE = 'airlock-demo';
const SIDECAR_IMAGE = 'ghcr.io/airlock-dev/airlock-sidecar:0.1.0';
const AGENT_IMAGE = 'airlock-demo/agent:local';

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

if (process.platform !== 'linux' || process.getuid?.() !== 0) {
  console.error('npm run demo runs the agent pod in Linux namespaces of its own (mount, PID, network), as a kubelet would; that needs Linux and root (sudo npm run demo).');
  process.exit(1);
}

/** Which provider serves the demo: a real one when the environment names one, else the mock. */
async function chooseProvider(): Promise<{ label: string; choice: ProviderChoice; mock?: MockProvider; forwardPorts: number[]; network: 'pod' | 'host' }> {
  const model = process.env.AIRLOCK_DEMO_MODEL;
  const only = (name: string): ProviderChoice['models'] => ({ allow: [name], aliases: { fast: name } });
  if (process.env.OPENAI_API_KEY) {
    const name = model ?? 'gpt-4o-mini';
    return { label: `OpenAI (OPENAI_API_KEY is set), model ${name}`, choice: { apiKey: process.env.OPENAI_API_KEY, spec: { type: 'openai', models: [{ name }] }, models: only(name) }, forwardPorts: [], network: 'host' };
  }
  if (process.env.ANTHROPIC_API_KEY) {
    const name = model ?? 'claude-haiku-4-5';
    return { label: `Anthropic (ANTHROPIC_API_KEY is set), model ${name}`, choice: { name: 'anthropic', apiKey: process.env.ANTHROPIC_API_KEY, spec: { type: 'anthropic', models: [{ name }] }, models: only(name) }, forwardPorts: [], network: 'host' };
  }
  if (process.env.GEMINI_API_KEY) {
    const name = model ?? 'gemini-2.5-flash';
    return { label: `Gemini (GEMINI_API_KEY is set), model ${name}`, choice: { name: 'gemini', apiKey: process.env.GEMINI_API_KEY, spec: { type: 'gemini', models: [{ name }] }, models: only(name) }, forwardPorts: [], network: 'host' };
  }
  const tags = await fetch('http://127.0.0.1:11434/api/tags', { signal: AbortSignal.timeout(1000) })
    .then((response) => (response.ok ? (response.json() as Promise<{ models?: { name: string }[] }>) : undefined))
    .catch(() => undefined);
  const ollamaModel = model ?? tags?.models?.[0]?.name;
  if (tags && ollamaModel) {
    return {
      label: `Ollama on localhost:11434, model ${ollamaModel}`,
      choice: { name: 'ollama', spec: { type: 'ollama', baseURL: 'http://127.0.0.1:11434', apiKeys: [], models: [{ name: ollamaModel }] }, models: only(ollamaModel) },
      forwardPorts: [11434],
      network: 'pod',
    };
  }
  const key = 'sk-demo-mock-key-0000000000000001';
  const mock = await startMock('openai', { keys: [key] });
  return {
    label: `the OpenAI-format mock at ${mock.url} (set OPENAI_API_KEY, ANTHROPIC_API_KEY or GEMINI_API_KEY, or run Ollama, for a real model)`,
    choice: { apiKey: key, spec: { baseURL: mock.url } },
    mock,
    forwardPorts: [mock.port],
    network: 'pod',
  };
}

let controlPlane: ControlPlane | undefined;
let operator: Awaited<ReturnType<typeof startOperatorWithWebhook>> | undefined;
let provider: Awaited<ReturnType<typeof chooseProvider>> | undefined;
let pod: RunningPod | undefined;
let scratch: string | undefined;
let failed = false;

try {
  step('binaries', 'Kubernetes control plane binaries (built once from the Go module proxy, then cached)');
  const binaries = await ensureBinaries();
  say(binaries.cached ? `reused kube-apiserver ${binaries.kubeVersion}, etcd ${binaries.etcdVersion} and kubectl from ${binaries.dir}` : `built in ${Math.round(binaries.buildSeconds)}s into ${binaries.dir}`);

  step('control plane', 'starting a local control plane: etcd + kube-apiserver');
  controlPlane = await startControlPlane({ binDir: binaries.dir });
  const kubeConfig = controlPlane.kubeConfig;
  const kubectl = kubectlFor(binaries.dir, controlPlane.kubeconfigPath);
  const show = async (args: string[]) => {
    console.log(dim(`    $ kubectl ${args.join(' ')}`));
    const result = await kubectl.run(args);
    process.stdout.write(`${result.stdout}${result.stderr}`.replace(/^(?=.)/gm, '    '));
    return result;
  };
  say(`kube-apiserver ${binaries.kubeVersion} ready at ${controlPlane.server}`);

  step('crds', "installing the Airlock CRDs (the chart's charts/airlock/crds)");
  await installCrds(kubectl, join(root, 'charts/airlock/crds'));
  await show(['get', 'crd', '-l', 'app.kubernetes.io/part-of=airlock']);

  step('operator', 'starting the operator and registering its mutating webhook');
  await kubectl.ok(['create', 'namespace', NAMESPACE]);
  await kubectl.ok(['create', 'namespace', 'airlock-system']);
  operator = await startOperatorWithWebhook(kubeConfig, NAMESPACE, 'airlock-system', SIDECAR_IMAGE);
  say(`operator leading; MutatingWebhookConfiguration ${operator.webhookName} calls it at https://127.0.0.1:${operator.test.operator.webhookPort}/mutate`);
  say("(by URL: the chart's points at a Service, and nothing routes Services here; the operator patched in the caBundle as it does in a cluster)");

  step('provider', 'choosing the model provider');
  provider = await chooseProvider();
  say(`using ${provider.label}`);

  step('quickstart', `kubectl apply -f examples/quickstart/ -n ${NAMESPACE}`);
  const applied = await kubectl.ok(['apply', '-n', NAMESPACE, '-f', '-'], await quickstartManifests(provider.choice));
  process.stdout.write(applied.replace(/^(?=.)/gm, '    '));
  await until(async () => (await condition(kubeConfig, NAMESPACE, 'agentsandboxes', SANDBOX, 'Ready'))?.status === 'True', 'the AgentSandbox to be Ready', 60_000);
  await show(['get', 'airlock', '-n', NAMESPACE]);
  const rendered = await kubectl.ok(['get', 'configmap', `airlock-${SANDBOX}`, '-n', NAMESPACE, '-o', 'jsonpath={.data.config\\.yaml}']);
  say(`the operator rendered ConfigMap airlock-${SANDBOX} (the sidecar's config; keys are files, never inline):`);
  console.log(dim(rendered.trimEnd().replace(/^/gm, '      ')));

  step('pod', 'creating an agent pod labelled airlock.dev/sandbox=quickstart; the webhook injects the airlock');
  await webhookActive(kubeConfig, NAMESPACE);
  const stored: V1Pod = await kubeConfig.makeApiClient(CoreV1Api).createNamespacedPod({ namespace: NAMESPACE, body: agentPod(NAMESPACE, 'agent', AGENT_IMAGE) });
  for (const container of stored.spec?.initContainers ?? []) {
    say(`init container ${container.name}${container.restartPolicy === 'Always' ? ' (native sidecar)' : ''}: ${[...(container.command ?? []), ...(container.args ?? [])].join(' ')}`);
  }
  say(`volumes: ${(stored.spec?.volumes ?? []).map((v) => `${v.name} (${v.emptyDir ? 'emptyDir' : v.configMap ? `ConfigMap ${v.configMap.name}` : `Secret ${v.secret?.secretName}`})`).join(', ')}`);
  say(`agent env: ${(stored.spec?.containers[0]?.env ?? []).map((e) => `${e.name}=${e.value}`).join(' ')}`);

  step('run', 'running the pod as a kubelet would: volumes, firewall, sidecar (startup probe), agent');
  scratch = await mkdtemp(join(tmpdir(), 'airlock-demo-'));
  const images = await sourceImages(scratch);
  const agentImage = await images.agent(join(root, 'test/e2e/agent.ts'), 'demo-agent');
  pod = await runPod(stored, {
    kubeConfig,
    images: (image) => (image === SIDECAR_IMAGE ? images.sidecar : image === AGENT_IMAGE ? agentImage : images.system),
    network: { mode: provider.network, forwardPorts: provider.forwardPorts },
    stdin: ['agent'],
    ...(provider.network === 'host' ? { skipInitContainers: { 'airlock-firewall': "the pod shares this machine's network here (a cloud provider needs it), and the firewall would rewrite the machine's own iptables" } } : {}),
    onEvent: (event) => say(event),
    onLog: (container, line) => {
      if (container !== 'airlock-sidecar') return;
      const message = sidecarMessage(line);
      if (message && (values.verbose || /config|listening|ready|backend|reload/i.test(message))) console.log(dim(`      [sidecar] ${message}`));
    },
  });
  const socket = join(pod.volumes.byName.get('airlock-socket')!.hostPath, 'airlock.sock');
  const agent = new AgentSession(pod.container('agent'));

  step('chat', 'the agent sends a chat request through the socket (OpenAI SDK, model alias "fast")');
  const models = await agent.send<{ models: string[] }>({ op: 'models' });
  say(`GET /v1/models -> ${models.ok ? models.models.join(', ') : models.error}`);
  const question = 'In one short sentence: what is an airlock?';
  say(`POST /v1/chat/completions  "${question}"`);
  const chat = await agent.send<{ model: string; content: string }>({ op: 'chat', model: 'fast', content: question, maxTokens: 200 }, 120_000);
  if (!chat.ok) throw new Error(`the chat failed: ${chat.error}`);
  say(`${bold(chat.model)}: ${chat.content.trim()}`);

  step('tools', 'the agent calls a tool through the socket (MCP client -> sidecar -> mcp-server-everything over stdio)');
  await until(async () => ((await agent.send<{ tools: string[] }>({ op: 'tools' })).tools ?? []).includes('everything__get-sum'), 'the MCP tools', 30_000);
  const tools = await agent.send<{ tools: string[] }>({ op: 'tools' });
  say(`tools/list -> ${tools.tools.join(', ')}`);
  const sum = await agent.send<{ text: string }>({ op: 'call', name: 'everything__get-sum', arguments: { a: 19, b: 23 } });
  say(`tools/call everything__get-sum {a: 19, b: 23} -> ${sum.ok ? sum.text : sum.error}`);

  step('loop', 'and the two together: the model chooses a tool, the agent runs it over MCP, the model answers');
  provider.mock?.script({ toolCalls: [{ name: 'everything__echo', arguments: { message: 'hello from inside the airlock' } }] });
  const loop = await agent.send<{ content: string; steps: { tool: string; arguments: unknown; result: string }[] }>(
    { op: 'agent', model: 'fast', prompt: 'Call the everything__echo tool with the message "hello from inside the airlock", then tell me what it returned.', tools: ['everything__echo'] },
    120_000,
  );
  if (!loop.ok) throw new Error(`the tool loop failed: ${loop.error}`);
  for (const call of loop.steps) say(`model called ${call.tool} ${JSON.stringify(call.arguments)} -> ${call.result}`);
  say(`${bold('answer')}: ${loop.content.trim()}`);
  say(`the agent holds no key: it sees ${(await agent.send<{ env: string[] }>({ op: 'look', paths: [] })).env.filter((n) => n.startsWith('AIRLOCK') || n.endsWith('KEY')).join(', ')} and the socket, nothing else`);
  finishStep();

  if (values.keep) {
    const kubeconfigCopy = join(scratch, 'kubeconfig');
    await writeFile(kubeconfigCopy, controlPlane.kubeconfigYaml, { mode: 0o600 });
    console.log(`\n${bold('==> running until Ctrl-C. Try:')}`);
    say(`export KUBECONFIG=${kubeconfigCopy}; ${join(binaries.dir, 'kubectl')} get airlock,pods -n ${NAMESPACE}`);
    say(`curl -s --unix-socket ${socket} http://airlock/v1/models`);
    await new Promise<void>((resolve) => process.once('SIGINT', resolve));
  }
} catch (error) {
  failed = true;
  console.error(`\ndemo failed: ${error instanceof Error ? error.message : String(error)}`);
  const sidecar = pod?.containers.get('airlock-sidecar');
  if (sidecar) console.error(`--- last sidecar log lines ---\n${sidecar.logs.slice(-20).join('\n')}`);
  if (operator) console.error(`--- last operator log lines ---\n${operator.test.logs.slice(-20).join('\n')}`);
} finally {
  finishStep();
  await pod?.stop().catch(() => undefined);
  await operator?.stop().catch(() => undefined);
  await provider?.mock?.close();
  await controlPlane?.stop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
}

console.log(`\n${bold(failed ? '==> failed' : '==> done')} in ${seconds(performance.now() - began)}: ${timings.map(([name, ms]) => `${name} ${seconds(ms)}`).join(', ')}`);
process.exit(failed ? 1 : 0);

/** The message of a sidecar log line (pino JSON), with the fields that help a reader. */
function sidecarMessage(line: string): string | undefined {
  try {
    const entry = JSON.parse(line) as { msg?: string; level?: number; [key: string]: unknown };
    if (!entry.msg) return undefined;
    const extra = ['backend', 'socket', 'tools', 'configHash'].filter((k) => entry[k] !== undefined).map((k) => `${k}=${JSON.stringify(entry[k])}`);
    return [entry.msg, ...extra].join(' ');
  } catch {
    return line;
  }
}
