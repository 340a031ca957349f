/**
 * An MCP backend's secret header (a token from a Secret, mounted in the sidecar only) echoed back
 * by the backend: a `whoami` tool, a debug echo, an error text that quotes the request. The agent
 * holds no credential of the sandbox, MCP backends' included, so what the backend says reaches it
 * with the backend's secret values replaced — in tool results (text and structured), resource
 * contents, prompt messages, completions, errors (their message and data) and the log messages passed through.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { z } from 'zod';
import { McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import { LoggingMessageNotificationSchema, McpError, type LoggingMessageNotification } from '@modelcontextprotocol/sdk/types.js';
import { serveMcp, type ServedMcp } from '../../mocks/mcp-sessions.js';
import { serveGateway, until, type ServedGateway } from './harness.js';

const TOKEN = 'mcp-token-5b2f9e41d7';
let backend: ServedMcp;
let served: ServedGateway;
let dir: string;

beforeAll(async () => {
  backend = await serveMcp(() => {
    const server = new McpServer({ name: 'echo', version: '1.0.0' }, { capabilities: { logging: {}, completions: {} } });
    const heard = (extra: { requestInfo?: { headers: Record<string, string | string[] | undefined> } }) => String(extra.requestInfo?.headers.authorization ?? '');
    server.registerTool('whoami', { description: 'Says what the caller sent.', outputSchema: { authorization: z.string() } }, async (extra) => {
      await server.sendLoggingMessage({ level: 'info', data: `request with ${heard(extra)}` });
      return { content: [{ type: 'text', text: `you sent ${heard(extra)} (token ${heard(extra).replace('Bearer ', '')})` }], structuredContent: { authorization: heard(extra) } };
    });
    server.registerResource('session', 'echo://session', { description: 'The request.' }, async (uri, extra) => ({ contents: [{ uri: uri.href, text: heard(extra) }] }));
    // A JSON-RPC error (prompts are not turned into error results as tools are) quoting the request in its data.
    server.registerPrompt('refuse', { description: 'Refuses, quoting the request.' }, (extra) => {
      throw new McpError(-32050, `refused ${heard(extra)}`, { request: { authorization: heard(extra) } });
    });
    server.registerPrompt('debug', { description: 'The request as a prompt.' }, (extra) => ({ messages: [{ role: 'user', content: { type: 'text', text: `debug ${heard(extra)}` } }] }));
    server.registerResource(
      'item',
      new ResourceTemplate('echo://items/{id}', { list: undefined, complete: { id: () => [TOKEN, 'plain'] } }),
      { description: 'An item.' },
      async (uri) => ({ contents: [{ uri: uri.href, text: 'item' }] }),
    );
    return server;
  });
  dir = await mkdtemp(join(tmpdir(), 'airlock-echo-'));
  await writeFile(join(dir, 'token'), `Bearer ${TOKEN}\n`);
  served = await serveGateway({
    backends: [{ name: 'echo', prefix: 'echo', transport: 'streamable-http', url: backend.url, headers: [{ name: 'Authorization', file: join(dir, 'token') }] }],
  });
  await until('the backend ready', () => served.gateway.view().backends.every((b) => b.state === 'ready'));
});

afterAll(async () => {
  await served?.close();
  await backend?.close();
  await rm(dir, { recursive: true, force: true });
});

it("never shows the agent the backend's secret header, whatever the backend echoes it in", async () => {
  const logs: LoggingMessageNotification['params'][] = [];
  const agent = await served.connect({ setup: (client) => client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logs.push(n.params)) });
  const said: unknown[] = [];
  const result = await agent.client.callTool({ name: 'echo__whoami', arguments: {} });
  said.push(result);
  expect(result.content).toEqual([{ type: 'text', text: 'you sent [REDACTED] (token [REDACTED])' }]);
  expect(result.structuredContent).toEqual({ authorization: '[REDACTED]' });
  said.push(await agent.client.readResource({ uri: 'airlock+echo+echo://session' }));
  said.push(await agent.client.getPrompt({ name: 'echo__debug' }));
  const refusal = await agent.client.getPrompt({ name: 'echo__refuse' }).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(refusal).toBeInstanceOf(McpError);
  said.push({ message: (refusal as McpError).message, data: (refusal as McpError).data });
  expect((refusal as McpError).data).toMatchObject({ backend: 'echo', backendData: { request: { authorization: '[REDACTED]' } } });
  said.push(await agent.client.complete({ ref: { type: 'ref/resource', uri: 'airlock+echo+echo://items/{id}' }, argument: { name: 'id', value: '' } }));
  await until('the log message', () => logs.length > 0);
  said.push(logs);
  // The backend did receive the header: the echo is real.
  expect(JSON.stringify(said)).toContain('[REDACTED]');
  expect(JSON.stringify(said)).not.toContain(TOKEN);
});
