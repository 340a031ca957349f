import { afterEach, describe, expect, it } from 'vitest';
import { SidecarConfig } from '../config/index.js';
import { createLogger } from '../log/logger.js';
import { SecretRegistry } from '../log/redact.js';
import { createLazyMcpGateway, type LazyMcpGateway } from './lazy.js';

const logger = createLogger({ level: 'silent', secrets: new SecretRegistry() });
const config = (backends: unknown[] = []) => SidecarConfig.parse({ version: 1, sandbox: { name: 'test' }, mcp: { backends } });
// Nothing listens on port 9 (discard) of loopback: the backend's first attempt fails at once.
const unreachable = { name: 'gone', prefix: 'gone', transport: 'streamable-http', url: 'http://127.0.0.1:9/mcp' };

let open: LazyMcpGateway[] = [];
afterEach(async () => {
  await Promise.all(open.map((g) => g.close()));
  open = [];
});

/** A lazy gateway whose loads are counted. */
function counted(initial: SidecarConfig) {
  const loads = { count: 0 };
  const gateway = createLazyMcpGateway({ config: initial, logger }, () => {
    loads.count += 1;
    return import('./gateway.js');
  });
  open.push(gateway);
  return { gateway, loads };
}

const until = async (check: () => boolean) => {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 10));
};

describe('the lazily loaded MCP gateway', () => {
  it('loads nothing for a config without backends, and is ready, with no backends', async () => {
    const { gateway, loads } = counted(config());
    await gateway.reload(config());
    expect(loads.count).toBe(0);
    expect(gateway.ready()).toBe(true);
    expect(gateway.backends()).toEqual([]);
  });

  it('loads once on first use and then answers as the gateway does', async () => {
    const { gateway, loads } = counted(config());
    const [first, second] = await Promise.all([gateway.view(), gateway.view()]);
    expect(loads.count).toBe(1);
    expect(first).toMatchObject({ backends: [], tools: [] });
    expect(second.sessions).toBe(0);
    expect(gateway.ready()).toBe(true);
  });

  it('loads at once when the config names a backend, and is not ready before its first attempt', async () => {
    const { gateway, loads } = counted(config([unreachable]));
    expect(loads.count).toBe(1);
    expect(gateway.ready()).toBe(false);
    await until(() => gateway.ready());
    expect(gateway.backends().map((b) => b.name)).toEqual(['gone']);
  });

  it('loads when a reload adds the first backend, with that config, and stays ready meanwhile', async () => {
    const { gateway, loads } = counted(config());
    const reloaded = gateway.reload(config([unreachable]));
    expect(gateway.ready()).toBe(true);
    await reloaded;
    expect(loads.count).toBe(1);
    expect(gateway.ready()).toBe(true);
    expect(gateway.backends().map((b) => b.name)).toEqual(['gone']);
  });

  it('is not ready once closed, even if it never loaded, and a late request meets a closed gateway', async () => {
    const { gateway } = counted(config());
    await gateway.close();
    expect(gateway.ready()).toBe(false);
    expect((await gateway.view()).ready).toBe(false);
  });
});
