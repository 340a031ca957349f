import { describe, expect, it } from 'vitest';
import { FirewallUsageError, parseFirewallArgs } from './args.js';

describe('parseFirewallArgs', () => {
  it('reads the UID, every --allow, the backend and --dry-run', () => {
    expect(parseFirewallArgs(['--sidecar-uid', '1337', '--allow', '10.0.0.0/8:443', '--allow=fd00::/8', '--backend', 'legacy', '--dry-run'])).toEqual({
      sidecarUid: 1337,
      allow: [
        { family: 4, cidr: '10.0.0.0/8', ports: [443] },
        { family: 6, cidr: 'fd00::/8', ports: [] },
      ],
      backend: 'legacy',
      dryRun: true,
    });
  });

  it('defaults to no allow entries, the auto backend and a real apply', () => {
    expect(parseFirewallArgs(['--sidecar-uid', '65532'])).toEqual({ sidecarUid: 65532, allow: [], backend: 'auto', dryRun: false });
  });

  it('reads the tools UID, which may be neither 0 nor the sidecar UID', () => {
    expect(parseFirewallArgs(['--sidecar-uid', '61337', '--tools-uid', '61338'])).toMatchObject({ sidecarUid: 61337, toolsUid: 61338 });
    expect(() => parseFirewallArgs(['--sidecar-uid', '61337', '--tools-uid', '0'])).toThrow(/--tools-uid: must not be 0/);
    expect(() => parseFirewallArgs(['--sidecar-uid', '61337', '--tools-uid', '61337'])).toThrow(/--tools-uid: must differ from --sidecar-uid/);
  });

  it('reads the admin port, 1 to 65535', () => {
    expect(parseFirewallArgs(['--sidecar-uid', '61337', '--admin-port', '9090'])).toMatchObject({ sidecarUid: 61337, adminPort: 9090 });
    expect(() => parseFirewallArgs(['--sidecar-uid', '61337', '--admin-port', '0'])).toThrow(/--admin-port: must be 1 to 65535/);
    expect(() => parseFirewallArgs(['--sidecar-uid', '61337', '--admin-port', '65536'])).toThrow(/--admin-port: must be 1 to 65535/);
    expect(() => parseFirewallArgs(['--sidecar-uid', '61337', '--admin-port', 'http'])).toThrow(/--admin-port: must be a number/);
  });

  it('answers --help', () => {
    expect(parseFirewallArgs(['--help'])).toBe('help');
    expect(parseFirewallArgs(['-h'])).toBe('help');
  });

  it.each([
    [[], /--sidecar-uid: is required/],
    [['--sidecar-uid', 'nobody'], /--sidecar-uid: must be a number/],
    [['--sidecar-uid', '-1'], /--sidecar-uid/],
    [['--sidecar-uid', '4294967295'], /--sidecar-uid/],
    [['--sidecar-uid', '1', '--backend', 'iptables'], /--backend/],
    [['--sidecar-uid', '1', '--bogus'], /--bogus/],
    [['--sidecar-uid', '1', 'extra'], /extra/],
  ])('refuses %j naming the option', (argv, message) => {
    expect(() => parseFirewallArgs(argv)).toThrow(FirewallUsageError);
    expect(() => parseFirewallArgs(argv)).toThrow(message);
  });

  it('refuses UID 0, which would let every root process in the pod out', () => {
    expect(() => parseFirewallArgs(['--sidecar-uid', '0'])).toThrow(/must not be 0/);
  });

  it('lists every bad --allow entry at once', () => {
    let message = '';
    try {
      parseFirewallArgs(['--sidecar-uid', '1', '--allow', '10.0.0.1', '--allow', '10.0.0.0/8:99999']);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('--allow "10.0.0.1": the prefix length is missing');
    expect(message).toContain('--allow "10.0.0.0/8:99999": port 99999 is outside 1-65535');
  });
});
