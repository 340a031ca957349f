/**
 * A stdio server's env value from a Secret that a process environment cannot carry: a binary key
 * (a keystore, a keytab, a DER key) or a token written with a stray NUL byte. Node's spawn()
 * refuses such a value with a message that quotes it (util.inspect's `'tok-…\x00…'`), which went
 * to the agent (tool-call errors), the admin view, the sidecar's log on every retry and the
 * airlock-tools container's log. Now the sidecar refuses the value by the entry's name, a failed
 * spawn is reported with a fixed reason in both processes, and the stdio host scrubs the secret
 * env values of the servers it runs from its own log.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../sidecar/src/log/logger.js';
import { REDACTED, SecretRegistry } from '../../../sidecar/src/log/redact.js';
import { openClient } from '../../../sidecar/src/mcp/transports.js';
import { startStdioHost } from '../../../sidecar/src/stdio-host/host.js';
import { HostedStdioTransport } from '../../../sidecar/src/stdio-host/transport.js';
import { fixtureServer, serveGateway, sidecarConfig, until, type ServedGateway } from './harness.js';
import { startHostProcess, type HostProcess } from './stdio-host.js';

const SECRET = 'tok-9f8e7d6c5b4a39281706f5e4d3c2b1a0';
const VALUE = `${SECRET}\0binary-tail`;
/** Any run of the secret's bytes, in any spelling a message might quote them in. */
const leaks = (text: string) => [SECRET.slice(4, 20), 'binary-tail', Buffer.from(SECRET).toString('base64').slice(0, 16)].filter((part) => text.includes(part));

let scratch: string;
let host: HostProcess;
const gateways: ServedGateway[] = [];

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'airlock-unfit-secret-'));
  await writeFile(join(scratch, 'token'), VALUE);
  host = await startHostProcess(join(scratch, 'stdio.sock'));
});

afterEach(async () => {
  await Promise.all(gateways.splice(0).map((g) => g.close()));
});

afterAll(async () => {
  await host?.stop();
  await rm(scratch, { recursive: true, force: true });
});

const backend = () => ({ name: 'tools', prefix: 'tools', transport: 'stdio' as const, stdio: { ...fixtureServer('env-server.ts'), env: [{ name: 'API_TOKEN', file: join(scratch, 'token') }] } });

describe('an env Secret with a NUL byte', () => {
  for (const hosted of [false, true]) {
    it(`reaches neither the agent, the admin view nor a log: the entry is named instead (${hosted ? 'through the stdio host' : 'a child of the sidecar'})`, async () => {
      const before = host.logs().length;
      const served = await serveGateway({ backends: [backend()] }, hosted ? { stdioHost: host.socketPath } : {});
      gateways.push(served);
      const view = () => served.gateway.view().backends.find((b) => b.name === 'tools');
      // Retried with backoff: a few failures, each logged.
      await until('a few failed attempts', () => (view()?.state === 'failed' && served.logs().split('MCP backend failed').length > 3 ? true : undefined));
      const lastError = view()?.lastError ?? '';
      expect(lastError).toBe(`backend "tools": env API_TOKEN from ${join(scratch, 'token')} holds a NUL byte, which a process environment cannot carry`);
      const agent = await served.connect();
      const call = await agent.client.callTool({ name: 'tools__env', arguments: {} }).then(
        (result) => JSON.stringify(result),
        (err: unknown) => String(err),
      );
      expect(call).toContain('env API_TOKEN');
      expect(leaks(call)).toEqual([]);
      expect(leaks(JSON.stringify(served.gateway.view()))).toEqual([]);
      // The harness's logger has no redaction: nothing to scrub was written in the first place.
      expect(served.logs()).toContain('holds a NUL byte');
      expect(leaks(served.logs())).toEqual([]);
      expect(leaks(host.logs().slice(before))).toEqual([]);
    });
  }
});

describe('a value spawn() refuses, reaching it anyway', () => {
  // What the sidecar's own check does not cover: a value given inline, or a host of another version.
  const secrets = { headers: {}, env: { API_TOKEN: VALUE }, secrets: [VALUE] };
  const open = (stdioHost?: string) => openClient(sidecarConfig({ backends: [backend()] }).mcp.backends[0]!, secrets, { timeoutMs: 10_000, stdioHost, prepare: () => undefined });
  const reason = `stdio server ${process.execPath} could not start: invalid argument or environment value (a NUL byte or a value that is not text)`;

  it('is reported by the sidecar with a fixed reason, not with Node\'s message quoting the value', async () => {
    const err = await open().catch((e: unknown) => e);
    expect((err as Error).message).toBe(`backend "tools": ${reason}`);
  });

  it('is reported by the stdio host with a fixed reason, to the sidecar and in its log', async () => {
    const before = host.logs().length;
    const err = await open(host.socketPath).catch((e: unknown) => e);
    expect((err as Error).message).toBe(reason);
    const logs = await until('the refusal in the host log', () => (host.logs().slice(before).includes('could not start') ? host.logs().slice(before) : undefined));
    expect(leaks(logs)).toEqual([]);
  });
});

describe('the stdio host', () => {
  it('scrubs the secret env values of a running server from its log, and forgets them once it ended', async () => {
    const secrets = new SecretRegistry();
    const lines: string[] = [];
    const logger = createLogger({ level: 'debug', component: 'airlock-tools', secrets, destination: new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) }) });
    const running = await startStdioHost({ socketPath: join(scratch, 'in-process.sock'), logger, secrets });
    try {
      const server = fixtureServer('env-server.ts');
      const transport = new HostedStdioTransport(running.socketPath, { ...server, env: { FIXTURE_TOKEN: SECRET, FIXTURE_MODE: 'plain-value' }, secretEnv: ['FIXTURE_TOKEN'] });
      await transport.start();
      expect(secrets.scrub(`token ${SECRET}`)).toBe(`token ${REDACTED}`);
      // Only the values named secret: an inline value is the config's, and stays readable.
      expect(secrets.scrub('mode plain-value')).toBe('mode plain-value');
      logger.info({ echoed: SECRET }, 'a line quoting the value');
      await transport.close();
      await until('the server ended', () => (running.children() === 0 ? true : undefined));
      await until('its values forgotten', () => (secrets.scrub(SECRET) === SECRET ? true : undefined));
      expect(lines.join('')).toContain(`"echoed":"${REDACTED}"`);
      expect(leaks(lines.join(''))).toEqual([]);
    } finally {
      await running.close();
    }
  });
});

