/** `GET /usage/<namespace>/<name>?instance=<id>` on the operator's health port: a sandbox's totals for its sidecars (ADR 0014). */
import type { ServerResponse } from 'node:http';
import { JSON_UTF8, queryObject, writeJson, type ErrorHandler, type HttpApp, type HttpRequest } from '@airlock/sidecar/http';
import { utcDay } from '@airlock/sidecar/usage';
import { z } from 'zod';
import type { AgentSandbox } from '../api/index.js';
import { reportFor } from './report.js';

const Params = z.object({ namespace: z.string().min(1).max(253), name: z.string().min(1).max(253) });
const Query = z.object({ instance: z.string().max(64).optional() });

/** Registers the route; `lookup` reads the sandbox from the informer cache (every replica can answer). */
export function usageRoute(app: HttpApp, lookup: (namespace: string, name: string) => AgentSandbox | undefined, onError: ErrorHandler): void {
  const route = (request: HttpRequest, res: ServerResponse) => {
    const params = Params.safeParse(request.params);
    const query = Query.safeParse(queryObject(request.query));
    if (!params.success || !query.success) return writeJson(res, 400, { error: 'expected /usage/<namespace>/<name>?instance=<id>' }, JSON_UTF8);
    const sandbox = lookup(params.data.namespace, params.data.name);
    if (!sandbox) return writeJson(res, 404, { error: `no AgentSandbox ${params.data.namespace}/${params.data.name}` }, JSON_UTF8);
    return reportFor(sandbox.status?.usage, utcDay(Date.now()), query.data.instance);
  };
  app.router.add('GET', '/usage/:namespace/:name', route, { onError, body: false });
}
