import { describe, expect, it } from 'vitest';
import { readSettings } from './settings.js';

describe('readSettings', () => {
  it('defaults the tools UID next to the sidecar UID, and takes both from flags', () => {
    expect(readSettings([], {})).toMatchObject({ sidecarUid: 61337, toolsUid: 61338 });
    expect(readSettings(['--sidecar-uid=5000', '--tools-uid=5001'], {})).toMatchObject({ sidecarUid: 5000, toolsUid: 5001 });
  });

  it('refuses a tools UID equal to the sidecar UID: the stdio servers would run with the keys', () => {
    expect(() => readSettings(['--tools-uid=61337'], {})).toThrow('--tools-uid 61337 must differ from --sidecar-uid');
  });
});
