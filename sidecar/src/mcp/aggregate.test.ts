import { describe, expect, it } from 'vitest';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { McpBackendConfig } from '../config/index.js';
import { aggregate, type BackendSnapshot } from './aggregate.js';
import { EMPTY_CATALOG } from './listing.js';
import { definitionHash, toolHash } from './pinning.js';

const tool = (name: string, description = `does ${name}`): Tool => ({ name, description, inputSchema: { type: 'object' } });

function backend(input: Record<string, unknown>, tools: Tool[], available = true, extra: Partial<BackendSnapshot['catalog']> = {}): BackendSnapshot {
  const config = McpBackendConfig.parse({ transport: 'stdio', stdio: { command: 'x' }, ...input });
  return { config, catalog: { ...EMPTY_CATALOG, tools, ...extra }, available };
}

describe('aggregate', () => {
  it('lists approved tools of ready backends under their prefixes', () => {
    const agg = aggregate([backend({ name: 'a', prefix: 'a' }, [tool('x'), tool('y')]), backend({ name: 'b', prefix: 'b' }, [tool('x')])], {});
    expect(agg.listedTools.map((t) => t.name)).toEqual(['a__x', 'a__y', 'b__x']);
    expect(agg.toolsByName.get('b__x')).toMatchObject({ backend: 'b', name: 'x', state: 'approved', sha256: toolHash(tool('x')) });
  });

  it('applies backend globs to backend names and sandbox globs to prefixed names; deny wins', () => {
    const agg = aggregate(
      [
        backend({ name: 'a', prefix: 'a', tools: { allow: ['read*', 'write*'], deny: ['write_secret'] } }, [tool('read'), tool('write'), tool('write_secret'), tool('other')]),
        backend({ name: 'b', prefix: 'b' }, [tool('read'), tool('write')]),
      ],
      { deny: ['*__write'] },
    );
    expect(agg.listedTools.map((t) => t.name)).toEqual(['a__read', 'b__read']);
    expect(agg.toolsByName.get('a__write_secret')).toMatchObject({ state: 'denied', reason: 'denied by backend "a" deny glob "write_secret"' });
    expect(agg.toolsByName.get('a__other')).toMatchObject({ state: 'denied', reason: 'not matched by any backend "a" allow glob' });
    expect(agg.toolsByName.get('b__write')).toMatchObject({ state: 'denied', reason: 'denied by sandbox deny glob "*__write"' });
  });

  it('does not list a tool that only runs as a task (server-everything 2026.8 has one): the gateway serves no tasks, so every call of it failed', () => {
    const research = { ...tool('simulate-research-query'), execution: { taskSupport: 'required' } } as Tool;
    const optional = { ...tool('maybe-task'), execution: { taskSupport: 'optional' } } as Tool;
    const agg = aggregate([backend({ name: 'ev', prefix: 'ev' }, [tool('echo'), research, optional])], {});
    expect(agg.listedTools.map((t) => t.name)).toEqual(['ev__echo', 'ev__maybe-task']);
    expect(agg.toolsByName.get('ev__simulate-research-query')).toMatchObject({ state: 'denied', reason: expect.stringContaining('execution.taskSupport: required') });
  });

  it('exposes only pinned hashes in pinned mode and marks changed and pending tools', () => {
    const pinned = [
      { name: 'same', sha256: toolHash(tool('same')) },
      { name: 'moved', sha256: toolHash(tool('moved', 'the old description')) },
    ];
    const agg = aggregate([backend({ name: 'a', prefix: 'a', approval: { mode: 'pinned', pinned } }, [tool('same'), tool('moved'), tool('new')])], {});
    expect(agg.listedTools.map((t) => t.name)).toEqual(['a__same']);
    expect(agg.toolsByName.get('a__moved')?.state).toBe('changed');
    expect(agg.toolsByName.get('a__new')?.state).toBe('pending');
  });

  it('keeps the tools of a down backend known but unlisted, and drops its resources and prompts', () => {
    const agg = aggregate(
      [
        backend({ name: 'a', prefix: 'a' }, [tool('x')], false, {
          resources: [{ uri: 'file:///x', name: 'x' }],
          prompts: [{ name: 'p' }],
        }),
      ],
      {},
    );
    expect(agg.listedTools).toEqual([]);
    expect(agg.toolsByName.get('a__x')).toMatchObject({ state: 'approved', available: false });
    expect(agg.resources).toEqual([]);
    expect(agg.prompts).toEqual([]);
  });

  it('wraps resource URIs and templates and prefixes prompt names', () => {
    const agg = aggregate(
      [
        backend({ name: 'ev', prefix: 'ev' }, [], true, {
          resources: [{ uri: 'demo://r/1', name: 'one' }],
          resourceTemplates: [{ uriTemplate: 'demo://r/{id}', name: 'by id' }],
          prompts: [{ name: 'simple-prompt' }],
        }),
      ],
      {},
    );
    expect(agg.resources).toEqual([{ uri: 'airlock+ev+demo://r/1', name: 'one' }]);
    expect(agg.resourceTemplates).toEqual([{ uriTemplate: 'airlock+ev+demo://r/{id}', name: 'by id' }]);
    expect(agg.prompts.map((p) => p.prompt.name)).toEqual(['ev__simple-prompt']);
  });

  it('changes the tools fingerprint exactly when the listed tools change', () => {
    const one = aggregate([backend({ name: 'a', prefix: 'a' }, [tool('x')])], {});
    const same = aggregate([backend({ name: 'a', prefix: 'a' }, [tool('x')])], {});
    const changed = aggregate([backend({ name: 'a', prefix: 'a' }, [tool('x', 'new text')])], {});
    const down = aggregate([backend({ name: 'a', prefix: 'a' }, [tool('x')], false)], {});
    expect(same.fingerprints.tools).toBe(one.fingerprints.tools);
    expect(changed.fingerprints.tools).not.toBe(one.fingerprints.tools);
    expect(down.fingerprints.tools).not.toBe(one.fingerprints.tools);
  });

  it('gates prompts and resources like tools: their own filters, else the tools filter, then their own pins', () => {
    const catalog = { prompts: [{ name: 'greet' }, { name: 'secret-prompt' }], resources: [{ uri: 'note://a', name: 'a' }], resourceTemplates: [{ uriTemplate: 'note://t/{id}', name: 't' }] };
    const inherited = aggregate([backend({ name: 'a', prefix: 'a', tools: { deny: ['*'] } }, [tool('x')], true, catalog)], {});
    expect(inherited.listedTools).toEqual([]);
    expect(inherited.prompts).toEqual([]);
    expect(inherited.resources).toEqual([]);
    expect(inherited.resourceTemplates).toEqual([]);
    expect(inherited.promptsByName.get('a__greet')).toMatchObject({ state: 'denied', reason: 'denied by backend "a" (tools filter, as prompts has none) deny glob "*"' });

    const own = aggregate([backend({ name: 'a', prefix: 'a', tools: { deny: ['*'] }, prompts: { deny: ['secret-*'] }, resources: { allow: ['note://t/*'] } }, [tool('x')], true, catalog)], {});
    expect(own.prompts.map((p) => p.prefixedName)).toEqual(['a__greet']);
    expect(own.resources).toEqual([]);
    expect(own.resourceTemplates.map((t) => t.uriTemplate)).toEqual(['airlock+a+note://t/{id}']);

    const greet = definitionHash('prompt', { name: 'greet' });
    const pinned = aggregate([backend({ name: 'a', prefix: 'a', approval: { mode: 'pinned', pinned: [{ name: 'greet', sha256: greet }], pinnedPrompts: [{ name: 'secret-prompt', sha256: greet }] } }, [tool('x')], true, catalog)], {});
    expect(pinned.promptsByName.get('a__greet')?.state).toBe('pending');
    expect(pinned.promptsByName.get('a__secret-prompt')?.state).toBe('changed');
    expect(pinned.resourceEntries.map((e) => [e.key, e.state])).toEqual([['note://a', 'pending'], ['note://t/{id}', 'pending']]);
  });

  it('adds built-in tools as airlock__<name>, through the sandbox globs only', () => {
    const builtins = [tool('list_models'), tool('generate')];
    const agg = aggregate([backend({ name: 'a', prefix: 'a', approval: { mode: 'pinned', pinned: [{ name: 'y', sha256: 'f'.repeat(64) }] } }, [tool('x')])], { deny: ['airlock__generate'] }, builtins);
    expect(agg.listedTools.map((t) => t.name)).toEqual(['airlock__list_models']);
    expect(agg.toolsByName.get('airlock__generate')).toMatchObject({ backend: 'airlock (built-in)', state: 'denied', reason: 'denied by sandbox deny glob "airlock__generate"' });
  });

  it('names the backends with something exposed: one pinned with nothing approved, or with every entry denied, is none of them (red team 12)', () => {
    const changed = { name: 'x', sha256: toolHash(tool('x', 'what was pinned')) };
    const onlyPrompt = { prompts: [{ name: 'p' }] };
    const agg = aggregate(
      [
        backend({ name: 'open', prefix: 'open' }, [tool('x')]),
        backend({ name: 'unpinned', prefix: 'unpinned', approval: { mode: 'pinned', pinned: [changed] } }, [tool('x')], false),
        backend({ name: 'denied', prefix: 'denied', tools: { deny: ['*'] } }, [tool('x')], true, onlyPrompt),
        backend({ name: 'prompt', prefix: 'prompt', tools: { deny: ['*'] }, prompts: {} }, [tool('x')], true, onlyPrompt),
        backend({ name: 'sandbox', prefix: 'sandbox' }, [tool('x')]),
      ],
      { deny: ['sandbox__*'] },
      [tool('builtin')],
    );
    expect([...agg.exposedBackends]).toEqual(['open', 'prompt']);
  });
});
