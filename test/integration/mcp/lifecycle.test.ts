/**
 * Backends that die and come back, config reloads, sessions on the wire, lazy mode and
 * unapproved tools — all through the gateway's Unix socket.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js';
import { fixtureServer, npmServer, serveGateway, sidecarConfig, text, until, type McpInput, type ServedGateway } from './harness.js';
import { startHttpBackend, type HttpBackend } from './http-backends.js';

let http: HttpBackend;
let files: string;
const gateways: ServedGateway[] = [];

async function serve(mcp: McpInput, options: Parameters<typeof serveGateway>[1] = {}): Promise<ServedGateway> {
  const served = await serveGateway(mcp, options);
  gateways.push(served);
  await until('gateway ready', () => served.gateway.ready());
  return served;
}

const everything = { name: 'everything', prefix: 'ev', transport: 'stdio', stdio: npmServer('mcp-server-everything', 'stdio') } as const;
const httpBackend = () => ({ name: 'http', prefix: 'http', transport: 'streamable-http' as const, url: http.url });
const filesBackend = () => ({ name: 'files', prefix: 'fs', transport: 'stdio' as const, stdio: npmServer('mcp-server-filesystem', files) });

beforeAll(async () => {
  http = await startHttpBackend();
  files = await mkdtemp(join(tmpdir(), 'airlock-mcp-files-'));
  await writeFile(join(files, 'a.txt'), 'file a');
});

afterEach(async () => {
  await Promise.all(gateways.splice(0).map((g) => g.close()));
});

afterAll(async () => {
  await http?.close();
  await rm(files, { recursive: true, force: true });
});

describe('a backend that dies', () => {
  it('drops its tools with list_changed, keeps the others working, and brings them back when it restarts', async () => {
    // A slower first retry leaves a window in which the backend is visibly gone.
    const served = await serve({ backends: [everything, filesBackend(), httpBackend()] }, { tuning: { backoffBaseMs: 1_500, backoffMaxMs: 3_000 } });
    const agent = await served.connect();
    const initial = (await agent.client.listTools()).tools.map((t) => t.name);
    expect(initial).toContain('ev__echo');
    const pid = served.gateway.view().backends.find((b) => b.name === 'everything')?.pid;
    expect(pid).toEqual(expect.any(Number));

    process.kill(pid!, 'SIGKILL');

    const gone = await until('a list without the killed backend', () => agent.toolSnapshots().find((names) => !names.some((n) => n.startsWith('ev__'))));
    expect(gone).toContain('fs__read_text_file');
    expect(gone).toContain('http__add');
    expect(served.gateway.view().backends.find((b) => b.name === 'everything')?.state).toMatch(/failed|connecting/);
    expect(text(await agent.client.callTool({ name: 'fs__read_text_file', arguments: { path: join(files, 'a.txt') } }))).toBe('file a');
    expect(text(await agent.client.callTool({ name: 'http__add', arguments: { a: 1, b: 1 } }))).toBe('2');

    const changesWhileDown = agent.toolListChanges();
    await until('the restarted backend to be ready', () => served.gateway.view().backends.find((b) => b.name === 'everything')?.state === 'ready');
    await until('list_changed for the returning tools', () => agent.toolListChanges() > changesWhileDown);
    expect((await agent.client.listTools()).tools.map((t) => t.name)).toEqual(initial);
    expect(text(await agent.client.callTool({ name: 'ev__echo', arguments: { message: 'back' } }))).toBe('Echo: back');
    const status = served.gateway.view().backends.find((b) => b.name === 'everything');
    expect(status?.pid).not.toBe(pid);
    expect(status?.failures).toBe(1);
  });

  it('keeps retrying a backend that cannot start, with backoff, without holding up readiness', async () => {
    const served = await serve({
      backends: [{ name: 'broken', prefix: 'broken', transport: 'stdio', stdio: { command: '/nonexistent/mcp-server' } }, httpBackend()],
    });
    const agent = await served.connect();
    expect((await agent.client.listTools()).tools.map((t) => t.name)).toContain('http__whoami');
    await until('two failed attempts', () => (served.gateway.view().backends.find((b) => b.name === 'broken')?.failures ?? 0) >= 2);
    const broken = served.gateway.view().backends.find((b) => b.name === 'broken');
    expect(broken?.lastError).toMatch(/ENOENT/);
    expect(broken?.state).toMatch(/failed|connecting/);
    await expect(agent.client.callTool({ name: 'http__whoami', arguments: {} })).resolves.toMatchObject({ content: [{ type: 'text', text: 'http-backend' }] });
  });
});

describe('secret rotation', () => {
  it('reconnects a backend when its secret files change, with the new values', async () => {
    const tokenFile = join(files, 'token');
    await writeFile(tokenFile, 'first-token-value');
    const served = await serve({
      backends: [{ name: 'envfix', prefix: 'envfix', transport: 'stdio', stdio: { ...fixtureServer('env-server.ts'), env: [{ name: 'FIXTURE_TOKEN', file: tokenFile }] } }],
    });
    const agent = await served.connect();
    // The gateway keeps the value itself from the client: the server reports its hash too.
    const token = async () => (JSON.parse(text(await agent.client.callTool({ name: 'envfix__env', arguments: {} }))) as { tokenSha256: string }).tokenSha256;
    const sha = (value: string) => createHash('sha256').update(value).digest('hex');
    expect(await token()).toBe(sha('first-token-value'));
    await writeFile(tokenFile, 'second-token-value');
    await until('the backend to run with the rotated token', async () => (await token()) === sha('second-token-value'));
    expect(served.logs()).not.toContain('first-token-value');
    expect(served.logs()).not.toContain('second-token-value');
  });
});

describe('config reload', () => {
  it('applies filter changes in place, restarts only changed backends, adds and removes backends, and keeps sessions', async () => {
    const first = { backends: [everything, httpBackend()] };
    const served = await serve(first);
    const agent = await served.connect();
    const pid = served.gateway.view().backends.find((b) => b.name === 'everything')?.pid;

    await served.gateway.reload(sidecarConfig({ ...first, tools: { deny: ['http__add'] } }));
    await until('a list without the denied tool', () => agent.toolSnapshots().find((names) => !names.includes('http__add') && names.includes('http__whoami')));
    expect(served.gateway.view().backends.find((b) => b.name === 'everything')?.pid).toBe(pid);

    await served.gateway.reload(sidecarConfig({ backends: [{ ...everything, stdio: { ...everything.stdio, env: [{ name: 'RELOADED', value: '1' }] } }, filesBackend()] }));
    await until('the files backend tools', () => agent.toolSnapshots().find((names) => names.includes('fs__read_text_file') && !names.some((n) => n.startsWith('http__'))));
    await until('everything restarted', () => {
      const b = served.gateway.view().backends.find((x) => x.name === 'everything');
      return b?.state === 'ready' && b.pid !== pid;
    });
    expect(text(await agent.client.callTool({ name: 'ev__echo', arguments: { message: 'same session' } }))).toBe('Echo: same session');
    await expect(agent.client.callTool({ name: 'http__whoami', arguments: {} })).rejects.toThrow(/unknown tool "http__whoami"/);
    expect(served.gateway.view().backends.map((b) => b.name)).toEqual(['everything', 'files']);
  });
});

describe('sessions on the wire', () => {
  const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
  const initialize = (protocolVersion: string) =>
    JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion, capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });

  it.each(['2025-03-26', '2025-06-18', LATEST_PROTOCOL_VERSION])('serves a client speaking %s, and DELETE ends the session', async (version) => {
    const served = await serve({ backends: [httpBackend()] }, { parseBody: false });
    const init = await served.fetch('/mcp', { method: 'POST', headers, body: initialize(version) });
    expect(init.status).toBe(200);
    const session = init.headers.get('mcp-session-id');
    expect(session).toMatch(/^[0-9a-f-]{36}$/);
    expect(await init.text()).toContain(`"protocolVersion":"${version}"`);
    const sessionHeaders = { ...headers, 'mcp-session-id': session!, 'mcp-protocol-version': version };
    const initialized = await served.fetch('/mcp', { method: 'POST', headers: sessionHeaders, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) });
    expect(initialized.status).toBe(202);
    const list = await served.fetch('/mcp', { method: 'POST', headers: sessionHeaders, body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }) });
    expect(await list.text()).toContain('"name":"http__whoami"');

    const stream = await served.fetch('/mcp', { method: 'GET', headers: { accept: 'text/event-stream', 'mcp-session-id': session!, 'mcp-protocol-version': version } });
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toContain('text/event-stream');
    await stream.body?.cancel();

    const del = await served.fetch('/mcp', { method: 'DELETE', headers: { 'mcp-session-id': session!, 'mcp-protocol-version': version } });
    expect(del.status).toBe(200);
    const after = await served.fetch('/mcp', { method: 'POST', headers: sessionHeaders, body: JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/list' }) });
    expect(after.status).toBe(404);
  });

  it('refuses requests without a session unless they initialize one', async () => {
    const served = await serve({ backends: [] }, { parseBody: false });
    const noSession = await served.fetch('/mcp', { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }) });
    expect(noSession.status).toBe(400);
    expect(((await noSession.json()) as { error: { message: string } }).error.message).toMatch(/no valid session ID/);
    expect((await served.fetch('/mcp', { method: 'GET', headers: { accept: 'text/event-stream' } })).status).toBe(400);
    const unknown = await served.fetch('/mcp', { method: 'POST', headers: { ...headers, 'mcp-session-id': 'nope' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }) });
    expect(unknown.status).toBe(404);
    const garbage = await served.fetch('/mcp', { method: 'POST', headers, body: '{not json' });
    expect(garbage.status).toBe(400);
  });

  it('tells a session whose GET stream opens after a list change about that change', async () => {
    const served = await serve({ backends: [httpBackend()] }, { parseBody: false });
    const version = LATEST_PROTOCOL_VERSION;
    const init = await served.fetch('/mcp', { method: 'POST', headers, body: initialize(version) });
    const sessionHeaders = { ...headers, 'mcp-session-id': init.headers.get('mcp-session-id')!, 'mcp-protocol-version': version };
    await init.text();
    await served.fetch('/mcp', { method: 'POST', headers: sessionHeaders, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) });

    await served.gateway.reload(sidecarConfig({ backends: [httpBackend()], tools: { deny: ['http__add'] } }));
    await until('the gateway to announce the change (with no stream open)', () => served.logs().includes('notifying sessions'));

    const stream = await served.fetch('/mcp', { method: 'GET', headers: { accept: 'text/event-stream', 'mcp-session-id': sessionHeaders['mcp-session-id'], 'mcp-protocol-version': version } });
    const reader = stream.body!.getReader();
    let received = '';
    await until('list_changed on the late GET stream', async () => {
      const { value } = await reader.read();
      received += new TextDecoder().decode(value);
      return received.includes('"method":"notifications/tools/list_changed"');
    });
    await reader.cancel();
  });

  it('sends list_changed to every connected session', async () => {
    const served = await serve({ backends: [httpBackend()] });
    const [a, b] = await Promise.all([served.connect(), served.connect()]);
    await served.gateway.reload(sidecarConfig({ backends: [httpBackend()], tools: { deny: ['http__slow'] } }));
    await until('both sessions notified', () => a.toolListChanges() > 0 && b.toolListChanges() > 0);
  });
});

describe('lazy mode', () => {
  it('lists only search_tools and call_tool, and call_tool reaches any allowed tool', async () => {
    const served = await serve({ backends: [everything, httpBackend()], tools: { lazy: true, deny: ['http__slow'] } });
    const agent = await served.connect();
    expect((await agent.client.listTools()).tools.map((t) => t.name)).toEqual(['search_tools', 'call_tool']);
    const found = await agent.client.callTool({ name: 'search_tools', arguments: { query: 'sum of two numbers' } });
    expect((found.structuredContent as { tools: { name: string }[] }).tools[0]?.name).toBe('ev__get-sum');
    expect(text(await agent.client.callTool({ name: 'call_tool', arguments: { name: 'ev__get-sum', arguments: { a: 1, b: 2 } } }))).toBe('The sum of 1 and 2 is 3.');
    expect(text(await agent.client.callTool({ name: 'ev__echo', arguments: { message: 'direct' } }))).toBe('Echo: direct');
    await expect(agent.client.callTool({ name: 'call_tool', arguments: { name: 'http__slow', arguments: { ms: 1, tag: 'x' } } })).rejects.toThrow(/not available in this sandbox/);
    await expect(agent.client.callTool({ name: 'call_tool', arguments: {} })).resolves.toMatchObject({ isError: true, content: [{ text: expect.stringMatching(/invalid arguments for call_tool: name/) }] });
  });
});

describe('approval', () => {
  it('withholds unpinned tools in pinned mode and says how to approve them', async () => {
    const served = await serve({ backends: [{ ...httpBackend(), approval: { mode: 'pinned', pinned: [{ name: 'whoami', sha256: '0'.repeat(64) }] } }] });
    const agent = await served.connect();
    expect((await agent.client.listTools()).tools.map((t) => t.name)).toEqual(['search_tools']);
    const view = served.gateway.view();
    expect(view.tools.find((t) => t.name === 'whoami')?.state).toBe('changed');
    const add = view.tools.find((t) => t.name === 'add');
    expect(add?.state).toBe('pending');
    await expect(agent.client.callTool({ name: 'http__add', arguments: { a: 1, b: 2 } })).rejects.toThrow(`add {name: "add", sha256: ${add!.sha256}} to spec.approval.pinned`);
  });
});
