/**
 * search_tools among 500 generated tools: 25 Streamable HTTP backends (one per imagined
 * service) with 20 tools each, searched through the gateway socket with agent-style queries
 * that paraphrase the tool descriptions. Reports precision at 3.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { serveGateway, until, type ServedGateway, type TestClient } from './harness.js';
import { startCatalogBackend } from './http-backends.js';
import { mulberry32 } from '../../../sidecar/src/providers/testing/golden.js';

const SERVICES: Record<string, { label: string; objects: string[] }> = {
  github: { label: 'GitHub', objects: ['issue', 'pull request', 'repository', 'branch', 'release'] },
  gitlab: { label: 'GitLab', objects: ['issue', 'merge request', 'pipeline', 'project', 'branch'] },
  jira: { label: 'Jira', objects: ['issue', 'sprint', 'board', 'comment', 'project'] },
  linear: { label: 'Linear', objects: ['issue', 'cycle', 'team', 'label', 'comment'] },
  slack: { label: 'Slack', objects: ['message', 'channel', 'user', 'reminder', 'file'] },
  gmail: { label: 'Gmail', objects: ['email', 'draft', 'label', 'thread', 'attachment'] },
  calendar: { label: 'Google Calendar', objects: ['event', 'calendar', 'attendee', 'reminder', 'meeting room'] },
  drive: { label: 'Google Drive', objects: ['file', 'folder', 'permission', 'comment', 'shared drive'] },
  dropbox: { label: 'Dropbox', objects: ['file', 'folder', 'shared link', 'team member', 'paper doc'] },
  s3: { label: 'Amazon S3', objects: ['bucket', 'object', 'bucket policy', 'lifecycle rule', 'presigned url'] },
  postgres: { label: 'PostgreSQL', objects: ['table', 'row', 'index', 'schema', 'database user'] },
  redis: { label: 'Redis', objects: ['key', 'hash', 'stream', 'sorted set', 'cache entry'] },
  stripe: { label: 'Stripe', objects: ['customer', 'payment', 'invoice', 'subscription', 'refund'] },
  shopify: { label: 'Shopify', objects: ['product', 'order', 'customer', 'inventory item', 'discount code'] },
  salesforce: { label: 'Salesforce', objects: ['lead', 'opportunity', 'account', 'contact', 'case'] },
  hubspot: { label: 'HubSpot', objects: ['contact', 'deal', 'company', 'ticket', 'email campaign'] },
  zendesk: { label: 'Zendesk', objects: ['ticket', 'user', 'organization', 'macro', 'article'] },
  twilio: { label: 'Twilio', objects: ['sms message', 'phone number', 'call', 'conversation', 'verification'] },
  notion: { label: 'Notion', objects: ['page', 'database', 'block', 'comment', 'workspace member'] },
  confluence: { label: 'Confluence', objects: ['page', 'space', 'attachment', 'comment', 'blog post'] },
  sentry: { label: 'Sentry', objects: ['issue', 'event', 'release', 'alert rule', 'project'] },
  datadog: { label: 'Datadog', objects: ['monitor', 'dashboard', 'metric', 'log query', 'incident'] },
  kubernetes: { label: 'Kubernetes', objects: ['pod', 'deployment', 'service', 'config map', 'namespace'] },
  docker: { label: 'Docker', objects: ['container', 'image', 'volume', 'network', 'registry tag'] },
  weather: { label: 'Weather', objects: ['forecast', 'alert', 'station', 'observation', 'radar map'] },
};

const ACTIONS = ['create', 'list', 'get', 'update', 'delete', 'search'] as const;
type Action = (typeof ACTIONS)[number];

const snake = (s: string) => s.replace(/ /g, '_');
const plural = (s: string) => (/(s|sh|ch|x)$/.test(s) ? `${s}es` : /[^aeiou]y$/.test(s) ? `${s.slice(0, -1)}ies` : `${s}s`);

function describeTool(action: Action, o: string, s: string): { description: string; properties: Record<string, { type: string; description: string }> } {
  const id = { [`${snake(o)}_id`]: { type: 'string', description: `The ${o} id.` } };
  switch (action) {
    case 'create':
      return { description: `Create a new ${o} in ${s}. Returns the created ${o} with its id.`, properties: { name: { type: 'string', description: `Name of the ${o}.` }, body: { type: 'string', description: 'Content.' } } };
    case 'list':
      return { description: `List ${plural(o)} in ${s}, newest first, with pagination.`, properties: { limit: { type: 'integer', description: 'Page size.' }, cursor: { type: 'string', description: 'Page cursor.' } } };
    case 'get':
      return { description: `Get a single ${o} from ${s} by its id, with all its fields.`, properties: id };
    case 'update':
      return { description: `Update fields of an existing ${o} in ${s}.`, properties: { ...id, fields: { type: 'object', description: 'Fields to set.' } as never } };
    case 'delete':
      return { description: `Delete a ${o} from ${s}. This cannot be undone.`, properties: id };
    case 'search':
      return { description: `Search ${s} ${plural(o)} by a free-text query and filters.`, properties: { query: { type: 'string', description: 'Free text.' }, limit: { type: 'integer', description: 'Max results.' } } };
  }
}

/**
 * Agent-style requests; they share some words with the descriptions and paraphrase others. The
 * last one or two per action ("set up", "register", "what exist", "give me every", "inspect",
 * "patch", "get rid of", "purge", "locate") used verbs outside the search vocabulary when this
 * test was written; search-quality.test.ts measures paraphrases on real servers' tools.
 */
const QUERIES: Record<Action, ((o: string, s: string) => string)[]> = {
  create: [(o, s) => `open a new ${s} ${o}`, (o, s) => `create ${o} on ${s}`, (o, s) => `add a ${o} to ${s}`, (o, s) => `set up a ${o} in ${s}`, (o, s) => `register a ${s} ${o}`],
  list: [(o, s) => `show all ${s} ${plural(o)}`, (o, s) => `list recent ${plural(o)} in ${s}`, (o, s) => `what ${plural(o)} exist in ${s}`, (o, s) => `give me every ${s} ${o}`],
  get: [(o, s) => `fetch details of one ${s} ${o} by id`, (o, s) => `look up a ${o} in ${s}`, (o, s) => `inspect a specific ${s} ${o}`],
  update: [(o, s) => `change an existing ${s} ${o}`, (o, s) => `edit the fields of a ${o} in ${s}`, (o, s) => `patch a ${o} in ${s}`],
  delete: [(o, s) => `remove a ${o} from ${s} permanently`, (o, s) => `delete ${s} ${o}`, (o, s) => `get rid of a ${s} ${o}`, (o, s) => `purge ${o} in ${s}`],
  search: [(o, s) => `find ${s} ${plural(o)} matching some text`, (o, s) => `search for a ${o} in ${s}`, (o, s) => `locate ${plural(o)} in ${s} by keyword`],
};

interface Target {
  name: string;
  query: string;
}

/** 20 tools per service: each object gets 4 of the 6 actions, rotating. */
function generate(): { byService: Map<string, Tool[]>; targets: Target[] } {
  const byService = new Map<string, Tool[]>();
  const all: { prefixed: string; action: Action; o: string; s: string }[] = [];
  for (const [prefix, { label, objects }] of Object.entries(SERVICES)) {
    const tools: Tool[] = [];
    objects.forEach((o, j) => {
      for (let k = 0; k < 4; k++) {
        const action = ACTIONS[(j + k) % ACTIONS.length]!;
        const { description, properties } = describeTool(action, o, label);
        const name = `${action}_${snake(o)}`;
        tools.push({ name, description, inputSchema: { type: 'object', properties } });
        all.push({ prefixed: `${prefix}__${name}`, action, o, s: label });
      }
    });
    byService.set(prefix, tools);
  }
  // 100 targets drawn with a seeded generator, so the run is repeatable; a random template each.
  const random = mulberry32(20250326);
  const targets = all
    .map((t) => ({ t, key: random() }))
    .sort((a, b) => a.key - b.key)
    .slice(0, 100)
    .map(({ t }) => {
      const templates = QUERIES[t.action];
      return { name: t.prefixed, query: templates[Math.floor(random() * templates.length)]!(t.o, t.s) };
    });
  return { byService, targets };
}

const { byService, targets } = generate();
let served: ServedGateway;
let agent: TestClient;
const backends: { close(): Promise<void> }[] = [];

beforeAll(async () => {
  const configs = [];
  for (const [prefix, tools] of byService) {
    const backend = await startCatalogBackend(tools);
    backends.push(backend);
    configs.push({ name: prefix, prefix, transport: 'streamable-http' as const, url: backend.url });
  }
  served = await serveGateway({ backends: configs, tools: { lazy: true } });
  await until('all 25 backends ready', () => served.gateway.view().backends.every((b) => b.state === 'ready'));
  agent = await served.connect();
});

afterAll(async () => {
  await served?.close();
  await Promise.all(backends.map((b) => b.close()));
});

describe('search_tools over 500 tools', () => {
  it('finds the intended tool in the top 3 for most agent-style queries', async () => {
    expect(served.gateway.view().tools).toHaveLength(500);
    let hitsAt1 = 0;
    let hitsAt3 = 0;
    let reciprocalRanks = 0;
    const misses: string[] = [];
    for (const target of targets) {
      const result = await agent.client.callTool({ name: 'search_tools', arguments: { query: target.query, limit: 10 } });
      const names = (result.structuredContent as { tools: { name: string }[] }).tools.map((t) => t.name);
      const rank = names.indexOf(target.name) + 1;
      if (rank === 1) hitsAt1++;
      if (rank >= 1 && rank <= 3) hitsAt3++;
      else misses.push(`${JSON.stringify(target.query)} → wanted ${target.name}, got ${names.slice(0, 3).join(', ')}`);
      if (rank > 0) reciprocalRanks += 1 / rank;
    }
    const n = targets.length;
    const successAt3 = hitsAt3 / n;
    console.log(
      `search_tools over 500 tools, ${n} queries: precision@3 (share of queries with the intended tool in the top 3) = ${successAt3.toFixed(3)}; ` +
        `top-1 = ${(hitsAt1 / n).toFixed(3)}; MRR@10 = ${(reciprocalRanks / n).toFixed(3)}; ` +
        `strict P@3 (relevant results / 3 shown, at most 1/3) = ${(hitsAt3 / (3 * n)).toFixed(3)}`,
    );
    if (misses.length > 0) console.log(`misses:\n  ${misses.join('\n  ')}`);
    expect(successAt3).toBeGreaterThanOrEqual(0.8);
  });

  it('returns each match with its input schema, and call_tool reaches the match', async () => {
    const result = await agent.client.callTool({ name: 'search_tools', arguments: { query: 'create a stripe refund', limit: 3 } });
    const found = (result.structuredContent as { tools: { name: string; inputSchema: { properties?: object } }[] }).tools;
    expect(found.length).toBe(3);
    expect(found.map((t) => t.name)).toContain('stripe__create_refund');
    expect(found[0]?.inputSchema.properties).toBeDefined();
    const called = await agent.client.callTool({ name: 'call_tool', arguments: { name: 'stripe__create_refund', arguments: { name: 'r' } } });
    expect(called.content).toEqual([{ type: 'text', text: 'called create_refund' }]);
  });
});
