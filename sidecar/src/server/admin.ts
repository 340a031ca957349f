/**
 * The admin app on its own TCP port: /metrics, /healthz, /readyz and, only when the config asks
 * for it, the MCP tool view. It serves no proxy API and nothing secret. Where it listens is the
 * config's choice: loopback by default, the pod's own address for the kubelet and a scraper.
 */
import { networkInterfaces } from 'node:os';
import fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from '../log/logger.js';
import { readiness, rejectedProviders, type McpHandler } from './app.js';
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
 * The address the admin port binds: `pod` is the first non-loopback address of the pod's network
 * namespace (IPv4 first), loopback when there is none; anything else as given.
 */
export function adminHost(host: string): string {
  if (host !== 'pod') return host;
  const addresses = Object.values(networkInterfaces())
    .flatMap((list) => list ?? [])
    .filter((a) => !a.internal);
  return (addresses.find((a) => a.family === 'IPv4') ?? addresses[0])?.address ?? '127.0.0.1';
}

export async function buildAdmin(options: AdminOptions): Promise<FastifyInstance> {
  const app = fastify({ loggerInstance: options.log as FastifyBaseLogger, logController: new LogController({ disableRequestLogging: true }) });
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
