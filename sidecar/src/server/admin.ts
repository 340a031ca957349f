/**
 * The admin app on its own TCP port: /metrics, /healthz, /readyz and, only when the config asks
 * for it, the MCP tool view. It serves no proxy API and nothing secret. Where it listens is the
 * config's choice: loopback by default, every address of the pod for the kubelet, the operator
 * and a scraper.
 */
import type { ServerResponse } from 'node:http';
import type { Logger } from '../log/logger.js';
import { rejectedProviders, sendReadiness, type McpHandler } from './app.js';
import { limitLocalConnections } from './http/connection-limit.js';
import { HttpApp, PLAIN_ANSWERS, plainError } from './http/app.js';
import type { HttpRequest } from './http/router.js';
import { kernelHasIPv6 } from '../firewall/ipv6.js';
import type { SidecarReport } from '../usage/wire.js';
import type { LiveConfig } from './live.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { SandboxUsage } from '../usage/sync.js';

export interface AdminOptions {
  live: LiveConfig;
  log: Logger;
  metrics: Metrics;
  mcp?: McpHandler & { view(): unknown };
  /** This pod's usage today, which the operator collects (ADR 0014). */
  usage?: SandboxUsage | undefined;
  /** Serve the MCP tool view at /mcp/tools (config listen.admin.tools). */
  tools?: boolean;
  /** Told of each `/usage` answer as its counts are taken, before it is sent (the shutdown waits for one). */
  onUsageRead?: (res: ServerResponse) => void;
}

/**
 * The address the admin port binds: `pod` is the wildcard of both families (`::`, dual-stack;
 * `0.0.0.0` when the kernel has no IPv6), anything else as given.
 *
 * Why every address and not the pod's first one: the operator (ADR 0014) and the kubelet dial
 * `status.podIP`, which is the IPv6 address on an IPv6-first dual-stack cluster. A sidecar bound
 * to one address leaves the port free on the others, and the agent (another UID in the same
 * network namespace) could listen there and answer the usage round with zero spend. Holding the
 * wildcard, no other UID can bind the port on any address of either family (the kernel refuses an
 * overlapping bind while a socket listens, SO_REUSEADDR or SO_REUSEPORT or not), and an address
 * the pod gains later is covered too. Loopback comes with it, which gives the agent nothing: it
 * already reaches the port on the pod's own address, through the same loopback route. The
 * firewall keeps a squatter from answering while the sidecar is down (`--admin-port`, ADR 0018).
 */
export function adminHost(host: string): string {
  if (host !== 'pod') return host;
  // The firewall's test too: without an IPv6 stack the kernel cannot open an IPv6 socket.
  return kernelHasIPv6() ? '::' : '0.0.0.0';
}

/**
 * The admin app. Its refusals keep the shape fastify gave them (`{message, error, statusCode}`),
 * which is what scrapers and the operator have seen; it reads no request body.
 */
export function buildAdmin(options: AdminOptions): HttpApp {
  const app = new HttpApp({ bodyLimit: 0, ...PLAIN_ANSWERS });
  // The agent reaches this port too: what it may hold of it is bounded, the probes' share is not.
  limitLocalConnections(app.server);
  const onError = plainError(options.log);
  const get = (path: string, handler: (request: HttpRequest, res: ServerResponse) => unknown) => app.router.add('GET', path, handler, { onError, body: false });
  get('/healthz', () => ({ status: 'ok' }));
  if (options.usage) {
    const usage = options.usage;
    // Counts and spend only, like /metrics: what the operator sums into the sandbox's status,
    // plus the names of providers that refused every key (the operator shows it on the provider).
    get('/usage', (_request, res): SidecarReport => {
      const report = { ...usage.ledger.snapshot(), credentialsRejected: rejectedProviders(options.live) };
      options.onUsageRead?.(res);
      return report;
    });
  }
  get('/readyz', (_request, res) => sendReadiness(options, res));
  get('/metrics', async (_request, res) => {
    const text = await options.metrics.registry.metrics();
    res.writeHead(200, { 'content-type': options.metrics.registry.contentType, 'content-length': Buffer.byteLength(text) }).end(text);
  });
  if (options.mcp && options.tools) {
    const mcp = options.mcp;
    get('/mcp/tools', () => mcp.view());
  }
  return app;
}
