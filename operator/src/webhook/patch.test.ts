import type { V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { injectPod } from './inject.js';
import { applyPodPatch, podPatch } from './patch.js';
import { testPod, testSandbox, testSettings } from './test-fixtures.js';

describe('podPatch', () => {
  it('escapes / and ~ in annotation keys (RFC 6901)', () => {
    const original: V1Pod = { metadata: { annotations: { 'example.com/a~b': 'old' } } };
    const mutated: V1Pod = { metadata: { annotations: { 'example.com/a~b': 'new', 'airlock.dev/injected': '{}' } } };
    const patch = podPatch(original, mutated);
    expect(patch).toEqual(
      expect.arrayContaining([
        { op: 'replace', path: '/metadata/annotations/example.com~1a~0b', value: 'new' },
        { op: 'add', path: '/metadata/annotations/airlock.dev~1injected', value: '{}' },
      ]),
    );
    expect(patch).toHaveLength(2);
    expect(applyPodPatch(original, patch)).toEqual(mutated);
  });

  it('adds the annotations map when the pod has none', () => {
    const pod = testPod();
    const { pod: mutated } = injectPod(pod, testSandbox('research'), testSettings());
    const patch = podPatch(pod, mutated);
    expect(patch).toContainEqual({ op: 'add', path: '/metadata/annotations', value: { 'airlock.dev/injected': expect.any(String) } });
    expect(applyPodPatch(pod, patch)).toEqual(mutated);
  });

  it('is empty when nothing changed, and ignores undefined members', () => {
    const pod = testPod();
    expect(podPatch(pod, structuredClone(pod))).toEqual([]);
    expect(podPatch(pod, { ...pod, status: undefined })).toEqual([]);
  });

  it('leaves fields it does not know alone', () => {
    // A field from a Kubernetes version newer than this operator's client types.
    const pod = testPod('research', { containers: [{ name: 'agent', futureField: { x: 1 } } as never], podFutureField: ['a'] } as never);
    const { pod: mutated } = injectPod(pod, testSandbox('research'), testSettings());
    const patch = podPatch(pod, mutated);
    expect(patch.filter((op) => op.path.includes('uture'))).toEqual([]);
    const applied = applyPodPatch(pod, patch);
    expect(applied).toEqual(mutated);
    expect(applied.spec).toHaveProperty('podFutureField', ['a']);
  });

  it('does not modify the documents it is given', () => {
    const pod = testPod();
    const copy = structuredClone(pod);
    const { pod: mutated } = injectPod(pod, testSandbox('research'), testSettings());
    applyPodPatch(pod, podPatch(pod, mutated));
    expect(pod).toEqual(copy);
  });
});
