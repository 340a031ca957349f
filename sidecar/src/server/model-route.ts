/** The shape every model endpoint shares: parse the body, resolve the model, relay. */
import type { ServerResponse } from 'node:http';
import type * as z from '../zod.js';
import type { AppOptions } from './app.js';
import { JSON_UTF8 } from './http/app.js';
import { writeJson } from './http/reply.js';
import type { HttpRequest } from './http/router.js';
import type { Routes } from './routes.js';
import { parseBody } from './body.js';
import { withAgentContext } from '../telemetry/model-call.js';
import { relay, type Operation, type ProxyDeps, type StreamChunk } from './proxy.js';
import type { SandboxScope } from '../relay/call.js';
import type { Runtime } from './runtime.js';
import { PROVIDER_REACH, type ProviderReach } from '../config/schema.js';
import { reachRefused } from '../ingress/reach.js';
import { refuseRequestFields } from '../ingress/other-models.js';

/**
 * Registers POST `path`: the body is parsed with `schema` (400 in the ingress's shape), then
 * `operation` is relayed by {@link relayModelCall}.
 * `local` answers without a provider when none of the model's providers supports the operation
 * (a token count the sidecar estimates); without it that is a 400.
 */
export function modelRoute<S extends z.ZodMiniType<{ model: string }>, C, K extends StreamChunk>(
  routes: Routes,
  path: string,
  schema: S,
  operation: (body: z.output<S>, raw: Buffer, request: HttpRequest) => Operation<C, K>,
  local?: (body: z.output<S>) => { body: unknown; headers?: Record<string, string> },
): void {
  const options = routes.options;
  // Not async, nor is relayModelCall: the call's promise is handed to the app as it is, with no
  // frames of theirs held across the upstream round trip (bench/README.md "Round 5: saturation").
  // A bad body throws here, synchronously, and the app sends it through the error handler.
  routes.add('POST', path, (request, res) => {
    const body = parseBody(request.body, schema);
    return relayModelCall(options, request, res, body.model, body, operation(body, request.body as Buffer, request), local && (() => local(body)));
  });
}

/**
 * The one way every model call of every ingress goes to a provider: refuses what its request's
 * `fields` (the parsed body) or headers ask that the sandbox does not count (other models, a
 * dearer price tier: ingress/other-models.ts), resolves `model` (404) and relays `op` with failover
 * under the sandbox's limits, answering with `local()` instead when none of the model's providers
 * supports the operation.
 * @returns the relayed call, which writes the response itself; nothing when answered locally.
 * @throws {ModelNotFoundError} for a model no provider serves.
 * @throws {AdapterError} for a request that asks for other models or another price, or has the
 * provider reach what the sandbox does not allow.
 */
export function relayModelCall<C, K extends StreamChunk>(
  options: AppOptions,
  request: HttpRequest,
  res: ServerResponse,
  model: string,
  fields: object,
  op: Operation<C, K>,
  local?: () => { body: unknown; headers?: Record<string, string> },
): Promise<void> | undefined {
  refuseRequestFields(fields, model, request.headers);
  const runtime = options.live.current;
  const candidates = runtime.catalog.candidates(model);
  const scope = scopeOf(options, runtime);
  // What the provider would reach for the agent, refused unless the sandbox allows it; no walk of
  // the body when it allows all.
  if (op.reach && scope.reachable.size < PROVIDER_REACH.length) {
    const reach = op.reach(scope.reachable);
    if (reach) throw reachRefused(reach, runtime.config.sandbox.name);
  }
  if (local && !candidates.some((c) => op.supports(c.provider))) {
    const answer = local();
    writeJson(res, 200, answer.body, { ...JSON_UTF8, ...answer.headers });
    return undefined;
  }
  return withAgentContext(request.headers, relay, op, candidates, res, scope.deps, scope.sandbox);
}

/** What the relay needs of the app and the runtime: the same for every call until a reload, so built once per runtime. */
interface Scope {
  options: AppOptions;
  deps: ProxyDeps;
  sandbox: SandboxScope;
  /** What the sandbox lets its providers reach for the agent (models.providerReach). */
  reachable: ReadonlySet<ProviderReach>;
}

const scopes = new WeakMap<Runtime, Scope>();

function scopeOf(options: AppOptions, runtime: Runtime): Scope {
  const cached = scopes.get(runtime);
  if (cached?.options === options) return cached;
  const scope: Scope = {
    options,
    deps: { log: options.log, metrics: options.metrics, secrets: options.secrets, captureContent: () => runtime.config.telemetry.captureMessageContent },
    sandbox: { name: runtime.config.sandbox.name, limiter: runtime.limiter, ledger: options.usage?.ledger },
    reachable: new Set(runtime.config.models.providerReach),
  };
  scopes.set(runtime, scope);
  return scope;
}
