/**
 * Image references compared by what they name, not by how they are spelled: `busybox`,
 * `docker.io/library/busybox:1.36` and `busybox@sha256:…` are the same repository.
 */
import type { InjectionSettings } from './settings.js';

/**
 * The repository an image reference names, with the registry Docker Hub implies made explicit
 * and the tag and digest removed, e.g. `busybox:1` → `docker.io/library/busybox`.
 */
export function imageRepository(reference: string): string {
  let name = reference.split('@')[0] ?? '';
  const colon = name.lastIndexOf(':');
  if (colon > name.lastIndexOf('/')) name = name.slice(0, colon);
  const parts = name.toLowerCase().split('/');
  const first = parts[0] ?? '';
  // The first segment is a registry only when it looks like a host (a dot, a port, localhost).
  if (parts.length === 1 || !(first.includes('.') || first.includes(':') || first === 'localhost')) parts.unshift('docker.io');
  if (parts[0] === 'index.docker.io') parts[0] = 'docker.io';
  if (parts[0] === 'docker.io' && parts.length === 2) parts.splice(1, 0, 'library');
  return parts.join('/');
}

/**
 * Whether an image is (any tag or digest of) a sidecar image this installation runs. Its USER is
 * the sidecar UID, so a container running it without a runAsUser of its own would be the one
 * UID the firewall lets out.
 */
export function isSidecarImage(image: string | undefined, settings: InjectionSettings): boolean {
  if (!image) return false;
  const repository = imageRepository(image);
  return [settings.sidecarImage, ...settings.allowedSidecarImages].some((allowed) => imageRepository(allowed) === repository);
}
