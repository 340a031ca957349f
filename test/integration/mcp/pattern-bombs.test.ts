/**
 * Holding the sidecar's only thread with a pattern: the globs an author writes (resource and tool
 * filters) and the URI templates a backend lists are compiled to backtracking regular
 * expressions, and what they are matched against comes from the other side — a URI the agent
 * sends in resources/read, a name the backend lists. A plausible glob such as
 * `file:///data/*\/*\/*.csv` against an 8,000-character URI of slashes took minutes, one written
 * with `**` (picomatch's lookaheads kept V8's fallback away) as long, and a template of adjacent
 * variables (`{a}{b}{c}…`) against a URI that does not match it longer still: meanwhile no model
 * call, probe or other MCP request of the pod was answered. Now globs compile to expressions
 * without lookarounds, every expression falls back to V8's linear-time engine, and what reaches a
 * pattern is bounded (resource URIs 8,192 characters, names 1,024), so each of these is answered.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  CallToolRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  ReadResourceRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { serveMcp, type ServedMcp } from '../../mocks/mcp-sessions.js';
import { serveGateway, text, until, type ServedGateway } from './harness.js';

/** A name the backend lists, built so that `*read*write*` backtracks over every `read` in it. */
const HUGE_NAME = 'read'.repeat(75_000);

let backend: ServedMcp;
let served: ServedGateway;

beforeAll(async () => {
  // A backend that lists what an attacker would: a tool with a 300,000-character name and a
  // template of eight adjacent variables, besides a plain tool and resource.
  backend = await serveMcp(() => {
    const server = new Server({ name: 'hostile', version: '1.0.0' }, { capabilities: { tools: {}, resources: {} } });
    server.setRequestHandler(ListToolsRequestSchema, () => ({
      tools: [
        { name: 'ok', description: 'An ordinary tool.', inputSchema: { type: 'object' } },
        { name: HUGE_NAME, description: 'A name no filter should have to read.', inputSchema: { type: 'object' } },
      ],
    }));
    server.setRequestHandler(CallToolRequestSchema, (request) => ({ content: [{ type: 'text', text: `called ${request.params.name.slice(0, 20)}` }] }));
    server.setRequestHandler(ListResourcesRequestSchema, () => ({ resources: [{ uri: 'note://plain', name: 'plain' }] }));
    server.setRequestHandler(ListResourceTemplatesRequestSchema, () => ({ resourceTemplates: [{ uriTemplate: 'bomb://{a}{b}{c}{d}{e}{f}{g}{h}/end', name: 'bomb' }] }));
    server.setRequestHandler(ReadResourceRequestSchema, (request) => ({ contents: [{ uri: request.params.uri, text: 'read' }] }));
    return server;
  });
  served = await serveGateway({
    backends: [
      {
        name: 'files',
        prefix: 'files',
        transport: 'streamable-http',
        url: backend.url,
        tools: { deny: ['*read*write*'] },
        resources: { allow: ['note://*', 'file:///data/*/*/*.csv', 'file:///**/x/**/x/**/*.key', 'bomb://*'] },
      },
    ],
  });
  await until('the backend ready', () => served.gateway.view().backends.every((b) => b.state === 'ready'));
}, 120_000);

afterAll(async () => {
  await served?.close();
  await backend?.close();
});

it('answers a read whose URI the resource glob would backtrack over for minutes, and still serves the pod', async () => {
  const agent = await served.connect();
  const uri = `airlock+files+file:///data/${'/'.repeat(8_000)}x`;
  await expect(agent.client.readResource({ uri })).rejects.toThrow(/not matched by any backend "files" resources allow glob/);
  expect(text(await agent.client.callTool({ name: 'files__ok', arguments: {} }))).toBe('called ok');
});

it('answers a read that a glob written with ** would backtrack over (no lookahead keeps the linear engine away)', async () => {
  const agent = await served.connect();
  // picomatch wrote ** with lookaheads: this took 37 s at 1,000 segments, minutes at 2,000.
  const uri = `airlock+files+file:///${'x/'.repeat(2_000)}z`;
  await expect(agent.client.readResource({ uri })).rejects.toThrow(/not matched by any backend "files" resources allow glob/);
});

it('refuses a resource URI longer than 8,192 characters before any pattern sees it, on read, subscribe and completion', async () => {
  const agent = await served.connect();
  const uri = `airlock+files+file:///data/${'/'.repeat(200_000)}x`;
  await expect(agent.client.readResource({ uri })).rejects.toThrow(/resource URI is 200[0-9,]+ characters long; at most 8,192 are accepted/);
  await expect(agent.client.subscribeResource({ uri })).rejects.toThrow(/at most 8,192 are accepted/);
  await expect(agent.client.complete({ ref: { type: 'ref/resource', uri }, argument: { name: 'a', value: 'x' } })).rejects.toThrow(/at most 8,192 are accepted/);
});

it('answers a read that does not fit a template of adjacent variables the backend listed', async () => {
  const agent = await served.connect();
  // Eight variables share 8,000 characters in C(8000, 7) ways before the regex gives up.
  const uri = `airlock+files+bomb://${'a'.repeat(8_000)}/not-the-end`;
  const read = await agent.client.readResource({ uri });
  expect(read.contents[0]?.uri).toBe(uri);
});

it('denies a listed name longer than 1,024 characters without matching it against the globs', () => {
  const tools = served.gateway.view().tools;
  const huge = tools.find((t) => t.name === HUGE_NAME);
  expect(huge).toMatchObject({ state: 'denied', reason: 'its name is 300,000 characters long; names of at most 1,024 are served' });
  expect(tools.find((t) => t.name === 'ok')).toMatchObject({ state: 'approved', prefixedName: 'files__ok' });
});
