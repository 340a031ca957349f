import { describe, expect, it } from 'vitest';
import { anthropicError, anthropicErrorStatus, anthropicErrorType, anthropicSSE, isKnownBlock, MessagesRequest } from './anthropic.js';

const minimal = { model: 'claude', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] };

describe('Anthropic request schema', () => {
  it('requires max_tokens', () => {
    const { max_tokens: _, ...rest } = minimal;
    const result = MessagesRequest.safeParse(rest);
    expect(result.error?.issues.map((i) => i.path.join('.'))).toEqual(['max_tokens']);
  });

  it('passes blocks it does not translate through untouched, for a native provider', () => {
    const body = {
      ...minimal,
      system: [{ type: 'text', text: 's', cache_control: { type: 'ephemeral', ttl: '1h' } }],
      messages: [
        { role: 'user', content: [{ type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: 'JVBE' } }, { type: 'search_result', source: 'x', title: 't', content: [] }] },
        { role: 'assistant', content: [{ type: 'thinking', thinking: 't', signature: 's' }, { type: 'server_tool_use', id: 'srv', name: 'web_search', input: {} }] },
      ],
      tools: [{ type: 'web_search_20250305', name: 'web_search', max_uses: 5 }],
      container: 'c1',
    };
    const parsed = MessagesRequest.parse(body);
    expect(parsed).toEqual(body);
    const first = parsed.messages[0]?.content;
    expect(Array.isArray(first) && first.map((b) => isKnownBlock(b))).toEqual([false, false]);
  });

  it('still rejects a malformed block of a known type', () => {
    expect(MessagesRequest.safeParse({ ...minimal, messages: [{ role: 'user', content: [{ type: 'text' }] }] }).success).toBe(false);
    expect(MessagesRequest.safeParse({ ...minimal, messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64' } }] }] }).success).toBe(false);
    expect(MessagesRequest.safeParse({ ...minimal, messages: [{ role: 'system', content: 'x' }] }).success).toBe(false);
  });

  it('takes a system message only where the API does: right after a user turn, text only', () => {
    const user = { role: 'user', content: 'hi' };
    const assistant = { role: 'assistant', content: 'hello' };
    expect(MessagesRequest.safeParse({ ...minimal, messages: [user, { role: 'system', content: 'be brief' }] }).success).toBe(true);
    expect(MessagesRequest.safeParse({ ...minimal, messages: [user, { role: 'system', content: [{ type: 'text', text: 'be brief' }] }] }).success).toBe(true);
    expect(MessagesRequest.safeParse({ ...minimal, messages: [user, assistant, { role: 'system', content: 'x' }] }).success).toBe(false);
    expect(MessagesRequest.safeParse({ ...minimal, messages: [user, { role: 'system', content: 'x' }, { role: 'system', content: 'y' }] }).success).toBe(false);
    const image = { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AA==' } };
    expect(MessagesRequest.safeParse({ ...minimal, messages: [user, { role: 'system', content: [image] }] }).success).toBe(false);
  });
});

describe('Anthropic errors', () => {
  it('map HTTP statuses to Anthropic error types and back', () => {
    const table = { 400: 'invalid_request_error', 401: 'authentication_error', 403: 'permission_error', 404: 'not_found_error', 413: 'request_too_large', 429: 'rate_limit_error', 500: 'api_error', 529: 'overloaded_error' };
    for (const [status, type] of Object.entries(table)) {
      expect(anthropicErrorType(Number(status))).toBe(type);
      expect(anthropicErrorStatus(type)).toBe(Number(status));
    }
    expect(anthropicErrorType(422)).toBe('invalid_request_error');
    expect(anthropicErrorType(502)).toBe('api_error');
  });

  it('shape a canonical error as the Anthropic body, typed by status', () => {
    expect(anthropicError({ status: 429, type: 'tokens', message: 'slow down' })).toEqual({ type: 'error', error: { type: 'rate_limit_error', message: 'slow down' } });
  });

  it('frame a stream event with its type as the event name', () => {
    expect(anthropicSSE({ type: 'message_stop' })).toBe('event: message_stop\ndata: {"type":"message_stop"}\n\n');
  });
});
