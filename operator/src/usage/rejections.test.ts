import { describe, expect, it } from 'vitest';
import { CredentialRejections } from './rejections.js';

describe('CredentialRejections', () => {
  it('knows nothing before the first round, then names the pods per provider', () => {
    const r = new CredentialRejections();
    expect(r.record('ns', 'agent', [{ pod: 'b', credentialsRejected: ['oa'] }, { pod: 'a', credentialsRejected: ['oa', 'an'] }], new Set(['a', 'b']))).toEqual(new Set(['ns/oa', 'ns/an']));
    expect(r.forProvider('ns', 'oa')).toBeUndefined();
    r.roundDone();
    expect(r.forProvider('ns', 'oa')).toEqual([{ sandbox: 'agent', pod: 'a' }, { sandbox: 'agent', pod: 'b' }]);
    expect(r.forProvider('other', 'oa')).toEqual([]);
  });

  it('keeps a live pod that did not answer, forgets a gone pod and a gone sandbox, and reports only changes', () => {
    const r = new CredentialRejections();
    r.record('ns', 'agent', [{ pod: 'a', credentialsRejected: ['oa'] }, { pod: 'b', credentialsRejected: ['oa'] }], new Set(['a', 'b']));
    r.roundDone();
    expect(r.record('ns', 'agent', [{ pod: 'a', credentialsRejected: ['oa'] }], new Set(['a', 'b'])).size).toBe(0);
    expect(r.forProvider('ns', 'oa')).toHaveLength(2);
    expect(r.record('ns', 'agent', [{ pod: 'a', credentialsRejected: [] }], new Set(['a']))).toEqual(new Set(['ns/oa']));
    expect(r.forProvider('ns', 'oa')).toEqual([]);
    r.record('ns', 'other', [{ pod: 'c', credentialsRejected: ['oa'] }], new Set(['c']));
    expect(r.retain(new Set(['ns/agent']))).toEqual(new Set(['ns/oa']));
    expect(r.forProvider('ns', 'oa')).toEqual([]);
  });
});
