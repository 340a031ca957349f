import { describe, expect, it } from 'vitest';
import { BadTarget, Router, splitTarget, type Handler } from './router.js';

const onError = () => undefined;
const named = (name: string): Handler => Object.assign(() => name, { label: name });

function router(): Router {
  const r = new Router();
  r.add('POST', '/v1/chat/completions', named('chat'), { onError });
  r.add('GET', '/v1/models', named('models'), { onError });
  r.add('GET', '/v1/models/:model', named('model'), { onError });
  r.add('POST', '/v1/models/*', named('gemini-v1'), { onError });
  r.add('GET', '/v1/responses/:id', named('response'), { onError });
  r.add('DELETE', '/v1/responses/:id', named('delete-response'), { onError });
  r.add('GET', '/v1/responses/:id/input_items', named('input-items'), { onError });
  r.add('GET', '/v1beta/models', named('gemini-models'), { onError });
  r.add('GET', '/v1beta/models/*', named('gemini-model'), { onError });
  r.add(['GET', 'POST', 'DELETE'], '/mcp', named('mcp'), { onError });
  return r;
}

/** The name of the route `method path` reaches, and its parameters. */
function reach(method: string, url: string): [string, Record<string, string>] | undefined {
  const found = router().find(method, splitTarget(url).path);
  return found && [(found.route.handler as Handler & { label: string }).label, found.params];
}

describe('Router', () => {
  it('matches exact paths by method; a GET route answers HEAD; other methods find nothing', () => {
    expect(reach('POST', '/v1/chat/completions')).toEqual(['chat', {}]);
    expect(reach('HEAD', '/v1/models')).toEqual(['models', {}]);
    expect(reach('GET', '/v1/chat/completions')).toBeUndefined();
    expect(reach('HEAD', '/v1/chat/completions')).toBeUndefined();
    expect(reach('PURGE', '/mcp')).toBeUndefined();
    expect(reach('DELETE', '/mcp')).toEqual(['mcp', {}]);
  });

  it('is exact about case, trailing and doubled slashes; ignores the query and the fragment', () => {
    expect(reach('POST', '/v1/chat/completions/')).toBeUndefined();
    expect(reach('POST', '//v1/chat/completions')).toBeUndefined();
    expect(reach('POST', '/V1/chat/completions')).toBeUndefined();
    expect(reach('POST', '/v1/chat/completions?stream=true')).toEqual(['chat', {}]);
    expect(reach('POST', '/v1/chat/completions#x')).toEqual(['chat', {}]);
    expect(reach('POST', 'http://airlock:80/v1/chat/completions?x')).toEqual(['chat', {}]);
  });

  it('gives one-segment parameters (possibly empty), decoded; a wildcard takes the rest', () => {
    expect(reach('GET', '/v1/models/gpt-4o')).toEqual(['model', { model: 'gpt-4o' }]);
    expect(reach('GET', '/v1/models/')).toEqual(['model', { model: '' }]);
    expect(reach('GET', '/v1/models/meta-llama%2FLlama-3.1-8B')).toEqual(['model', { model: 'meta-llama/Llama-3.1-8B' }]);
    expect(reach('GET', '/v1/models/a%25b')).toEqual(['model', { model: 'a%b' }]);
    expect(reach('GET', '/v1/models/a/b')).toBeUndefined();
    expect(reach('GET', '/v1/responses/resp_1/input_items')).toEqual(['input-items', { id: 'resp_1' }]);
    expect(reach('DELETE', '/v1/responses/resp_1')).toEqual(['delete-response', { id: 'resp_1' }]);
    expect(reach('GET', '/v1/responses/resp_1/other')).toBeUndefined();
    expect(reach('POST', '/v1/models/gemini-2.5-flash:generateContent')).toEqual(['gemini-v1', { '*': 'gemini-2.5-flash:generateContent' }]);
    expect(reach('GET', '/v1beta/models')).toEqual(['gemini-models', {}]);
    expect(reach('GET', '/v1beta/models/tuned%2Fx%3AcountTokens')).toEqual(['gemini-model', { '*': 'tuned/x:countTokens' }]);
  });

  it('keeps an escaped slash in the path a literal: /v1/chat%2Fcompletions is no route', () => {
    expect(reach('POST', '/v1/chat%2Fcompletions')).toBeUndefined();
    expect(reach('POST', '/v1/chat/complet%69ons')).toEqual(['chat', {}]);
  });

  it('refuses a bad percent escape as a bad target', () => {
    expect(() => splitTarget('/v1/chat/completions%zz')).toThrow(BadTarget);
    expect(() => splitTarget('/v1/models/%E0%A4%A')).toThrow(BadTarget);
    expect(splitTarget('/v1/x?%zz').query).toBe('%zz');
  });

  it('names the authority of an absolute-form target, and only of one', () => {
    expect(splitTarget('http://evil.example:8080/v1/models?x=1')).toEqual({ rawPath: '/v1/models', path: '/v1/models', query: 'x=1', authority: 'evil.example:8080' });
    expect(splitTarget('/v1/models').authority).toBeUndefined();
    expect(splitTarget('*')).toMatchObject({ rawPath: '*', authority: undefined });
  });

  it('refuses a route declared twice', () => {
    const r = router();
    expect(() => r.add('GET', '/v1/models/:other', named('x'), { onError })).toThrow(/declared twice/);
    expect(() => r.add('POST', '/v1/chat/completions', named('x'), { onError })).toThrow(/declared twice/);
  });
});
