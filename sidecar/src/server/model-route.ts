/** The shape every model endpoint shares: parse the body, resolve the model, relay. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import type { AppOptions } from './app.js';
import { parseBody } from './body.js';
import { withAgentContext } from '../telemetry/model-call.js';
import { relay, type Operation, type ProxyDeps, type StreamChunk } from './proxy.js';
import type { SandboxScope } from '../relay/call.js';
import type { Runtime } from './runtime.js';

/**
 * Registers POST `path`: the body is parsed with `schema` (400 in the ingress's shape), its
 * model resolved (404), then `operation` is relayed with failover under the sandbox's limits.
 * `local` answers without a provider when none of the model's providers supports the operation
 * (a token count the sidecar estimates); without it that is a 400.
 */
export function modelRoute<S extends z.ZodType<{ model: string }>, C, K extends StreamChunk>(
  app: FastifyInstance,
  options: AppOptions,
  path: string,
  schema: S,
  operation: (body: z.output<S>, raw: Buffer, request: FastifyRequest) => Operation<C, K>,
  local?: (body: z.output<S>) => { body: unknown; headers?: Record<string, string> },
): void {
  // Not async, nor is relayModelCall: the call's promise is handed to fastify as it is, with no
  // frames of theirs held across the upstream round trip (bench/README.md "Round 5: saturation").
  // A bad body throws here, synchronously, and fastify sends it through the error handler.
  app.post(path, (request, reply) => {
    const body = parseBody(request.body, schema);
    return relayModelCall(options, request, reply, body.model, operation(body, request.body as Buffer, request), local && (() => local(body)));
  });
}

/**
 * Resolves `model` (404) and relays `op` with failover under the sandbox's limits, answering with
 * `local()` instead when none of the model's providers supports the operation.
 * @returns the relayed call, which writes the response itself; nothing when answered locally.
 * @throws {ModelNotFoundError} for a model no provider serves.
 */
export function relayModelCall<C, K extends StreamChunk>(
  options: AppOptions,
  request: FastifyRequest,
  reply: FastifyReply,
  model: string,
  op: Operation<C, K>,
  local?: () => { body: unknown; headers?: Record<string, string> },
): Promise<void> | undefined {
  const runtime = options.live.current;
  const candidates = runtime.catalog.candidates(model);
  if (local && !candidates.some((c) => op.supports(c.provider))) {
    const answer = local();
    reply.headers(answer.headers ?? {}).send(answer.body);
    return undefined;
  }
  reply.hijack();
  const { deps, sandbox } = scopeOf(options, runtime);
  return withAgentContext(request.headers, relay, op, candidates, reply.raw, deps, sandbox);
}

/** What the relay needs of the app and the runtime: the same for every call until a reload, so built once per runtime. */
interface Scope {
  options: AppOptions;
  deps: ProxyDeps;
  sandbox: SandboxScope;
}

const scopes = new WeakMap<Runtime, Scope>();

function scopeOf(options: AppOptions, runtime: Runtime): Scope {
  const cached = scopes.get(runtime);
  if (cached?.options === options) return cached;
  const scope: Scope = {
    options,
    deps: { log: options.log, metrics: options.metrics, secrets: options.secrets, captureContent: () => runtime.config.telemetry.captureMessageContent },
    sandbox: { name: runtime.config.sandbox.name, limiter: runtime.limiter, ledger: options.usage?.ledger },
  };
  scopes.set(runtime, scope);
  return scope;
}
