/**
 * The collector's secret headers end to end: the operator renders a sandbox with the chart's
 * telemetry.otlp.headersSecret, its credentials Secret is published as the kubelet publishes one,
 * and the sidecar started on the rendered config exports its spans with those headers. A rotated
 * Secret, rendered and published again, is on the next export; no header value is in a log line,
 * a metric or a span.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { SidecarConfigInput } from '@airlock/sidecar/config';
import { AgentSandbox, ModelProvider } from '../../../operator/src/api/index.js';
import { renderSidecarConfig } from '../../../operator/src/render/sidecar-config.js';
import { CREDENTIALS_DIR } from '../../../operator/src/webhook/settings.js';
import { startMock, type MockProvider } from '../../mocks/index.js';
import { startOtlpCollector, type OtlpCollector } from '../../mocks/otlp-collector.js';
import { secretVolume, stackDir, startStack } from './harness.js';

const PROVIDER_KEY = 'sk-provider-key-31d0c9a7e5b2';
const TEAM_KEY = 'hny-team-6c2b90d1f4e7';
const BEARER = 'Bearer otlp-first-8e41a0c7';
const ROTATED = 'Bearer otlp-rotated-2d95f3b6';

const sandbox = AgentSandbox.parse({ apiVersion: 'airlock.dev/v1alpha1', kind: 'AgentSandbox', metadata: { name: 'traced', namespace: 'team-a' }, spec: { providers: ['oa'] } });
const b64 = (text: string) => Buffer.from(text).toString('base64');

let provider: MockProvider;
let collector: OtlpCollector;
let first: IncomingHttpHeaders;
let rotated: IncomingHttpHeaders;
let logs: string[] = [];
let metrics = '';

/** What the operator renders with the collector's headers Secret holding `authorization`. */
function render(authorization: string, endpoint = collector.url) {
  const oa = ModelProvider.parse({
    apiVersion: 'airlock.dev/v1alpha1',
    kind: 'ModelProvider',
    metadata: { name: 'oa', namespace: 'team-a' },
    spec: { type: 'openai', baseURL: provider.url, models: [{ name: 'm' }], apiKeys: [{ secretName: 'keys', key: 'openai' }] },
  });
  return renderSidecarConfig({
    sandbox,
    providers: [oa],
    backends: [],
    secret: () => ({ data: { openai: b64(PROVIDER_KEY) } }),
    otlp: { endpoint, headers: { 'x-tenant': 'platform' }, secretHeaders: { Authorization: b64(`${authorization}\n`), 'x-honeycomb-team': b64(TEAM_KEY) } },
  });
}

/** The credentials Secret's files as the kubelet writes them (decoded). */
const files = (credentials: Record<string, string>) => Object.fromEntries(Object.entries(credentials).map(([name, value]) => [name, Buffer.from(value, 'base64').toString()]));

beforeAll(async () => {
  provider = await startMock('openai', { keys: [PROVIDER_KEY] });
  collector = await startOtlpCollector();
  const dir = await stackDir();
  const volume = await secretVolume(join(dir, 'credentials'));
  await volume.publish(files(render(BEARER).credentials));
  // The rendered config as the sidecar reads it, the credentials volume where this test has it.
  const { listen: _listen, ...config } = parse(render(BEARER).yaml.replaceAll(CREDENTIALS_DIR, volume.path)) as SidecarConfigInput;
  const stack = await startStack(dir, config);
  try {
    // One call, then the batch it is exported in (the SDK's schedule: every 5 s).
    const exportAfter = async (seen: number) => {
      await stack.openai().chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hello' }] });
      while (collector.requests.length <= seen) await new Promise((resolve) => setTimeout(resolve, 50));
      return collector.requests.at(-1)!;
    };
    first = await exportAfter(0);
    await volume.publish(files(render(ROTATED).credentials));
    rotated = await exportAfter(collector.requests.length);
    metrics = await (await fetch(`http://127.0.0.1:${stack.sidecar.adminPort}/metrics`)).text();
    logs = [...stack.logs];
  } finally {
    await stack.close();
  }
}, 40_000);

afterAll(async () => {
  await provider?.close();
  await collector?.close();
});

it('sends the collector the secret headers from the credentials Secret, with the plain ones', () => {
  expect(first).toMatchObject({ authorization: BEARER, 'x-honeycomb-team': TEAM_KEY, 'x-tenant': 'platform' });
});

it('sends a rotated header on the next export, as a rotated provider key is used on the next call', () => {
  expect(rotated).toMatchObject({ authorization: ROTATED, 'x-honeycomb-team': TEAM_KEY });
});

it('never puts a header value in a log line, a metric or a span', () => {
  const everything = [...logs, metrics, ...collector.rawBodies.map((b) => b.toString('latin1'))].join('\n');
  expect(metrics).toContain('airlock_');
  expect(collector.spans.length).toBeGreaterThan(0);
  for (const secret of ['otlp-first-8e41a0c7', 'otlp-rotated-2d95f3b6', TEAM_KEY, PROVIDER_KEY]) expect(everything).not.toContain(secret);
});

it("sends none of them to another collector than the one they were rendered for, whatever the config says: an edited config cannot take the collector's token or a provider key elsewhere", async () => {
  const elsewhere = await startOtlpCollector();
  const dir = await stackDir();
  const volume = await secretVolume(join(dir, 'credentials'));
  try {
    await volume.publish(files(render(BEARER).credentials));
    // The config as someone who may edit the sandbox's ConfigMap, but not read its Secret, would write it.
    // Another collector; no `requireOrigin` on the secret headers (the schema's default is false);
    // one more header naming the provider key's file.
    type Edited = SidecarConfigInput & { telemetry: { otlp: { endpoint: string; headers: { name: string; file?: string; requireOrigin?: boolean }[] } }; providers: { apiKeys: { file: string }[] }[] };
    const { listen: _listen, ...config } = parse(render(BEARER).yaml.replaceAll(CREDENTIALS_DIR, volume.path)) as Edited;
    config.telemetry.otlp.endpoint = elsewhere.url;
    for (const header of config.telemetry.otlp.headers) delete header.requireOrigin;
    config.telemetry.otlp.headers.push({ name: 'x-provider-key', file: config.providers[0]!.apiKeys[0]!.file });
    const stack = await startStack(dir, config);
    try {
      await stack.openai().chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hello' }] });
      while (elsewhere.requests.length === 0) await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      await stack.close();
    }
    const seen = JSON.stringify(elsewhere.requests);
    // The plain header still goes: only the bound ones are withheld.
    expect(elsewhere.requests[0]).toMatchObject({ 'x-tenant': 'platform' });
    for (const secret of ['otlp-first-8e41a0c7', TEAM_KEY, PROVIDER_KEY]) expect(seen).not.toContain(secret);
  } finally {
    await elsewhere.close();
  }
}, 40_000);
