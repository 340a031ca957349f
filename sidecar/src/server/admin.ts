/**
 * The admin app on its own TCP port: /metrics, /healthz, /readyz and the MCP tool view. It
 * serves no proxy API and nothing secret, so it may listen beyond loopback for Prometheus.
 */
import fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from '../log/logger.js';
import { readiness, type McpHandler } from './app.js';
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
}

export async function buildAdmin(options: AdminOptions): Promise<FastifyInstance> {
  const app = fastify({ loggerInstance: options.log as FastifyBaseLogger, logController: new LogController({ disableRequestLogging: true }) });
  app.get('/healthz', async () => ({ status: 'ok' }));
  if (options.usage) {
    const usage = options.usage;
    // Counts and spend only, like /metrics: what the operator sums into the sandbox's status.
    app.get('/usage', async () => usage.ledger.snapshot());
  }
  app.get('/readyz', async (_request, reply) => readiness(options, reply));
  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', options.metrics.registry.contentType);
    return options.metrics.registry.metrics();
  });
  if (options.mcp) {
    const mcp = options.mcp;
    app.get('/mcp/tools', async () => mcp.view());
  }
  return app;
}
