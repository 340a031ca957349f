import { describe, expect, it } from 'vitest';
import { imageRepository, isSidecarImage } from './image.js';
import { TEST_IMAGE, testSettings } from './test-fixtures.js';

describe('imageRepository', () => {
  it.each([
    ['busybox', 'docker.io/library/busybox'],
    ['busybox:1.36', 'docker.io/library/busybox'],
    ['docker.io/library/busybox@sha256:abc', 'docker.io/library/busybox'],
    ['index.docker.io/library/busybox:1', 'docker.io/library/busybox'],
    ['airlock/sidecar:1', 'docker.io/airlock/sidecar'],
    ['localhost:5000/airlock/sidecar:1', 'localhost:5000/airlock/sidecar'],
    ['GHCR.io/airlock-dev/airlock-sidecar:0.1.0@sha256:abc', 'ghcr.io/airlock-dev/airlock-sidecar'],
  ])('%s names %s', (reference, repository) => {
    expect(imageRepository(reference)).toBe(repository);
  });
});

describe('isSidecarImage', () => {
  const settings = testSettings({ allowedSidecarImages: [TEST_IMAGE, 'registry.internal:5000/airlock:7'] });
  it('matches every tag and digest of an allowed sidecar image, and nothing else', () => {
    expect(isSidecarImage('ghcr.io/airlock-dev/airlock-sidecar:9.9.9', settings)).toBe(true);
    expect(isSidecarImage('ghcr.io/airlock-dev/airlock-sidecar@sha256:0000', settings)).toBe(true);
    expect(isSidecarImage('registry.internal:5000/airlock', settings)).toBe(true);
    expect(isSidecarImage('ghcr.io/airlock-dev/airlock-sidecar-tools:1', settings)).toBe(false);
    expect(isSidecarImage('ghcr.io/example/agent:1', settings)).toBe(false);
    expect(isSidecarImage(undefined, settings)).toBe(false);
  });
});
