import { describe, expect, it } from 'vitest';
import { assignNames, exposedName, prefixOf, rewrittenName, TOOL_NAME_PATTERN, unwrapUri, wrapUri } from './naming.js';

describe('exposedName', () => {
  it('joins prefix and name with __ when the result is a valid MCP tool name', () => {
    expect(exposedName('fs', 'read_file')).toBe('fs__read_file');
    expect(exposedName('every-thing', 'get-sum.v2')).toBe('every-thing__get-sum.v2');
  });

  it('rewrites names with other characters deterministically, keeping them apart', () => {
    const a = exposedName('gh', 'create issue');
    const b = exposedName('gh', 'create/issue');
    expect(a).toMatch(/^gh__create_issue-[0-9a-f]{10}$/);
    expect(b).toMatch(/^gh__create_issue-[0-9a-f]{10}$/);
    expect(a).not.toBe(b);
    expect(exposedName('gh', 'create issue')).toBe(a);
    expect(exposedName('gh', 'résumé')).toMatch(TOOL_NAME_PATTERN);
  });

  it('cuts long names to 128 characters with a hash of the full name', () => {
    const prefix = 'p'.repeat(63);
    const long1 = `${'x'.repeat(100)}1`;
    const long2 = `${'x'.repeat(100)}2`;
    const n1 = exposedName(prefix, long1);
    const n2 = exposedName(prefix, long2);
    expect(n1).toHaveLength(128);
    expect(n1).toMatch(TOOL_NAME_PATTERN);
    expect(n1).not.toBe(n2);
    expect(n1.startsWith(`${prefix}__`)).toBe(true);
  });

  it('names an empty tool name too', () => {
    expect(exposedName('x', '')).toMatch(/^x__-[0-9a-f]{10}$/);
  });
});

describe('assignNames', () => {
  it('never gives two names of one backend the same exposed name', () => {
    const evil = rewrittenName('b', 'a b'); // a tool named exactly like another's rewritten form
    const { names, dropped } = assignNames('b', ['a b', evil.slice('b__'.length), 'plain']);
    expect(names.get('plain')).toBe('b__plain');
    expect(names.get(evil.slice(3))).toBe(evil);
    expect(names.has('a b')).toBe(false);
    expect(dropped).toEqual(['a b']);
    expect(new Set(names.values()).size).toBe(names.size);
  });

  it('cannot collide across backends: the prefix ends at the first __', () => {
    // Prefixes are DNS labels, so "a" + "_b__c" can never equal "a__b" + "__c".
    expect(exposedName('a', 'b__c')).toBe('a__b__c');
    expect(prefixOf('a__b__c')).toBe('a');
    expect(prefixOf('search_tools')).toBeUndefined();
  });
});

describe('resource URIs', () => {
  it.each([
    ['fs', 'file:///tmp/a.txt', 'airlock+fs+file:///tmp/a.txt'],
    ['every-thing', 'demo://resource/static/document/architecture.md', 'airlock+every-thing+demo://resource/static/document/architecture.md'],
    ['x', 'git+ssh://h/r', 'airlock+x+git+ssh://h/r'],
    ['x', 'relative/path', 'airlock+x:relative/path'],
    ['x', '', 'airlock+x:'],
  ])('wraps %s %s as %s and back', (prefix, uri, wrapped) => {
    expect(wrapUri(prefix, uri)).toBe(wrapped);
    expect(unwrapUri(wrapped)).toEqual({ prefix, uri });
  });

  it('wraps templates so that expanding them gives a wrapped expansion', () => {
    const template = wrapUri('ev', 'demo://resource/dynamic/text/{resourceId}');
    expect(unwrapUri(template.replace('{resourceId}', '7'))).toEqual({ prefix: 'ev', uri: 'demo://resource/dynamic/text/7' });
  });

  it('rejects URIs that are not wrapped', () => {
    expect(unwrapUri('file:///etc/passwd')).toBeUndefined();
    expect(unwrapUri('airlock:/x')).toBeUndefined();
  });
});
