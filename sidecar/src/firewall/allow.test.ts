import { describe, expect, it } from 'vitest';
import { AllowEntryError, parseAllowEntry } from './allow.js';

describe('parseAllowEntry', () => {
  it('reads an IPv4 CIDR with ports, sorted and without repeats', () => {
    expect(parseAllowEntry('10.0.0.0/8:8443,443,443')).toEqual({ family: 4, cidr: '10.0.0.0/8', ports: [443, 8443] });
  });

  it('reads a CIDR without ports as every port', () => {
    expect(parseAllowEntry('192.168.1.7/32')).toEqual({ family: 4, cidr: '192.168.1.7/32', ports: [] });
    expect(parseAllowEntry('::/0')).toEqual({ family: 6, cidr: '::/0', ports: [] });
  });

  it('takes the ports of an IPv6 entry after the prefix length, so no brackets are needed', () => {
    expect(parseAllowEntry('2001:db8::/32:443,53')).toEqual({ family: 6, cidr: '2001:db8::/32', ports: [53, 443] });
    expect(parseAllowEntry('fd00::1/128:1')).toEqual({ family: 6, cidr: 'fd00::1/128', ports: [1] });
  });

  it.each([
    ['10.0.0.1', /prefix length is missing/],
    ['10.0.0.1:443', /prefix length is missing/],
    ['10.0.0.0/33', /prefix length 33 is more than 32/],
    ['fd00::/129', /prefix length 129 is more than 128/],
    ['10.0.0.0/8:', /"" is not a port number/],
    ['10.0.0.0/8:0', /port 0 is outside 1-65535/],
    ['10.0.0.0/8:65536', /port 65536 is outside 1-65535/],
    ['10.0.0.0/8:443,http', /"http" is not a port number/],
    ['10.0.0.0/8:443-445', /"443-445" is not a port number/],
    ['10.0.0/8', /"10.0.0" is not an IPv4 or IPv6 address/],
    ['example.com/32', /not an IPv4 or IPv6 address/],
    ['fe80::1%eth0/64', /not an IPv4 or IPv6 address/],
    ['10.0.0.0/x', /"x" is not a prefix length/],
  ])('refuses %s, saying why', (text, reason) => {
    expect(() => parseAllowEntry(text)).toThrow(AllowEntryError);
    expect(() => parseAllowEntry(text)).toThrow(reason);
    expect(() => parseAllowEntry(text)).toThrow(`--allow ${JSON.stringify(text)}`);
  });
});
