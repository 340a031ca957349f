/**
 * `GET /usage/<namespace>/<name>?instance=<id>` on the operator's health port: a sandbox's totals
 * for its own sidecars (ADR 0014), which prove they are by the sandbox's usage token
 * (`authorization: Bearer …`, usage/token.ts).
 */
import type { ServerResponse } from 'node:http';
import { JSON_UTF8, queryObject, writeJson, type ErrorHandler, type HttpApp, type HttpRequest } from '@airlock/sidecar/http';
import { utcDay } from '@airlock/sidecar/usage';
import { z } from 'zod';
import type { AgentSandbox } from '../api/index.js';
import { reportFor } from './report.js';
import { bearerMatches } from './token.js';

const Params = z.object({ namespace: z.string().min(1).max(253), name: z.string().min(1).max(253) });
const Query = z.object({ instance: z.string().max(64).optional() });

/** What the route reads, both from the informer caches (every replica can answer). */
export interface UsageSource {
  sandbox(namespace: string, name: string): AgentSandbox | undefined;
  /** The sandbox's usage token (from its credentials Secret), or undefined when it has none. */
  token(namespace: string, name: string): string | undefined;
  /** The sandbox's pods that share its limits now (usage/collector.ts sharesNow), which may be more than the last round counted. */
  sharing?(namespace: string, name: string): number;
}

/**
 * Registers the route. A caller without the sandbox's token gets 401 whether or not the sandbox
 * exists, so the answers tell it nothing about other tenants' sandboxes.
 */
export function usageRoute(app: HttpApp, source: UsageSource, onError: ErrorHandler): void {
  const route = (request: HttpRequest, res: ServerResponse) => {
    const params = Params.safeParse(request.params);
    const query = Query.safeParse(queryObject(request.query));
    if (!params.success || !query.success) return writeJson(res, 400, { error: 'expected /usage/<namespace>/<name>?instance=<id>' }, JSON_UTF8);
    const { namespace, name } = params.data;
    if (!bearerMatches(request.headers.authorization, source.token(namespace, name))) {
      return writeJson(res, 401, { error: `expected the usage token of AgentSandbox ${namespace}/${name} (authorization: Bearer, from its sidecar's credentials)` }, { ...JSON_UTF8, 'www-authenticate': 'Bearer' });
    }
    const sandbox = source.sandbox(namespace, name);
    if (!sandbox) return writeJson(res, 404, { error: `no AgentSandbox ${namespace}/${name}` }, JSON_UTF8);
    const report = reportFor(sandbox.status?.usage, utcDay(Date.now()), query.data.instance);
    // Pods started since the last round share too: told the last round's count, each of a burst
    // (a CronJob at midnight) took the share of a pod of that count (ver18: 4 pods, 32 calls on an
    // 8-call budget). The count only grows here; the next round tells the spend.
    const now = source.sharing?.(namespace, name) ?? 0;
    return now > report.pods ? { ...report, pods: now } : report;
  };
  app.router.add('GET', '/usage/:namespace/:name', route, { onError, body: false });
}
