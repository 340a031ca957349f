/**
 * Golden files for the injection variants: each `golden/<case>.input.yaml` holds settings, a
 * sandbox and a pod; `<case>.expected.yaml` is the injected pod. Regenerate after an intended
 * change with `AIRLOCK_UPDATE_GOLDEN=1 npm exec -- vitest run operator/src/webhook` and review
 * the diff.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { injectPod } from './inject.js';
import { applyPodPatch, podPatch } from './patch.js';
import type { InjectionSettings } from './settings.js';
import { testSandbox, testSettings } from './test-fixtures.js';
import { validatePod } from './validate.js';

const dir = join(import.meta.dirname, 'golden');
const update = process.env.AIRLOCK_UPDATE_GOLDEN === '1';
const cases = readdirSync(dir)
  .filter((f) => f.endsWith('.input.yaml'))
  .map((f) => f.slice(0, -'.input.yaml'.length))
  .sort();

interface GoldenInput {
  settings?: Partial<InjectionSettings>;
  sandbox: { metadata: { name: string; namespace: string }; spec: unknown };
  pod: V1Pod;
}

function load(name: string) {
  const input = parse(readFileSync(join(dir, `${name}.input.yaml`), 'utf8')) as GoldenInput;
  return {
    pod: input.pod,
    sandbox: testSandbox(input.sandbox.metadata.name, input.sandbox.spec, input.sandbox.metadata.namespace),
    settings: testSettings(input.settings),
  };
}

describe('injection golden files', () => {
  it('has the variants the design asks for', () => {
    expect(cases).toEqual(
      expect.arrayContaining(['native-firewall', 'fallback-firewall', 'native-networkpolicy-loopback', 'fallback-none-multi', 'native-init-containers-egress']),
    );
  });

  describe.each(cases)('%s', (name) => {
    const { pod, sandbox, settings } = load(name);
    const { pod: mutated } = injectPod(pod, sandbox, settings);

    it('renders the expected pod', () => {
      const rendered = stringify(mutated, { lineWidth: 0 });
      const file = join(dir, `${name}.expected.yaml`);
      if (update) writeFileSync(file, rendered);
      expect(rendered).toBe(readFileSync(file, 'utf8'));
    });

    it('is accepted before and after injection', () => {
      expect(validatePod(pod, settings)).toEqual([]);
      // A reinvoked webhook sees the injected pod: it must pass too.
      expect(validatePod(mutated, settings)).toEqual([]);
    });

    it('injecting twice equals injecting once', () => {
      expect(injectPod(mutated, sandbox, settings).pod).toEqual(mutated);
      expect(podPatch(mutated, injectPod(mutated, sandbox, settings).pod)).toEqual([]);
    });

    it('yields a patch that turns the original into the injected pod', () => {
      expect(applyPodPatch(pod, podPatch(pod, mutated))).toEqual(mutated);
    });
  });
});
