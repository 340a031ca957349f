/**
 * The MCP gateway, loaded when first needed. The gateway and the MCP SDK's server side are about
 * 15 MiB of resident memory and 150 ms of start-up on a quiet 2-core machine (measured: importing
 * `mcp/gateway.js` after the rest of the sidecar); a sandbox with no MCP backends that never
 * calls `/mcp` needs none of it. The gateway loads at start when the config names a backend,
 * when a reload adds the first one, on the first request to `/mcp`, and when the admin tool view
 * is asked for; until then it behaves as a gateway with no backends does (ready, no backends).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SidecarConfig } from '../config/index.js';
import type { McpBackendState } from '../telemetry/metrics.js';
import type { McpGateway, McpGatewayOptions, McpGatewayView } from './gateway.js';

/** A gateway that loads its code on first use; the same contract as {@link McpGateway}. */
export interface LazyMcpGateway extends Omit<McpGateway, 'view'> {
  /** The admin tool view; loads the gateway (the view lists the built-in tools with their hashes). */
  view(): Promise<McpGatewayView>;
  /** The backends' states for the metrics, without loading anything (none before the gateway loads). */
  backends(): readonly McpBackendState[];
  /** Resolves once the gateway is loaded; loads it. */
  load(): Promise<McpGateway>;
}

/** Creates the gateway lazily; loads it right away when `options.config` names a backend. */
export function createLazyMcpGateway(options: McpGatewayOptions, importGateway = () => import('./gateway.js')): LazyMcpGateway {
  let config: SidecarConfig = options.config;
  let loading: Promise<McpGateway> | undefined;
  let gateway: McpGateway | undefined;
  let closed = false;

  const load = (): Promise<McpGateway> =>
    (loading ??= importGateway().then(async ({ createMcpGateway }) => {
      // Created with the config as it is now: reloads before the load only updated `config`.
      gateway = createMcpGateway({ ...options, config });
      // Asked for after close (a request racing the shutdown): answer as a closed gateway does.
      if (closed) await gateway.close();
      return gateway;
    }));

  // Readiness as the always-created gateway had it: at start it waits for the first attempts of
  // the configured backends; a gateway without backends at start is ready at once and stays
  // ready when a reload adds backends or /mcp loads the code.
  const waitsForBackends = config.mcp.backends.length > 0;
  if (waitsForBackends) void load();

  return {
    load,
    async handle(req: IncomingMessage, res: ServerResponse, parsedBody?: unknown): Promise<void> {
      return (await load()).handle(req, res, parsedBody);
    },
    async reload(next: SidecarConfig): Promise<void> {
      config = next;
      if (gateway) return gateway.reload(next);
      if (loading) {
        // Loading with the config of its start; apply the newer one once it is there.
        const loaded = await loading;
        return loaded.reload(config);
      }
      if (next.mcp.backends.length > 0) await load();
    },
    async view(): Promise<McpGatewayView> {
      return (await load()).view();
    },
    backends(): readonly McpBackendState[] {
      return gateway?.view().backends ?? [];
    },
    ready(): boolean {
      if (closed) return false;
      return waitsForBackends ? (gateway?.ready() ?? false) : true;
    },
    async close(): Promise<void> {
      closed = true;
      if (loading) await (await loading).close();
    },
  };
}
