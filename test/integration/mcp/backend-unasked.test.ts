/**
 * What a backend sends the agent unasked. A backend's sampling request reaches a client only while
 * a request of that client is in flight on the backend: before, an HTTP backend's (and a
 * per-session process's) went to the session owning its upstream session at any time, putting the
 * backend's own prompt before the agent's model when the backend chose. The backend is
 * ./fixtures/chatty-server.ts in a child process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CreateMessageRequestSchema, ElicitRequestSchema, LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { fixtureServer, serveGateway, text, until, type McpInput, type ServedGateway } from './harness.js';

type BackendInput = NonNullable<McpInput['backends']>[number];

const chattyServer = (mode: 'stdio' | 'http') => {
  const server = fixtureServer('chatty-server.ts');
  return { ...server, args: [...server.args, mode] };
};

let child: ChildProcess | undefined;
let httpUrl = '';
const gateways: ServedGateway[] = [];

beforeAll(async () => {
  const { command, args } = chattyServer('http');
  child = spawn(command, args, { stdio: ['ignore', 'pipe', 'ignore'] });
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
  const agent = await served.connect({
    capabilities: { sampling: {}, elicitation: { form: {} } },
    setup: (client) => {
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
  return { agent, logs, asked };
}

describe("a backend's own requests", () => {
  it("reach a client only while a request of that client is in flight there: a sampling request after the call returned is refused", async () => {
    const served = await serve([{ name: 'chatty', prefix: 'chatty', transport: 'streamable-http', url: httpUrl }]);
    const { agent, asked } = await agentOf(served);
    expect(text(await agent.client.callTool({ name: 'chatty__ask-later', arguments: {} }))).toBe('will ask');
    const heard = await until('the later sampling answered', async () => {
      const said = JSON.parse(text(await agent.client.callTool({ name: 'chatty__heard', arguments: {} }))) as string[];
      return said.find((l) => l.startsWith('later sampling'));
    });
    expect(heard).toMatch(/^later sampling failed: .*arrived while no client request was being served, so no client can answer it/);
    expect(asked).toEqual([]);
  });
});
