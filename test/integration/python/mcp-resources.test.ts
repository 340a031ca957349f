/**
 * Resource filters in front of a server on the official Python MCP SDK (PyPI `mcp`, the venv of
 * test/python/requirements.txt): it percent-decodes a template's values (`notes://docs/%73ecret`
 * is the `secret` note to it) and ignores a query parameter the template does not name
 * (`logs://billing?x=1` is `logs://billing`). The gateway judges every reading a server may make
 * of a URI, so the agent reads nothing a deny glob keeps from it by such a spelling.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { serveGateway, until, type ServedGateway, type TestClient } from '../mcp/harness.js';
import { PYTHON_DIR, venvPython } from '../../python/venv.js';
import { VENV_BUILD_TIMEOUT_MS } from './stack.js';

let served: ServedGateway;
let agent: TestClient;

beforeAll(async () => {
  const python = await venvPython();
  served = await serveGateway({
    backends: [
      {
        name: 'py',
        prefix: 'py',
        transport: 'stdio',
        stdio: { command: python, args: [join(PYTHON_DIR, 'resource_server.py')] },
        resources: { allow: ['*'], deny: ['notes://docs/secret', 'logs://billing', 'notes://docs/café'] },
      },
      {
        // The same server without any resource glob: it serves what it serves, however written.
        name: 'open',
        prefix: 'open',
        transport: 'stdio',
        stdio: { command: python, args: [join(PYTHON_DIR, 'resource_server.py')] },
      },
      {
        // The same server behind allow globs only (its two templates, as listed, and three URIs):
        // one with a query, one with an escape, one non-ASCII, as a person writes them.
        name: 'allowing',
        prefix: 'allowing',
        transport: 'stdio',
        stdio: { command: python, args: [join(PYTHON_DIR, 'resource_server.py')] },
        resources: { allow: ['logs://{service}*', 'notes://docs/{name}', 'logs://web?level=info', 'notes://docs/why%3F', 'notes://docs/naïve'] },
      },
    ],
  });
  await until('the Python server connected', () => served.gateway.view().backends.every((b) => b.state === 'ready'), 60_000);
  agent = await served.connect();
}, VENV_BUILD_TIMEOUT_MS);

afterAll(async () => {
  await served?.close();
});

const read = async (uri: string, prefix = 'py') => (await agent.client.readResource({ uri: `airlock+${prefix}+${uri}` })).contents[0] as { text?: string };

describe('resource filters before a Python SDK server', () => {
  it('serve what they allow (the control)', async () => {
    expect((await read('notes://docs/readme')).text).toBe('note readme');
    expect((await read('logs://web')).text).toBe('logs of web at info');
  });

  it.each(['notes://docs/secret', 'notes://docs/%73ecret', 'notes://docs/%73%65%63%72%65%74', 'notes://docs/%2573ecret', 'logs://billing', 'logs://%62illing', 'logs://billing?x=1', 'logs://billing?level=debug', 'logs://billing#top', 'notes://docs/caf%C3%A9', 'notes://docs/caf%c3%a9'])(
    'refuse %s, which the server reads as a denied resource',
    async (uri) => {
      await expect(read(uri)).rejects.toThrow(/is not available in this sandbox.*denied by backend "py" resources deny glob/);
    },
  );

  it('serve what an allow glob names with a query, an escape, or a name it reads decoded', async () => {
    expect((await read('logs://web?level=info', 'allowing')).text).toBe('logs of web at info');
    expect((await read('notes://docs/why%3F', 'allowing')).text).toBe('note why?');
    expect((await read('notes://docs/na%C3%AFve', 'allowing')).text).toBe('note naïve');
    await expect(read('logs://web?level=debug', 'allowing')).rejects.toThrow(/not matched by any backend "allowing" resources allow glob/);
  });

  it('serve any spelling the server takes when the backend has no resource glob', async () => {
    expect((await read('notes://docs/my note', 'open')).text).toBe('note my note');
    expect((await read('notes://docs/naïve', 'open')).text).toBe('note naïve');
  });
});
