/** `GET /usage/<namespace>/<name>?instance=<id>` on the operator's health port: a sandbox's totals for its sidecars (ADR 0014). */
import type { FastifyInstance } from 'fastify';
import { utcDay } from '@airlock/sidecar/usage';
import { z } from 'zod';
import type { AgentSandbox } from '../api/index.js';
import { reportFor } from './report.js';

const Params = z.object({ namespace: z.string().min(1).max(253), name: z.string().min(1).max(253) });
const Query = z.object({ instance: z.string().max(64).optional() });

/** Registers the route; `lookup` reads the sandbox from the informer cache (every replica can answer). */
export function usageRoute(app: FastifyInstance, lookup: (namespace: string, name: string) => AgentSandbox | undefined): void {
  app.get('/usage/:namespace/:name', async (request, reply) => {
    const params = Params.safeParse(request.params);
    const query = Query.safeParse(request.query);
    if (!params.success || !query.success) return reply.code(400).send({ error: 'expected /usage/<namespace>/<name>?instance=<id>' });
    const sandbox = lookup(params.data.namespace, params.data.name);
    if (!sandbox) return reply.code(404).send({ error: `no AgentSandbox ${params.data.namespace}/${params.data.name}` });
    return reportFor(sandbox.status?.usage, utcDay(Date.now()), query.data.instance);
  });
}
