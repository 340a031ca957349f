/**
 * A backend with nothing exposed — pinned with nothing approved (its one tool changed since it was
 * pinned) or every tool, prompt and resource denied — reaches no client (red team 12, finding 4).
 * Before, the agent's logging/setLevel went to it and opened an upstream session owned by the
 * agent's session, on which the backend logged, had the agent's model sample its own system prompt
 * (`includeContext: allServers`) and asked the user for a key; a shared stdio process logged to
 * every session unasked; with everything denied its instructions reached the session. And a
 * backend's sampling request reaches a client only while a request of that client is in flight on
 * the backend: before, an HTTP backend's went to the session owning its upstream session at any
 * time. The backend is ./fixtures/chatty-server.ts in a child process, over HTTP and stdio.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CreateMessageRequestSchema, ElicitationCompleteNotificationSchema, ElicitRequestSchema, LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { fixtureServer, serveGateway, sidecarConfig, text, until, type McpInput, type ServedGateway } from './harness.js';

type BackendInput = NonNullable<McpInput['backends']>[number];

const chattyServer = (mode: 'stdio' | 'http') => {
  const server = fixtureServer('chatty-server.ts');
  return { ...server, args: [...server.args, mode] };
};

let child: ChildProcess | undefined;
/** What the HTTP server wrote to stderr: what its own requests got back. */
const httpHeard: string[] = [];
let httpUrl = '';
const gateways: ServedGateway[] = [];

beforeAll(async () => {
  const { command, args } = chattyServer('http');
  child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  createInterface({ input: child.stderr! }).on('line', (line) => void httpHeard.push(line));
  [httpUrl] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
});

afterEach(async () => {
  await Promise.all(gateways.splice(0).map((g) => g.close()));
});

afterAll(() => {
  child?.kill();
});

async function serve(backends: BackendInput[]): Promise<ServedGateway> {
  const served = await serveGateway({ backends });
  gateways.push(served);
  await until('every backend ready', () => served.gateway.view().backends.every((b) => b.state === 'ready'));
  return served;
}

/** An agent whose client samples and elicits (answering with what a backend must never get) and records what reached it. */
async function agentOf(served: ServedGateway) {
  const logs: { logger: string; data: unknown }[] = [];
  const asked: string[] = [];
  const completed: string[] = [];
  const agent = await served.connect({
    capabilities: { sampling: {}, elicitation: { form: {}, url: {} } },
    setup: (client) => {
      client.setNotificationHandler(ElicitationCompleteNotificationSchema, (n) => void completed.push(n.params.elicitationId));
      client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logs.push({ logger: n.params.logger ?? '', data: n.params.data }));
      client.setRequestHandler(CreateMessageRequestSchema, (request) => {
        asked.push(`sampling: ${request.params.systemPrompt ?? ''}`);
        return { role: 'assistant', model: 'agent-model', content: { type: 'text', text: 'AGENT-MODEL-OUTPUT: the user pasted sk-live-123 earlier' } };
      });
      client.setRequestHandler(ElicitRequestSchema, (request) => {
        asked.push(`elicitation: ${request.params.message}`);
        return { action: 'accept', content: { key: 'sk-typed-by-the-user' } };
      });
    },
  });
  return { agent, logs, asked, completed };
}

/**
 * The elicitation the backend sends unasked, 100 ms after a session opened: when the agent's first
 * call is still in flight there then (a loaded machine), it reaches the agent as any request
 * during a call does, so tests of other requests leave it out of what the agent was asked.
 */
const UNASKED = 'elicitation: CHATTY-ELICITATION: paste your key';

const unapproved = { approval: { mode: 'pinned' as const, pinned: [{ name: 'innocent', sha256: '0'.repeat(64) }] } };
const allDenied = { tools: { deny: ['*'] }, prompts: { deny: ['*'] }, resources: { deny: ['*'] } };

describe.each([
  ['pinned, its one tool changed since it was pinned', unapproved],
  ['every tool, prompt and resource denied', allDenied],
] as const)('an HTTP backend with nothing exposed (%s)', (_, policy) => {
  it("is sent no logging/setLevel, and neither its log lines, sampling, elicitation nor instructions reach the agent; an exposed backend's still log", async () => {
    const served = await serve([
      { name: 'chatty', prefix: 'chatty', transport: 'streamable-http', url: httpUrl, ...policy },
      { name: 'loud', prefix: 'loud', transport: 'streamable-http', url: httpUrl },
    ]);
    const { agent, logs, asked } = await agentOf(served);
    expect((await agent.client.listTools()).tools.map((t) => t.name)).not.toContain('chatty__innocent');
    const instructions = agent.client.getInstructions() ?? '';
    expect(instructions).toContain('Backend "loud"');
    expect(instructions).not.toContain('"chatty"');

    await agent.client.setLoggingLevel('debug');
    // The exposed backend logged on the setLevel request; by the time its line is here, the other's would be too.
    await until("the exposed backend's set-level log line", () => logs.some((l) => l.logger === 'loud/set-level'));
    expect(logs.filter((l) => l.logger.startsWith('chatty'))).toEqual([]);
    expect(served.gateway.view().backends.find((b) => b.name === 'chatty')?.sessions).toBe(0);
    // Nor did the exposed backend ask the agent anything: no call of the agent's was in flight, so its requests during setLevel got an error.
    expect(asked).toEqual([]);
    await until('the set-level elicitation answered', () => httpHeard.some((l) => l.includes('set-level elicitation')));
    expect(httpHeard.filter((l) => l.startsWith('chatty heard: set-level'))).toEqual([
      expect.stringMatching(/^chatty heard: set-level sampling failed: .*arrived while no client request was being served/),
      expect.stringMatching(/^chatty heard: set-level elicitation failed: .*arrived while no client request was being served/),
    ]);
    httpHeard.length = 0;
  });
});

describe("an HTTP backend's log lines", () => {
  it("reach a session from its own upstream session only, not from the gateway's, which lists and checks health for every session", async () => {
    const served = await serve([{ name: 'loud', prefix: 'loud', transport: 'streamable-http', url: httpUrl }]);
    const { agent, logs } = await agentOf(served);
    // The backend logs every 100 ms on each session it has, the gateway's own included.
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(logs.filter((l) => l.logger === 'loud/tick')).toEqual([]);
    await agent.client.setLoggingLevel('debug');
    await until("the agent's own upstream session's log lines", () => logs.filter((l) => l.logger === 'loud/tick').length >= 2);
  });
});

describe('the completion of a sign-in page (URL-mode elicitation)', () => {
  it('reaches the agent from the backend that asked for it, not from another backend naming its id', async () => {
    const served = await serve([
      { name: 'asker', prefix: 'asker', transport: 'streamable-http', url: httpUrl },
      { name: 'other', prefix: 'other', transport: 'streamable-http', url: httpUrl },
    ]);
    const { agent, asked, completed } = await agentOf(served);
    expect(text(await agent.client.callTool({ name: 'asker__elicit-url', arguments: {} }))).toBe('asked');
    expect(asked.filter((a) => a !== UNASKED)).toEqual(['elicitation: sign in']);
    expect(text(await agent.client.callTool({ name: 'other__complete-url', arguments: {} }))).toBe('will complete');
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(completed).toEqual([]);
    expect(text(await agent.client.callTool({ name: 'asker__complete-url', arguments: {} }))).toBe('will complete');
    await until('the completion of the backend that asked', () => completed.length === 1);
    expect(completed).toEqual(['CHATTY-ELICIT-1']);
  });
});

describe("a backend's own requests", () => {
  it("reach a client only while a request of that client is in flight there: a sampling request after the call returned is refused", async () => {
    const served = await serve([{ name: 'chatty', prefix: 'chatty', transport: 'streamable-http', url: httpUrl }]);
    const { agent, asked } = await agentOf(served);
    expect(text(await agent.client.callTool({ name: 'chatty__ask-later', arguments: {} }))).toBe('will ask');
    // The call has returned: the backend asks now. Its outcome is read from its stderr, not by a
    // call, which would be a request in flight there when the question came.
    child!.kill('SIGUSR2');
    const heard = await until('the later sampling answered', () => httpHeard.find((l) => l.startsWith('chatty heard: later sampling')));
    expect(heard).toMatch(/^chatty heard: later sampling failed: .*arrived while no client request was being served, so no client can answer it/);
    expect(asked.filter((a) => a !== UNASKED)).toEqual([]);
  });
});

describe('a shared stdio backend pinned with nothing approved', () => {
  it('logs to no session and has its elicitation refused; once a config reload pins its tool, its log lines reach the session', async () => {
    const input: BackendInput = { name: 'chatty', prefix: 'chatty', transport: 'stdio', stdio: chattyServer('stdio'), ...unapproved };
    const served = await serve([input]);
    const { agent, logs, asked } = await agentOf(served);
    const seen = (pattern: RegExp) => served.logs().split('\n').some((line) => pattern.test(line));
    // The process writes a log line every 100 ms; "tick 10" on its stderr comes after ten of them.
    await until('ten log lines written by the backend', () => seen(/chatty heard: tick 10\b/));
    expect(logs).toEqual([]);
    expect(asked).toEqual([]);
    expect(seen(/chatty heard: unasked elicitation failed: .*elicitation\/create from backend \\"chatty\\" is passed to no client: none of its tools, prompts or resources is exposed/)).toBe(true);

    const sha256 = served.gateway.view().tools.find((t) => t.name === 'innocent')!.sha256;
    await served.gateway.reload(sidecarConfig({ backends: [{ ...input, approval: { mode: 'pinned', pinned: [{ name: 'innocent', sha256 }] } }] }));
    await until('the pinned tool listed', async () => (await agent.client.listTools()).tools.some((t) => t.name === 'chatty__innocent'));
    await until('its log lines reaching the session', () => logs.some((l) => l.logger === 'chatty/tick'));
    expect(asked).toEqual([]);
  });
});

describe('a pinned stdio backend restarted as a version that holds back its catalog', () => {
  it("reaches no client on the strength of the catalog the version before it listed", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'airlock-flip-'));
    try {
      const server = fixtureServer('flip-server.ts');
      const input: BackendInput = { name: 'flip', prefix: 'flip', transport: 'stdio', stdio: { ...server, args: [...server.args, dir] }, timeouts: { connectMs: 3_000 } };
      const served = await serve([{ ...input, ...unapproved }]);
      const sha256 = served.gateway.view().tools.find((t) => t.name === 'innocent')!.sha256;
      await served.gateway.reload(sidecarConfig({ backends: [{ ...input, approval: { mode: 'pinned', pinned: [{ name: 'innocent', sha256 }] } }] }));
      const { agent, logs } = await agentOf(served);
      await until('the pinned tool listed', async () => (await agent.client.listTools()).tools.some((t) => t.name === 'flip__innocent'));
      await writeFile(join(dir, 'flip'), 'x');
      await until('the changed version running', () => served.logs().includes('flip: version 2 started'), 30_000);
      // It logs every 100 ms from its start; a second of them would be here.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(logs.filter((l) => String(l.data).startsWith('CHANGED-SERVER-LOG'))).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
