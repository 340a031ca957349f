/**
 * How well search_tools finds the tool a request means, measured through the gateway socket with
 * the MCP SDK client over four backends of different domains: server-everything and
 * server-filesystem from npm (stdio), and the recorded tool lists of the published GitHub and
 * Slack MCP servers (fixtures/catalogs, served by a stdio fixture). Queries come in two sets:
 * keyword queries reuse words of the tool's name or description; paraphrase queries say what a
 * user wants in their own words (folder for directory, PR for pull request, "shrink" for gzip).
 * The test reports top-1 and top-3 per set and asserts the quality floor: top-3 ≥ 0.9 for
 * keywords, ≥ 0.75 for paraphrases. A third set of paraphrases, written after the vocabulary was
 * tuned and never tuned on, is reported separately.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureServer, npmServer, serveGateway, until, type ServedGateway, type TestClient } from './harness.js';

const catalog = (name: string) => {
  const server = fixtureServer('catalog-server.ts');
  return { ...server, args: [...server.args, fileURLToPath(new URL(`./fixtures/catalogs/${name}.json`, import.meta.url))] };
};

/** A query and the tools that answer it (any of them counts). */
type Case = [query: string, ...wanted: string[]];

const KEYWORD: Case[] = [
  ['echo the input string', 'ev__echo'],
  ['sum of two numbers', 'ev__get-sum'],
  ['tiny image logo', 'ev__get-tiny-image'],
  ['print environment variables', 'ev__get-env'],
  ['gzip compress a file', 'ev__gzip-file-as-resource'],
  ['long running operation with progress', 'ev__trigger-long-running-operation'],
  ['read text file', 'fs__read_text_file', 'fs__read_file'],
  ['write file content', 'fs__write_file'],
  ['create directory', 'fs__create_directory'],
  ['list directory', 'fs__list_directory', 'fs__list_directory_with_sizes'],
  ['directory tree', 'fs__directory_tree'],
  ['move or rename a file', 'fs__move_file'],
  ['search files matching a pattern', 'fs__search_files'],
  ['file info metadata', 'fs__get_file_info'],
  ['edit file lines', 'fs__edit_file'],
  ['create issue in a github repository', 'gh__create_issue'],
  ['merge pull request', 'gh__merge_pull_request'],
  ['fork repository', 'gh__fork_repository'],
  ['list commits of a branch', 'gh__list_commits'],
  ['search code', 'gh__search_code'],
  ['add issue comment', 'gh__add_issue_comment'],
  ['pull request review comments', 'gh__get_pull_request_comments'],
  ['post message to slack channel', 'slack__slack_post_message'],
  ['reply to thread', 'slack__slack_reply_to_thread'],
  ['add reaction emoji', 'slack__slack_add_reaction'],
  ['user profile', 'slack__slack_get_user_profile'],
  ['channel history messages', 'slack__slack_get_channel_history'],
  ['list channels', 'slack__slack_list_channels'],
];

const PARAPHRASE: Case[] = [
  ['repeat back what I say', 'ev__echo'],
  ['add 17 and 25 together', 'ev__get-sum'],
  ['shrink this data so it takes less space', 'ev__gzip-file-as-resource'],
  ['open notes.txt and show me what it says', 'fs__read_text_file', 'fs__read_file'],
  ['save this text to disk as report.md', 'fs__write_file'],
  ['make a new folder called build', 'fs__create_directory'],
  ["what's inside the src folder", 'fs__list_directory', 'fs__list_directory_with_sizes', 'fs__directory_tree'],
  ['which documents in this folder are the biggest', 'fs__list_directory_with_sizes'],
  ['rename report.txt to final.txt', 'fs__move_file'],
  ['find all the markdown documents under docs', 'fs__search_files'],
  ['when was this document last changed and how large is it', 'fs__get_file_info'],
  ['replace a line in config.yaml', 'fs__edit_file'],
  ['look at several documents at once', 'fs__read_multiple_files'],
  ['which folders am I permitted to touch', 'fs__list_allowed_directories'],
  ['report a bug in the acme/widgets project', 'gh__create_issue'],
  ['open a PR from my feature branch', 'gh__create_pull_request'],
  ["make my own copy of someone else's repo", 'gh__fork_repository'],
  ['approve the changes in PR 12', 'gh__create_pull_request_review'],
  ['have the CI checks passed on PR 7', 'gh__get_pull_request_status'],
  ['close ticket 42', 'gh__update_issue'],
  ['find developers named alice', 'gh__search_users'],
  ['start a brand new project repo on github', 'gh__create_repository'],
  ['which files did PR 9 touch', 'gh__get_pull_request_files'],
  ['tell the team in #general that the deploy is done', 'slack__slack_post_message'],
  ['react with a thumbs up to that message', 'slack__slack_add_reaction'],
  ['who is in our slack workspace', 'slack__slack_get_users'],
  ['what have people been saying in #random lately', 'slack__slack_get_channel_history'],
  ['show the conversation under that message', 'slack__slack_get_thread_replies'],
];

/**
 * Paraphrases written after the search vocabulary was tuned on PARAPHRASE and never tuned on:
 * they show how far the vocabulary carries beyond the requests it was written against.
 */
const HELD_OUT: Case[] = [
  ['duplicate what I typed', 'ev__echo'],
  ['compute 3 + 4', 'ev__get-sum'],
  ['give me a small picture', 'ev__get-tiny-image'],
  ['dump the process environment', 'ev__get-env'],
  ['show the first 10 lines of server.log', 'fs__read_text_file', 'fs__read_file'],
  ['put this content into a new notes file', 'fs__write_file'],
  ['show a nested outline of the project folders', 'fs__directory_tree'],
  ['relocate old.csv into the archive folder', 'fs__move_file'],
  ['how old is this file and who may change it', 'fs__get_file_info'],
  ['apply a small change to a line of main.py', 'fs__edit_file'],
  ['file a new ticket about the crash', 'gh__create_issue'],
  ['leave a note on issue 5', 'gh__add_issue_comment'],
  ['land PR 31 into main', 'gh__merge_pull_request'],
  ['which code changes went into main this week', 'gh__list_commits'],
  ['who reviewed pull request 4', 'gh__get_pull_request_reviews'],
  ['upload several files to the repo in one commit', 'gh__push_files'],
  ['say hello in the #team channel', 'slack__slack_post_message'],
  ['answer inside that thread', 'slack__slack_reply_to_thread'],
  ['what channels exist in the workspace', 'slack__slack_list_channels'],
  ['look up the profile of member U123', 'slack__slack_get_user_profile'],
];

let served: ServedGateway;
let agent: TestClient;
let files: string;

beforeAll(async () => {
  files = await mkdtemp(join(tmpdir(), 'airlock-search-'));
  served = await serveGateway({
    backends: [
      { name: 'everything', prefix: 'ev', transport: 'stdio', stdio: npmServer('mcp-server-everything', 'stdio') },
      { name: 'files', prefix: 'fs', transport: 'stdio', stdio: npmServer('mcp-server-filesystem', files) },
      { name: 'github', prefix: 'gh', transport: 'stdio', stdio: catalog('github') },
      { name: 'slack', prefix: 'slack', transport: 'stdio', stdio: catalog('slack') },
    ],
    tools: { lazy: true },
  });
  await until('all four backends ready', () => served.gateway.view().backends.every((b) => b.state === 'ready'));
  agent = await served.connect();
});

afterAll(async () => {
  await served?.close();
  if (files) await rm(files, { recursive: true, force: true });
});

async function measure(cases: Case[]): Promise<{ top1: number; top3: number; misses: string[] }> {
  let top1 = 0;
  let top3 = 0;
  const misses: string[] = [];
  for (const [query, ...wanted] of cases) {
    const result = await agent.client.callTool({ name: 'search_tools', arguments: { query, limit: 3 } });
    const names = (result.structuredContent as { tools: { name: string }[] }).tools.map((t) => t.name);
    if (wanted.includes(names[0] ?? '')) top1++;
    if (names.some((n) => wanted.includes(n))) top3++;
    else misses.push(`${JSON.stringify(query)} → wanted ${wanted.join(' or ')}, got ${names.join(', ')}`);
  }
  return { top1: top1 / cases.length, top3: top3 / cases.length, misses };
}

describe('search_tools quality over four backends of different domains', () => {
  it('finds the intended tool in the top 3 for ≥ 90% of keyword queries and ≥ 75% of paraphrases', async () => {
    const tools = served.gateway.view().tools.filter((t) => t.state === 'approved');
    expect(tools.length).toBeGreaterThanOrEqual(60);
    // Every wanted tool exists: a renamed tool must fail the test, not lower a figure silently.
    for (const [, ...wanted] of [...KEYWORD, ...PARAPHRASE, ...HELD_OUT]) for (const name of wanted) expect(tools.map((t) => t.prefixedName)).toContain(name);
    const keyword = await measure(KEYWORD);
    const paraphrase = await measure(PARAPHRASE);
    const heldOut = await measure(HELD_OUT);
    console.log(
      `search_tools over ${tools.length} tools of 4 backends: ` +
        `keyword queries (${KEYWORD.length}): top-1 ${keyword.top1.toFixed(3)}, top-3 ${keyword.top3.toFixed(3)}; ` +
        `paraphrase queries (${PARAPHRASE.length}): top-1 ${paraphrase.top1.toFixed(3)}, top-3 ${paraphrase.top3.toFixed(3)}; ` +
        `held-out paraphrases (${HELD_OUT.length}): top-1 ${heldOut.top1.toFixed(3)}, top-3 ${heldOut.top3.toFixed(3)}`,
    );
    const misses = [...keyword.misses, ...paraphrase.misses, ...heldOut.misses];
    if (misses.length > 0) console.log(`misses:\n  ${misses.join('\n  ')}`);
    expect(keyword.top3).toBeGreaterThanOrEqual(0.9);
    expect(paraphrase.top3).toBeGreaterThanOrEqual(0.75);
    // The held-out set measures generalisation; a hand-written vocabulary carries only so far
    // (0.65 when it was written), so this floor guards against regressions, not the target.
    expect(heldOut.top3).toBeGreaterThanOrEqual(0.6);
  });
});
