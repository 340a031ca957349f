import type { V1ContainerState, V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { sharesNow } from './collector.js';

const running: V1ContainerState = { running: { startedAt: new Date() } };
const ended = (exitCode: number): V1ContainerState => ({ terminated: { exitCode, startedAt: new Date(), finishedAt: new Date() } });

/** A pod with a native sidecar that runs, and one agent container in `agent`. */
const pod = (agent: V1ContainerState, options: { restartPolicy?: string; deleted?: boolean } = {}): V1Pod => ({
  metadata: { name: 'p', labels: { 'airlock.dev/sandbox': 's' }, ...(options.deleted ? { deletionTimestamp: new Date() } : {}) },
  spec: {
    ...(options.restartPolicy ? { restartPolicy: options.restartPolicy } : {}),
    initContainers: [{ name: 'airlock-sidecar', restartPolicy: 'Always' }],
    containers: [{ name: 'agent' }],
  },
  status: {
    phase: 'Running',
    initContainerStatuses: [{ name: 'airlock-sidecar', image: 'i', imageID: '', ready: true, restartCount: 0, state: running }],
    containerStatuses: [{ name: 'agent', image: 'i', imageID: '', ready: true, restartCount: 0, state: agent }],
  },
});

describe('sharesNow: the pods a sandbox\'s limits are divided among', () => {
  it('counts a pod whose agent runs, or will run again', () => {
    expect(sharesNow(pod(running))).toBe(true);
    // Deleted, its agent still running (its grace period): it still calls (ver18).
    expect(sharesNow(pod(running, { deleted: true }))).toBe(true);
    expect(sharesNow(pod(ended(0)))).toBe(true);
    expect(sharesNow(pod(ended(1), { restartPolicy: 'OnFailure' }))).toBe(true);
  });

  it("leaves out a stopping pod: a Job's, or a deleted one's, whose agent has ended for good, its sidecar still running", () => {
    expect(sharesNow(pod(ended(137), { deleted: true }))).toBe(false);
    expect(sharesNow(pod(ended(0), { restartPolicy: 'Never' }))).toBe(false);
    expect(sharesNow(pod(ended(1), { restartPolicy: 'Never' }))).toBe(false);
    expect(sharesNow(pod(ended(0), { restartPolicy: 'OnFailure' }))).toBe(false);
  });

  it('does not take the fallback sidecar, a regular container, for an app container', () => {
    const fallback = pod(ended(0), { restartPolicy: 'Never' });
    fallback.spec!.initContainers = [];
    fallback.spec!.containers.push({ name: 'airlock-sidecar' });
    fallback.status!.containerStatuses!.push({ ...fallback.status!.initContainerStatuses![0]! });
    fallback.status!.initContainerStatuses = [];
    expect(sharesNow(fallback)).toBe(false);
  });
});
