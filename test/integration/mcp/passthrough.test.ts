/**
 * The whole protocol through the gateway, with the MCP SDK's server in a child process (Streamable
 * HTTP, SSE, stdio) and server-everything as backends and the SDK client on the Unix socket:
 * one upstream session per client session, logging, sampling, elicitation, roots, resource
 * subscriptions, paginated lists, and the audit trail of tool calls.
 */
import { CLIENT_CAPABILITIES } from '../../../sidecar/src/mcp/client.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import {
  CreateMessageRequestSchema,
  ElicitationCompleteNotificationSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
  LoggingMessageNotificationSchema,
  PingRequestSchema,
  ResourceUpdatedNotificationSchema,
  UrlElicitationRequiredError,
  type LoggingMessageNotification,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { Metrics } from '../../../sidecar/src/telemetry/metrics.js';
import { serveMcp } from '../../mocks/mcp-sessions.js';
import { fixtureServer, npmServer, serveGateway, text, until, type McpInput, type ServedGateway, type TestClient } from './harness.js';
import { startProcessBackend, type HttpTransport, type ProcessBackend } from './process-backend.js';

const http: Partial<Record<HttpTransport, ProcessBackend>> = {};
const gateways: ServedGateway[] = [];

beforeAll(async () => {
  http['streamable-http'] = await startProcessBackend('streamable-http');
  http.sse = await startProcessBackend('sse');
});

afterEach(async () => {
  await Promise.all(gateways.splice(0).map((g) => g.close()));
});

afterAll(async () => {
  await Promise.all(Object.values(http).map((b) => b.close()));
});

async function serve(mcp: McpInput, options: Parameters<typeof serveGateway>[1] = {}): Promise<ServedGateway> {
  const served = await serveGateway(mcp, options);
  gateways.push(served);
  await until('every backend ready', () => served.gateway.view().backends.every((b) => b.state === 'ready'));
  return served;
}

const fix = (transport: HttpTransport) => ({ name: 'fix', prefix: 'fix', transport, url: http[transport]!.url });
const call = async (agent: TestClient, name: string, args: Record<string, unknown> = {}) => text(await agent.client.callTool({ name, arguments: args }));

describe.each<HttpTransport>(['streamable-http', 'sse'])('a %s backend', (transport) => {
  it('gives every client session its own upstream session, closed when the client session ends', async () => {
    const served = await serve({ backends: [fix(transport)] });
    const [a, b] = await Promise.all([served.connect(), served.connect()]);
    const opened = Number(await call(a, 'fix__sessions'));
    expect(await call(a, 'fix__count')).toBe('1');
    expect(await call(a, 'fix__count')).toBe('2');
    expect(await call(b, 'fix__count')).toBe('1');
    expect(Number(await call(b, 'fix__sessions'))).toBe(opened + 1);
    expect(served.gateway.view().backends[0]?.sessions).toBe(2);

    await a.end();
    await until('the upstream session of the ended client closed', async () => Number(await call(b, 'fix__sessions')) === opened);
    expect(served.gateway.view().backends[0]?.sessions).toBe(1);
    expect(await call(b, 'fix__count')).toBe('2');
  });

  it('passes logging through: setLevel reaches the backend, messages reach only the client that caused them, with the backend named', async () => {
    const served = await serve({ backends: [fix(transport)] });
    const received = new Map<string, LoggingMessageNotification['params'][]>();
    const logging = (name: string) => ({
      setup: (client: Client) => {
        received.set(name, []);
        client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void received.get(name)!.push(n.params));
      },
    });
    const a = await served.connect(logging('a'));
    const b = await served.connect(logging('b'));
    await a.client.setLoggingLevel('warning');
    await call(a, 'fix__log', { level: 'info', message: 'below the level' });
    await call(a, 'fix__log', { level: 'error', message: 'for a' });
    await until('the message for a', () => received.get('a')!.some((m) => m.data === 'for a'));
    expect(received.get('a')).toEqual([{ level: 'error', logger: 'fix/fixture', data: 'for a' }]);
    expect(received.get('b')).toEqual([]);
    await call(b, 'fix__log', { level: 'info', message: 'for b' });
    await until('the message for b', () => received.get('b')!.some((m) => m.data === 'for b'));
    expect(received.get('a')).toHaveLength(1);
  });

  it("sends sampling and elicitation requests to the client whose call caused them and returns the answers; the agent's roots reach no backend", async () => {
    const served = await serve({ backends: [fix(transport)] });
    const capable = await served.connect({
      capabilities: { sampling: {}, elicitation: {}, roots: { listChanged: true } },
      setup: (client) => {
        client.setRequestHandler(CreateMessageRequestSchema, (request) => ({
          role: 'assistant',
          model: 'test-model',
          content: { type: 'text', text: `answer to ${(request.params.messages[0]?.content as { text: string }).text}` },
        }));
        client.setRequestHandler(ElicitRequestSchema, () => ({ action: 'accept', content: { ok: true } }));
        client.setRequestHandler(ListRootsRequestSchema, () => ({ roots: [{ uri: 'file:///work/project', name: 'project' }] }));
      },
    });
    const plain = await served.connect();
    expect(await call(capable, 'fix__ask', { question: 'six times seven' })).toBe('model said: answer to six times seven');
    expect(await call(capable, 'fix__confirm')).toBe('user accept: {"ok":true}');
    // The agent's roots are paths of its own container; server-filesystem takes a client's roots as
    // its allowed directories, so an agent declaring file:///proc read another backend's environ.
    // The gateway declares no roots to backends: the backend cannot ask, and hears no change.
    const roots = await capable.client.callTool({ name: 'fix__roots' });
    expect(roots.isError).toBe(true);
    expect(text(roots)).toMatch(/Method not found/);
    expect(text(roots)).not.toContain('file:///work/project');
    await capable.client.sendRootsListChanged();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await call(capable, 'fix__roots-changed')).toBe('0');
    const refused = await plain.client.callTool({ name: 'fix__ask', arguments: { question: 'x' } });
    expect(refused.isError).toBe(true);
    expect(text(refused)).toMatch(/does not support sampling/);
  });

  it("passes the backend's instructions on under its prefix, but not a pinned backend's", async () => {
    const pinned = { ...fix(transport), name: 'pin', prefix: 'pin', approval: { mode: 'pinned' as const, pinned: [{ name: 'count', sha256: '0'.repeat(64) }] } };
    const served = await serve({ backends: [fix(transport), pinned] });
    const agent = await served.connect();
    const said = agent.client.getInstructions() ?? '';
    expect(said).toMatch(/^This server brings together the MCP servers of this sandbox\./);
    expect(said).toContain('\n\nBackend "fix" (its names start with fix__) says:\nCall count before touch; the note changes with every touch.');
    expect(said).not.toContain('"pin"');
  });

  it('passes URL-mode elicitation and its completion to a client that declared it, and a "URL elicitation required" error as the client knows it', async () => {
    const served = await serve({ backends: [fix(transport)] });
    const asked: unknown[] = [];
    const completed: string[] = [];
    const capable = await served.connect({
      capabilities: { elicitation: { form: {}, url: {} } },
      setup: (client) => {
        client.setRequestHandler(ElicitRequestSchema, (request) => (asked.push(request.params), { action: 'accept' }));
        client.setNotificationHandler(ElicitationCompleteNotificationSchema, (n) => void completed.push(n.params.elicitationId));
      },
    });
    const answer = await call(capable, 'fix__sign-in');
    const id = /^user accept (sign-in-\d+)$/.exec(answer)?.[1];
    expect(id, answer).toBeDefined();
    expect(asked).toEqual([{ mode: 'url', message: 'Sign in to the fixture', url: `https://auth.example/sign-in?id=${id}`, elicitationId: id }]);
    await until('the completion', () => completed.length > 0);
    expect(completed).toEqual([id]);

    const required = await capable.client.callTool({ name: 'fix__needs-sign-in' }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(required).toBeInstanceOf(UrlElicitationRequiredError);
    expect((required as UrlElicitationRequiredError).elicitations).toEqual([{ mode: 'url', message: 'Sign in first', url: 'https://auth.example/sign-in', elicitationId: 'required-1' }]);

    // A client that declared form-mode elicitation only (`elicitation: {}`) is not sent a URL to open.
    const formOnly = await served.connect({ capabilities: { elicitation: {} }, setup: (client) => client.setRequestHandler(ElicitRequestSchema, () => ({ action: 'accept', content: {} })) });
    const refused = await formOnly.client.callTool({ name: 'fix__sign-in' });
    expect(refused.isError).toBe(true);
    expect(text(refused)).toMatch(/the client of this session does not support url-mode elicitation \(it did not declare elicitation\.url\)/);
  });

  it('subscribes to a resource on the backend and passes its updates back under the gateway URI', async () => {
    const served = await serve({ backends: [fix(transport)] });
    const updates: string[] = [];
    const agent = await served.connect({ setup: (client) => client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => void updates.push(n.params.uri)) });
    const uri = 'airlock+fix+fixture://note';
    expect((await agent.client.listResources()).resources.map((r) => r.uri)).toContain(uri);
    expect(await call(agent, 'fix__touch')).toBe('nobody subscribed');
    await agent.client.subscribeResource({ uri });
    expect(await call(agent, 'fix__touch')).toBe('notified');
    await until('the update', () => updates.includes(uri));
    await agent.client.unsubscribeResource({ uri });
    expect(await call(agent, 'fix__touch')).toBe('nobody subscribed');
  });
});

describe.each(['streamable-http', 'sse', 'stdio'] as const)('progress from a %s backend', (transport) => {
  it('reaches the client whole, the notification sent just before the result included', async () => {
    // The SDK client handles a notification a microtask later than a response, and forgets a
    // request's progress handler with its response: progress and result read together (one chunk
    // of a pipe or an event stream) lost the progress, 3 of 3 here over stdio before.
    const backend = transport === 'stdio' ? { name: 'fix', prefix: 'fix', transport, stdio: { ...fixtureServer('http-server.ts'), args: [...fixtureServer('http-server.ts').args, 'stdio'] } } : fix(transport);
    const served = await serve({ backends: [backend] });
    const agent = await served.connect();
    for (let run = 0; run < 5; run++) {
      const seen: number[] = [];
      const result = await agent.client.callTool({ name: 'fix__steps', arguments: {} }, undefined, { onprogress: (p) => void seen.push(p.progress) });
      expect(text(result)).toBe('three steps');
      expect(seen).toEqual([1, 2, 3]);
    }
  });
});

describe('subscriptions', () => {
  it('are bounded per session, so a loop of subscribes cannot grow the sidecar without end; unsubscribing makes room', async () => {
    const served = await serve({ backends: [fix('streamable-http')] });
    const agent = await served.connect();
    const uri = (n: number) => `airlock+fix+fixture://note/${String(n).padStart(4, '0')}/${'x'.repeat(8_000)}`;
    let accepted = 0;
    let refusal: unknown;
    for (let n = 0; n < 100 && refusal === undefined; n++) {
      await agent.client.subscribeResource({ uri: uri(n) }).then(
        () => accepted++,
        (err: unknown) => (refusal = err),
      );
    }
    expect(accepted).toBe(32);
    expect(String(refusal)).toMatch(/this session watches 32 resources whose URIs add up to 257,024 characters; at most 262,144 are kept per session: unsubscribe from some first/);
    await agent.client.subscribeResource({ uri: uri(0) }); // already watched: no room needed
    await agent.client.unsubscribeResource({ uri: uri(0) });
    await agent.client.subscribeResource({ uri: uri(99) });
  });
});

describe('stdio backends', () => {
  const stdio = (extra: Record<string, unknown>) => ({ name: 'fix', prefix: 'fix', transport: 'stdio' as const, stdio: { ...fixtureServer('http-server.ts'), args: [...fixtureServer('http-server.ts').args, 'stdio'], ...extra } });

  it('share one process by default', async () => {
    const served = await serve({ backends: [stdio({})] });
    const [a, b] = await Promise.all([served.connect(), served.connect()]);
    expect(await call(a, 'fix__count')).toBe('1');
    expect(await call(b, 'fix__count')).toBe('2');
    expect(await call(a, 'fix__whoami')).toBe(await call(b, 'fix__whoami'));
  });

  it('send the completion of a URL-mode elicitation on the shared process to the session that was asked only', async () => {
    const served = await serve({ backends: [stdio({})] });
    const completed = new Map<string, string[]>([['a', []], ['b', []]]);
    const signer = (name: string) => ({
      capabilities: { elicitation: { url: {} } },
      setup: (client: Client) => {
        client.setRequestHandler(ElicitRequestSchema, () => ({ action: 'accept' }));
        client.setNotificationHandler(ElicitationCompleteNotificationSchema, (n) => void completed.get(name)!.push(n.params.elicitationId));
      },
    });
    const [a, b] = await Promise.all([served.connect(signer('a')), served.connect(signer('b'))]);
    const id = (await call(b, 'fix__sign-in')).replace('user accept ', '');
    await until("b's completion", () => completed.get('b')!.length > 0);
    expect(completed.get('b')).toEqual([id]);
    expect(await call(a, 'fix__count')).toMatch(/^\d+$/);
    expect(completed.get('a')).toEqual([]);
  });

  it("keep a resource watched on the shared process while any session watches it: one session's unsubscribe does not silence the others", async () => {
    const served = await serve({ backends: [stdio({})] });
    const updates = new Map<string, number>([['a', 0], ['b', 0]]);
    const watcher = (name: string) => ({ setup: (client: Client) => client.setNotificationHandler(ResourceUpdatedNotificationSchema, () => void updates.set(name, updates.get(name)! + 1)) });
    const [a, b] = await Promise.all([served.connect(watcher('a')), served.connect(watcher('b'))]);
    const uri = 'airlock+fix+fixture://note';
    await a.client.subscribeResource({ uri });
    await b.client.subscribeResource({ uri });
    await b.client.unsubscribeResource({ uri });
    // Before: b's unsubscribe reached the one shared process, which then had nobody subscribed.
    expect(await call(a, 'fix__touch')).toBe('notified');
    await until("a's update", () => updates.get('a')! >= 1);
    expect(updates.get('b')).toBe(0);
    await a.client.unsubscribeResource({ uri });
    expect(await call(a, 'fix__touch')).toBe('nobody subscribed');
  });

  it("never puts one session's sampling, elicitation or roots request before another session's client when both have calls in flight on the shared process", async () => {
    const served = await serve({ backends: [stdio({})] });
    const asked: string[] = [];
    const sampler = (name: string) => ({
      capabilities: { sampling: {} },
      setup: (client: Client) =>
        client.setRequestHandler(CreateMessageRequestSchema, (request) => {
          asked.push(`${name}: ${(request.params.messages[0]?.content as { text: string }).text}`);
          return { role: 'assistant' as const, model: 'test-model', content: { type: 'text' as const, text: `answer from ${name}` } };
        }),
    });
    const [a, b] = await Promise.all([served.connect(sampler('a')), served.connect(sampler('b'))]);
    // Alone on the process, a's question reaches a.
    expect(await call(a, 'fix__ask', { question: 'private question of a' })).toBe('model said: answer from a');
    // a's call waits inside the backend; b's release is the newer request when the question goes out.
    const pending = a.client.callTool({ name: 'fix__ask-later', arguments: { question: 'second private question of a' } });
    await until('a waiting in the backend', async () => (await call(b, 'fix__waiting')) === 'yes');
    expect(await call(b, 'fix__release')).toBe('released');
    const result = await pending;
    expect(asked).toEqual(['a: private question of a']);
    expect(result.isError).toBe(true);
    expect(text(result)).toMatch(/requests of 2 client sessions were in flight .*stdio\.processes: per-session/);
  });

  it('give the process of a session idle past processIdleMs to a new session at maxProcesses: clients that never end their session do not lock others out', async () => {
    // The MCP Inspector's CLI never sends DELETE; an agent that crashed cannot. Before, every new
    // session got "already runs 2 processes" until the idle reaper, a day later.
    const served = await serve({ backends: [stdio({ processes: 'per-session', maxProcesses: 2 })] }, { tuning: { processIdleMs: 1_500 } });
    const [a, b, c] = await Promise.all([served.connect(), served.connect(), served.connect()]);
    const [pidOfA] = await Promise.all([call(a, 'fix__whoami'), call(b, 'fix__whoami')]);
    // b used last: a is the one idle longest.
    await call(b, 'fix__count');
    // Both used just now: the third waits its turn, as before.
    await expect(c.client.callTool({ name: 'fix__count', arguments: {} })).rejects.toThrow(/already runs 2 processes/);
    await new Promise((resolve) => setTimeout(resolve, 1_700));
    expect(await call(c, 'fix__count')).toBe('1');
    expect(served.logs()).toContain('MCP backend process of an idle session ended to start one for another session');
    // The session whose process was taken gets a new one on its next call.
    await new Promise((resolve) => setTimeout(resolve, 1_700));
    expect(await call(a, 'fix__count')).toBe('1');
    expect(await call(a, 'fix__whoami')).not.toBe(pidOfA);
  });

  it('run one process per client session with processes: per-session, up to maxProcesses, ended with the session', async () => {
    const served = await serve({ backends: [stdio({ processes: 'per-session', maxProcesses: 2 })] });
    const [a, b, c] = await Promise.all([served.connect(), served.connect(), served.connect()]);
    expect(await call(a, 'fix__count')).toBe('1');
    expect(await call(a, 'fix__count')).toBe('2');
    expect(await call(b, 'fix__count')).toBe('1');
    expect(await call(a, 'fix__whoami')).not.toBe(await call(b, 'fix__whoami'));
    await expect(c.client.callTool({ name: 'fix__count', arguments: {} })).rejects.toThrow(/already runs 2 processes, one per client session \(stdio.maxProcesses\)/);
    const pidOfA = Number((await call(a, 'fix__whoami')).replace('pid ', ''));
    await a.end();
    await until('the process of the ended session gone', () => {
      try {
        process.kill(pidOfA, 0);
        return false;
      } catch {
        return true;
      }
    });
    expect(await call(c, 'fix__count')).toBe('1');
  });
});

describe('lists', () => {
  it('come in pages with a cursor, together the whole list', async () => {
    const served = await serve({ backends: [fix('streamable-http')] }, { tuning: { listPageSize: 3 } });
    const agent = await served.connect();
    const first = await agent.client.listTools();
    expect(first.tools).toHaveLength(3);
    expect(first.nextCursor).toEqual(expect.any(String));
    const all: Tool[] = [...first.tools];
    for (let cursor = first.nextCursor; cursor; ) {
      const page = await agent.client.listTools({ cursor });
      all.push(...page.tools);
      cursor = page.nextCursor;
    }
    expect(all.map((t) => t.name).sort()).toEqual(served.gateway.view().tools.map((t) => t.prefixedName).concat('search_tools').sort());
    await expect(agent.client.listTools({ cursor: 'not-a-cursor' })).rejects.toThrow(/invalid cursor/);
  });

  it('show a capable client as many server-everything tools through the gateway as a direct client with sampling and elicitation (roots are withheld, task-only tools unlisted)', async () => {
    const capabilities = { sampling: {}, elicitation: {}, roots: { listChanged: true } };
    const direct = new Client({ name: 'direct', version: '1.0.0' }, { capabilities: CLIENT_CAPABILITIES });
    await direct.connect(new StdioClientTransport(npmServer('mcp-server-everything', 'stdio')));
    // Less the tools that only run as tasks, which the gateway does not serve (aggregate.ts).
    const directNames = (await direct.listTools()).tools.filter((t) => (t as { execution?: { taskSupport?: string } }).execution?.taskSupport !== 'required').map((t) => t.name);
    await direct.close();

    const served = await serve({ backends: [{ name: 'everything', prefix: 'ev', transport: 'stdio', stdio: npmServer('mcp-server-everything', 'stdio') }] });
    const agent = await served.connect({ capabilities, setup: (client) => client.setRequestHandler(ListRootsRequestSchema, () => ({ roots: [] })) });
    const through = (await agent.client.listTools()).tools.map((t) => t.name).filter((n) => n.startsWith('ev__'));
    expect(through.map((n) => n.slice('ev__'.length)).sort()).toEqual([...directNames].sort());
  });
});

describe('a tool a backend adds while it runs', () => {
  it.each<HttpTransport>(['streamable-http', 'sse'])('is listed and callable when the %s backend announces it on the client\'s own session', async (transport) => {
    // Servers announce list changes on the session that caused them; the gateway reads its catalog on
    // its own session, and before, announcements on a client's upstream session went nowhere: the
    // tool was never listed, and calling it was "unknown tool".
    const served = await serve({ backends: [fix(transport)] });
    const agent = await served.connect();
    expect(await call(agent, 'fix__grow')).toBe('grew');
    await until('the grown tool listed', async () => (await agent.client.listTools()).tools.some((t) => t.name === 'fix__grown'));
    expect(await call(agent, 'fix__grown')).toBe('grown');
  });
});

describe('a backend busy with a call', () => {
  it('is not declared failed when it answers no health ping while computing: the call gets its callMs', async () => {
    // Pings every 1 s, each given 1 s (the lesser of the interval and connectMs); the tool holds the
    // process's event loop for 3 s, so at least one ping is sent and times out while it computes.
    // Before: the unanswered ping failed the backend, its process was replaced and the call died
    // as "closed the connection". (At 200 ms a loaded machine failed it all the same: a ping sent
    // during the call, its answer queued behind the call's, timed out 19 ms after the call ended,
    // with no call in flight any more. Pings 1 s apart end their waits far from the call's end.)
    const served = await serve({ backends: [{ name: 'busy', prefix: 'busy', transport: 'stdio', stdio: fixtureServer('busy-server.ts'), timeouts: { connectMs: 5_000, callMs: 10_000 } }] }, { tuning: { healthIntervalMs: 1_000 } });
    const agent = await served.connect();
    expect(await call(agent, 'busy__crunch', { ms: 3_000 })).toBe('crunched a while');
    expect(served.logs()).toContain('did not answer a health ping while serving calls');
    // Not failed meanwhile (its process was not replaced under the call, nor its other sessions' calls).
    expect(served.logs()).not.toContain('health check failed');
    expect(served.gateway.view().backends[0]!.state).toBe('ready');
  });

  it('is not declared failed when a ping sent during a call times out after the call ended', async () => {
    // Deterministic form of what a loaded machine did by chance: the ping reaches the backend while
    // a call is in flight, the call's answer comes first, and the ping's answer after its timeout
    // (1 s: the lesser of the interval and connectMs). Before: no call in flight when the ping
    // timed out, so the healthy backend was failed and its session replaced.
    let releaseCall = () => {};
    let releasePing = () => {};
    let pinged = () => {};
    const pingArrived = new Promise<void>((resolve) => (pinged = resolve));
    let calling = false;
    const backend = await serveMcp(() => {
      const server = new McpServer({ name: 'late-ping', version: '1.0.0' });
      server.registerTool('work', { description: 'Works until released.' }, async () => {
        calling = true;
        await new Promise<void>((resolve) => (releaseCall = resolve));
        calling = false;
        return { content: [{ type: 'text', text: 'worked' }] };
      });
      server.server.setRequestHandler(PingRequestSchema, async () => {
        if (calling) {
          pinged();
          await new Promise<void>((resolve) => (releasePing = resolve));
        }
        return {};
      });
      return server;
    });
    try {
      const served = await serve({ backends: [{ name: 'late', prefix: 'late', transport: 'streamable-http', url: backend.url, timeouts: { connectMs: 5_000, callMs: 10_000 } }] }, { tuning: { healthIntervalMs: 1_000 } });
      const agent = await served.connect();
      const answer = call(agent, 'late__work');
      await pingArrived;
      releaseCall();
      expect(await answer).toBe('worked');
      await until('the ping timed out', () => /did not answer a health ping|health check failed/.test(served.logs()));
      releasePing();
      expect(served.logs()).not.toContain('health check failed');
      expect(served.logs()).toContain('did not answer a health ping while serving calls');
      expect(served.gateway.view().backends[0]!.state).toBe('ready');
      // The same backend session serves the next call.
      const again = call(agent, 'late__work');
      await until('the next call at the backend', () => calling);
      releaseCall();
      expect(await again).toBe('worked');
    } finally {
      releaseCall();
      releasePing();
      await backend.close();
    }
  });
});

describe('the audit trail', () => {
  it('logs one line per tool call with session, backend, tool, duration and outcome but no arguments, and counts calls in the metrics', async () => {
    const metrics = new Metrics();
    const served = await serve({ backends: [fix('streamable-http')] }, { metrics });
    metrics.watchMcpBackends(() => served.gateway.view().backends);
    const agent = await served.connect();
    await call(agent, 'fix__log', { level: 'info', message: 'argument-marker-7f3a' });
    const failed = await agent.client.callTool({ name: 'fix__ask', arguments: { question: 'question-marker-91c2' } });
    expect(failed.isError).toBe(true);
    const lines = served
      .logs()
      .split('\n')
      .filter((l) => l.includes('"audit":"mcp_tool_call"'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toEqual([
      expect.objectContaining({ session: agent.transport.sessionId, backend: 'fix', tool: 'fix__log', outcome: 'ok', durationMs: expect.any(Number) }),
      expect.objectContaining({ session: agent.transport.sessionId, backend: 'fix', tool: 'fix__ask', outcome: 'tool_error', durationMs: expect.any(Number) }),
    ]);
    expect(served.logs()).not.toContain('argument-marker-7f3a');
    expect(served.logs()).not.toContain('question-marker-91c2');
    const exposition = await metrics.registry.metrics();
    expect(exposition).toContain('airlock_mcp_tool_calls_total{backend="fix",tool="fix__log",result="ok"} 1');
    expect(exposition).toContain('airlock_mcp_tool_calls_total{backend="fix",tool="fix__ask",result="tool_error"} 1');
    expect(exposition).toMatch(/airlock_mcp_tool_call_duration_seconds_count\{backend="fix",tool="fix__log"\} 1/);
    expect(exposition).toContain('airlock_mcp_backend_state{backend="fix",state="ready"} 1');
    expect(exposition).toContain('airlock_mcp_backend_state{backend="fix",state="failed"} 0');
  });
});
