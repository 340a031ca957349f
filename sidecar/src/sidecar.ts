/**
 * `airlock-sidecar run`: loads the config, starts the MCP gateway, and serves the agent API on
 * the Unix socket (and the loopback port when configured) and the admin API on its port.
 */
import type { ServerResponse } from 'node:http';
import { traceOfLine } from './telemetry/log-trace.js';
import type { DestinationStream } from 'pino';
import { createLogger, logDrops, type Logger } from './log/logger.js';
import { SecretRegistry } from './log/redact.js';
import { BodyBudget } from './server/body-budget.js';
import { adminHost, buildAdmin } from './server/admin.js';
import { build } from './server/app.js';
import type { HttpApp } from './server/http/app.js';
import { listenOnSocket } from './server/listen.js';
import { LiveConfig } from './server/live.js';
import { Metrics } from './telemetry/metrics.js';
import { startSidecarTracing } from './telemetry/sidecar-tracing.js';
import { SandboxUsage } from './usage/sync.js';
import { createLazyMcpGateway } from './mcp/lazy.js';
import { createModelTools } from './mcp/model-tools.js';

export interface SidecarOptions {
  configPath: string;
  /** Log destination; default stdout. */
  logDestination?: DestinationStream;
  /** The stdio host's socket (`AIRLOCK_STDIO_HOST`); see McpGatewayOptions.stdioHost. */
  stdioHost?: string | undefined;
}

/** A running sidecar. */
export interface Sidecar {
  log: Logger;
  live: LiveConfig;
  /** Admin port actually bound (useful when the config says 0). */
  adminPort: number;
  /** The address the admin port listens on. */
  adminAddress: string;
  socketPath: string;
  /** Model calls being answered now (streams included). */
  callsInFlight(): number;
  /**
   * What SIGTERM does first: stop taking model calls (the socket and loopback listeners close),
   * let those in flight end, then keep the admin port open until the operator has read `/usage`
   * once since, so what this pod spent after the operator's last round is counted in the
   * sandbox's status (ADR 0014). Waits at most {@link lastReadWaitMs}, and not at all without
   * `limits.sandboxUsage` (no operator reads it). Resolves true when the read came.
   */
  drain(): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * How long a stopping sidecar waits for the operator's last read: two of its rounds (the
 * operator's interval is the one the sidecar asks at) plus 5 s for a round's reads (2 s each at
 * most) and its status write. 15 s by default, within the pod's default grace period of 30 s,
 * which the app containers' own shutdown shares.
 */
export const lastReadWaitMs = (intervalMs: number): number => 2 * intervalMs + 5_000;

/** Starts the sidecar; rejects (with a ConfigError for a bad config) if it cannot serve. */
export async function startSidecar(options: SidecarOptions): Promise<Sidecar> {
  const secrets = new SecretRegistry();
  const log = createLogger({ level: 'info', secrets, context: traceOfLine, ...(options.logDestination ? { destination: options.logDestination } : {}) });
  const metrics = new Metrics();
  const live = new LiveConfig(options.configPath, { log, secrets, metrics });
  await live.start();
  const config = live.current.config;
  log.level = config.telemetry.logLevel;
  const tracing = await startSidecarTracing(
    config,
    secrets,
    (reason) => log.warn({ reason }, 'OTLP header file unreadable; exporting spans without it'),
    (record, message) => log.warn(record, message),
  );
  metrics.watchProviders(() => live.current.providers.map((p) => ({ name: p.config.name, breaker: p.breaker.state, keys: p.keys.states() })));

  const usage = new SandboxUsage({
    sandbox: config.sandbox.name,
    endpoint: () => live.current.config.limits.sandboxUsage,
    limiter: () => live.current.limiter,
    dailyBudgetUSD: () => live.current.config.limits.dailyBudgetUSD,
    log,
    secrets,
  });
  await usage.start();
  metrics.watchUsage(() => {
    const view = usage.view();
    return { sandbox: view.sandbox, spentTodayUSD: view.spentUSD, dailyBudgetUSD: view.dailyBudgetUSD ?? undefined };
  });
  // The model tools call through the same relay, scope and ledger as socket calls; the usage resource is GET /v1/usage.
  const modelTools = createModelTools({
    runtime: () => live.current,
    relay: { log, metrics, secrets, captureContent: () => live.current.config.telemetry.captureMessageContent },
    scope: () => ({ name: live.current.config.sandbox.name, limiter: live.current.limiter, ledger: usage.ledger }),
    usage: () => usage.view(),
  });
  // Always there, so a reload that adds the first backend has a home; its code loads only when
  // a backend is configured or /mcp is first called (see mcp/lazy.ts).
  const mcp = createLazyMcpGateway({ config, logger: log, secrets, metrics, stdioHost: options.stdioHost, builtins: modelTools.tools, builtinResources: modelTools.resources, answers: live.answers });
  live.onApply((next) => void mcp.reload(next));
  metrics.watchMcpBackends(() => mcp.backends());
  metrics.watchLog(() => logDrops(log));
  metrics.watchAnswers(() => live.answers.bytes);
  // With backends the gateway starts connecting now, as before: /readyz waits for their first attempts.
  if (config.mcp.backends.length > 0) await mcp.load();

  const bodies = new BodyBudget(config.listen.maxBodyBytesInFlight, config.listen.maxBodyBytes);
  const common = { live, log, metrics, secrets, mcp, usage, maxBodyBytes: config.listen.maxBodyBytes, stalledReaderMs: config.listen.stalledReaderMs, bodies };
  // The socket's and the loopback port's apps: the agent's calls.
  const servers: HttpApp[] = [];
  let admin: HttpApp | undefined;
  // Set while a stopping sidecar waits for the operator's read: resolves once an answer taken
  // from then on has been sent.
  let lastRead: (() => void) | undefined;
  /** A `/usage` answer taken while the shutdown waits ends the wait once it is sent. */
  const onUsageRead = (res: ServerResponse) => {
    if (lastRead) res.once('finish', lastRead);
  };
  let callsEnded: Promise<void> | undefined;
  /** Stops taking model calls and resolves once those in flight have ended (once, whoever asks first). */
  const endCalls = () =>
    (callsEnded ??= (async () => {
      // The gateway first: its open notification streams would otherwise hold the servers open.
      await mcp.close();
      await Promise.all(servers.map((s) => s.close()));
    })());
  try {
    // The admin port first, the socket after: when the agent holds the port (it can take it while
    // this container restarts) the bind fails before a single model call is served. The other way
    // round the agent's calls ran in a process whose /usage nobody could read and that exits on
    // EADDRINUSE: spend outside the sandbox's budget, each restart (ADR 0018).
    admin = buildAdmin({ live, log, metrics, mcp, usage, tools: config.listen.admin.tools, onUsageRead });
    await admin.listen({ host: adminHost(config.listen.admin.host), port: config.listen.admin.port });
    const { port: adminPort, address: adminAddress } = admin.address();
    // The loopback port before the socket too: an agent that holds it (while this container
    // restarts) would have the socket's calls served by a process that then exits on EADDRINUSE,
    // and would keep the port, and what the pod's other containers send there, for itself.
    if (config.listen.loopbackPort !== undefined) {
      const loopback = build({ ...common, loopbackPort: config.listen.loopbackPort });
      servers.push(loopback);
      await loopback.listen({ host: '127.0.0.1', port: config.listen.loopbackPort });
    }
    const socketApp = build(common);
    servers.push(socketApp);
    await listenOnSocket(socketApp, config.listen.socket.path, config.listen.socket.mode, config.listen.socket.group);
    log.info({ socket: config.listen.socket.path, loopbackPort: config.listen.loopbackPort, adminPort, configHash: live.status().configHash }, 'airlock sidecar ready');
    return {
      log,
      live,
      adminPort,
      adminAddress,
      socketPath: config.listen.socket.path,
      callsInFlight: () => metrics.inFlightCalls,
      async drain() {
        await endCalls();
        const endpoint = live.current.config.limits.sandboxUsage;
        if (!endpoint) return false;
        const waitMs = lastReadWaitMs(endpoint.intervalMs);
        log.info({ waitMs }, 'shutting down: waiting for the operator to read this pod\'s usage');
        const read = await new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => resolve(false), waitMs);
          lastRead = () => {
            clearTimeout(timer);
            resolve(true);
          };
        });
        lastRead = undefined;
        if (read) log.info('the operator has read this pod\'s last usage');
        else log.warn({ waitMs }, 'the operator did not read this pod\'s usage before shutdown: what it spent since the last read is not in the sandbox\'s status');
        return read;
      },
      async close() {
        usage.stop();
        await endCalls();
        await admin?.close();
        await live.close();
        await tracing.shutdown();
      },
    };
  } catch (err) {
    usage.stop();
    await mcp.close();
    await Promise.all([admin, ...servers].map((s) => s?.close().catch(() => undefined)));
    await live.close();
    await tracing.shutdown();
    throw err;
  }
}
