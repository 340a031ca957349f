import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { SidecarConfig } from '@airlock/sidecar/config';
import { AgentSandbox } from '../api/index.js';
import { renderSidecarConfig } from './sidecar-config.js';

const sandboxWith = (spec: Record<string, unknown>) =>
  AgentSandbox.parse({ apiVersion: 'airlock.dev/v1alpha1', kind: 'AgentSandbox', metadata: { name: 'agents', namespace: 'team-a' }, spec: { mcpBackends: ['git'], ...spec } });

/** How the sandbox's spec fields (and the operator's defaults) land in the sidecar config. */
const rendered = (spec: Record<string, unknown>) => SidecarConfig.parse(parse(renderSidecarConfig({ sandbox: sandboxWith(spec), providers: [], backends: [], secret: () => undefined }).yaml));

describe('spec.modelTools in the sidecar config', () => {
  it('carries enabled and maxCompareModels into mcp.modelTools', () => {
    expect(rendered({ modelTools: { enabled: true, maxCompareModels: 6 } }).mcp.modelTools).toEqual({ enabled: true, maxCompareModels: 6 });
  });

  it('keeps the model tools off when the sandbox does not ask for them', () => {
    expect(rendered({}).mcp.modelTools).toEqual({ enabled: false, maxCompareModels: 4 });
    expect(rendered({ modelTools: {} }).mcp.modelTools.enabled).toBe(false);
  });

  it('refuses a compare limit the sidecar would not take', () => {
    expect(() => sandboxWith({ modelTools: { enabled: true, maxCompareModels: 1 } })).toThrow(/maxCompareModels/);
    expect(() => sandboxWith({ modelTools: { enabled: true, maxCompareModels: 17 } })).toThrow(/maxCompareModels/);
  });
});

const telemetry = (spec: Record<string, unknown>, captureMessageContent?: boolean) =>
  SidecarConfig.parse(
    parse(
      renderSidecarConfig({
        sandbox: sandboxWith(spec),
        providers: [],
        backends: [],
        secret: () => undefined,
        otlp: { endpoint: 'http://collector:4318', headers: {} },
        ...(captureMessageContent === undefined ? {} : { captureMessageContent }),
      }).yaml,
    ),
  ).telemetry;

describe('message content capture in the sidecar config', () => {
  it('is off unless the chart or the sandbox turns it on', () => {
    expect(telemetry({}).captureMessageContent).toBe(false);
    expect(telemetry({ telemetry: {} }, false).captureMessageContent).toBe(false);
  });

  it("follows the chart's default for a sandbox that does not say", () => {
    expect(telemetry({}, true).captureMessageContent).toBe(true);
  });

  it("follows the sandbox's own choice either way", () => {
    expect(telemetry({ telemetry: { captureMessageContent: true } }, false).captureMessageContent).toBe(true);
    expect(telemetry({ telemetry: { captureMessageContent: false } }, true).captureMessageContent).toBe(false);
  });
});
