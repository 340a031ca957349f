import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SecretRegistry } from '@airlock/sidecar/redact';
import { secretVolume, type SecretVolume } from '../../../test/integration/sidecar/harness.js';
import { MountedSecretHeaders, OtlpHeadersUnreadableError, operatorCollectorHeaders, readSecretHeaders, watchSecretHeaders } from './otlp-headers.js';

const BEARER = 'Bearer otlp-5d1e7a9c3b2f4e60';
let dir: string;
let volume: SecretVolume;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'airlock-otlp-headers-'));
  volume = await secretVolume(join(dir, 'otlp-headers'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe("the collector's secret headers as the kubelet mounts their Secret", () => {
  it('reads each file as a header, as base64, and none of the kubelet’s own entries', async () => {
    await volume.publish({ Authorization: BEARER, 'x-honeycomb-team': 'team-key\n' });
    expect(await readSecretHeaders(volume.path)).toEqual({ Authorization: Buffer.from(BEARER).toString('base64'), 'x-honeycomb-team': Buffer.from('team-key\n').toString('base64') });
    expect(await readSecretHeaders(undefined)).toEqual({});
  });

  it("sends them on the operator's exports over the plain ones, reads a rotation on the next export, and never lets a log line show them", async () => {
    await volume.publish({ Authorization: `${BEARER}\n`, 'x-honeycomb-team': 'hny-team-9f2e' });
    const secrets = new SecretRegistry();
    const warn = vi.fn();
    const mounted = new MountedSecretHeaders(volume.path);
    expect(await operatorCollectorHeaders({ authorization: 'plain', 'x-tenant': 'platform' }, mounted, secrets, warn)).toEqual({ 'x-tenant': 'platform', Authorization: BEARER, 'x-honeycomb-team': 'hny-team-9f2e' });
    expect(secrets.scrub('collector said: unknown team hny-team-9f2e')).not.toContain('hny-team-9f2e');

    // The team key dropped too: its link dangles until the kubelet removes it after the swap.
    await volume.publish({ Authorization: 'Bearer otlp-rotated-0b9e' });
    expect(await operatorCollectorHeaders({}, mounted, secrets, warn)).toEqual({ Authorization: 'Bearer otlp-rotated-0b9e' });
    expect(secrets.scrub('otlp-rotated-0b9e')).not.toContain('otlp-rotated-0b9e');
    expect(warn).not.toHaveBeenCalled();
  });

  it('keeps a key that starts with one dot, and leaves out, naming it and never its value, a value no HTTP header can carry', async () => {
    await volume.publish({ '.token': 'dot-key-value', Authorization: 'Bearer good-value', 'x-broken': 'first-line\nsecond-line-secret' });
    const skipped: string[] = [];
    expect(Object.keys(await readSecretHeaders(volume.path, skipped))).toEqual(['.token', 'Authorization']);
    expect(skipped).toEqual(['x-broken']);
    const warn = vi.fn();
    expect(await operatorCollectorHeaders({}, new MountedSecretHeaders(volume.path), new SecretRegistry(), warn)).toEqual({ '.token': 'dot-key-value', Authorization: 'Bearer good-value' });
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('x-broken'));
    expect(JSON.stringify(warn.mock.calls)).not.toContain('second-line-secret');
  });

  it('exports with the plain headers when the mount cannot be read, and says which directory, never a value', async () => {
    const warn = vi.fn();
    expect(await operatorCollectorHeaders({ 'x-tenant': 'platform' }, new MountedSecretHeaders(join(dir, 'absent')), new SecretRegistry(), warn)).toEqual({ 'x-tenant': 'platform' });
    expect(warn).toHaveBeenCalledWith(expect.stringContaining(join(dir, 'absent')));
  });

  it('refuses to watch a directory that is not there, naming it', () => {
    expect(() => watchSecretHeaders(join(dir, 'absent'), () => undefined, () => undefined)).toThrow(new OtlpHeadersUnreadableError(join(dir, 'absent'), { code: 'ENOENT' }));
  });

  it("reads the mount once for the operator's exports while the watch runs, and on every export once the watch stopped", async () => {
    await volume.publish({ Authorization: BEARER });
    const read = vi.fn(readSecretHeaders);
    const mounted = new MountedSecretHeaders(volume.path, read);
    const stop = mounted.watch(
      () => undefined,
      (err) => {
        throw err;
      },
    );
    const exportHeaders = () => operatorCollectorHeaders({}, mounted, new SecretRegistry(), () => undefined);
    try {
      for (let i = 0; i < 4; i++) {
        expect(await exportHeaders()).toEqual({ Authorization: BEARER });
        await sleep(10);
      }
      expect(read).toHaveBeenCalledTimes(1);
    } finally {
      stop();
    }
    // No watch to say the mount changed: a kept read could be stale for good.
    await exportHeaders();
    await exportHeaders();
    expect(read).toHaveBeenCalledTimes(3);
  });

  it('says when the kubelet publishes a rotated Secret', async () => {
    await volume.publish({ Authorization: BEARER });
    const onChange = vi.fn();
    const stop = watchSecretHeaders(volume.path, onChange, (err) => {
      throw err;
    });
    try {
      await volume.publish({ Authorization: 'Bearer otlp-rotated-0b9e' });
      await vi.waitFor(() => expect(onChange).toHaveBeenCalled(), { timeout: 10_000 });
    } finally {
      stop();
    }
  });
});
