import { describe, expect, it } from 'vitest';
import { compileFilter } from './filtering.js';

describe('compileFilter', () => {
  it('allows everything when no allow list is set', () => {
    expect(compileFilter({}, 'backend fs')('anything').allowed).toBe(true);
  });

  it('allows only names matching an allow glob', () => {
    const filter = compileFilter({ allow: ['read_*', 'list_directory'] }, 'backend fs');
    expect(filter('read_file').allowed).toBe(true);
    expect(filter('list_directory').allowed).toBe(true);
    expect(filter('write_file')).toEqual({ allowed: false, reason: 'not matched by any backend fs allow glob' });
  });

  it('lets deny win over allow and names the glob', () => {
    const filter = compileFilter({ allow: ['*'], deny: ['*write*', 'move_file'] }, 'sandbox');
    expect(filter('write_file')).toEqual({ allowed: false, reason: 'denied by sandbox deny glob "*write*"' });
    expect(filter('move_file').allowed).toBe(false);
    expect(filter('read_file').allowed).toBe(true);
  });

  it('treats an empty allow list as allowing nothing', () => {
    expect(compileFilter({ allow: [] }, 'sandbox')('x').allowed).toBe(false);
  });

  it('matches tool names, not paths: * spans slashes and leading dots; braces and ? work', () => {
    const filter = compileFilter({ allow: ['fs__*', 'gh__{get,list}_?ssue*'] }, 'sandbox');
    expect(filter('fs__a/b').allowed).toBe(true);
    expect(filter('fs__.hidden').allowed).toBe(true);
    expect(filter('gh__list_issues').allowed).toBe(true);
    expect(filter('gh__create_issue').allowed).toBe(false);
  });
});
