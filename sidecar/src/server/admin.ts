/**
 * The admin app on its own TCP port: /metrics, /healthz, /readyz and, only when the config asks
 * for it, the MCP tool view. It serves no proxy API and nothing secret. Where it listens is the
 * config's choice: loopback by default, every address of the pod for the kubelet, the operator
 * and a scraper.
 */
import fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from '../log/logger.js';
import { readiness, rejectedProviders, type McpHandler } from './app.js';
import { noSchemaCompilers } from './no-schemas.js';
import { kernelHasIPv6 } from '../firewall/apply.js';
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

export async function buildAdmin(options: AdminOptions): Promise<FastifyInstance> {
  const app = fastify({ loggerInstance: options.log as FastifyBaseLogger, logController: new LogController({ disableRequestLogging: true }), schemaController: noSchemaCompilers });
  app.get('/healthz', async () => ({ status: 'ok' }));
  if (options.usage) {
    const usage = options.usage;
    // Counts and spend only, like /metrics: what the operator sums into the sandbox's status,
    // plus the names of providers that refused every key (the operator shows it on the provider).
    app.get('/usage', async (): Promise<SidecarReport> => ({ ...usage.ledger.snapshot(), credentialsRejected: rejectedProviders(options.live) }));
  }
  app.get('/readyz', async (_request, reply) => readiness(options, reply));
  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', options.metrics.registry.contentType);
    return options.metrics.registry.metrics();
  });
  if (options.mcp && options.tools) {
    const mcp = options.mcp;
    app.get('/mcp/tools', async () => mcp.view());
  }
  return app;
}
