/**
 * The sidecar's model tools on /mcp (opt-in: `mcp.modelTools.enabled`): `airlock__list_models`,
 * `airlock__generate`, `airlock__compare_models`, and the usage resource `airlock+airlock:usage`.
 *
 * A generate is one chat call through the same relay as a socket call (`runCall`): the same
 * candidates, failover, provider and sandbox limits, budget, accounting, metrics and spans. Only
 * the client differs: an in-memory sink instead of an HTTP response, which also hears what the
 * call cost. Refusals (a limit, the budget, an unknown model, every provider failing) come back
 * as tool results with `isError`, so the model reads why and can change course.
 */
import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js';
import * as z from '../zod.js';
import type { SidecarConfig } from '../config/index.js';
import { runCall, type RelayDeps, type SandboxScope } from '../relay/call.js';
import type { CallSpend, ClientSink } from '../relay/sink.js';
import { ModelNotFoundError } from '../router/models.js';
import { chatOperation } from '../server/operations.js';
import { openAIIngress } from '../server/openai-routes.js';
import type { Runtime } from '../server/runtime.js';
import { ChatRequest, type ChatCompletion } from '../wire/openai.js';
import { invalidMessage, toolError, type BuiltinResource, type BuiltinTool } from './builtin-tools.js';

/** What the model tools need from the sidecar. */
export interface ModelToolsDeps {
  /** The runtime in use; a reload swaps it, and each call takes the current one. */
  runtime(): Runtime;
  relay: RelayDeps;
  /** The sandbox a call runs in: the same scope socket calls get (name, limits, usage ledger). */
  scope(): SandboxScope;
  /** The sandbox's usage, as the usage resource shows it. */
  usage(): unknown;
}

const LIST_MODELS = 'list_models';
const GENERATE = 'generate';
const COMPARE_MODELS = 'compare_models';
/** The usage resource, before wrapping (clients see `airlock+airlock:usage`). */
export const USAGE_RESOURCE = 'usage';

const enabled = (config: SidecarConfig) => config.mcp.modelTools.enabled;

const text = () => z.string().check(z.minLength(1), z.maxLength(1_000_000));
const modelName = () => z.string().check(z.minLength(1), z.maxLength(256));
const promptFields = {
  prompt: text(),
  system: z.optional(text()),
  maxTokens: z.optional(z.int().check(z.minimum(1), z.maximum(1_000_000))),
  temperature: z.optional(z.number().check(z.minimum(0), z.maximum(2))),
};
const GenerateArgs = z.object({ model: modelName(), ...promptFields });
const compareArgs = (max: number) =>
  z.object({
    models: z.array(modelName()).check(
      z.minLength(2),
      z.maxLength(max),
      z.refine((m) => new Set(m).size === m.length, { message: 'models must be different' }),
    ),
    ...promptFields,
  });
type PromptArgs = z.infer<z.ZodMiniObject<typeof promptFields>>;

const promptSchema = {
  prompt: { type: 'string', description: 'The user message.' },
  system: { type: 'string', description: 'An optional system message.' },
  maxTokens: { type: 'integer', minimum: 1, description: 'Most tokens to generate.' },
  temperature: { type: 'number', minimum: 0, maximum: 2, description: 'Sampling temperature.' },
} as const;

const listModelsDefinition: Tool = {
  name: LIST_MODELS,
  title: 'List models',
  description: 'List the models this sandbox may call (served names and aliases) with their providers, context window and prices in USD per million tokens.',
  inputSchema: { type: 'object', properties: {} },
  annotations: { readOnlyHint: true, openWorldHint: false },
};

const generateDefinition: Tool = {
  name: GENERATE,
  title: 'Generate with a model',
  description:
    'Send one prompt to one model of this sandbox and get its answer with the model and provider that answered, tokens, cost in USD and latency. ' +
    'Goes through the sandbox router: failover, rate limits and the daily budget apply.',
  inputSchema: { type: 'object', properties: { model: { type: 'string', description: 'A model name or alias from list_models.' }, ...promptSchema }, required: ['model', 'prompt'] },
  annotations: { readOnlyHint: true, idempotentHint: false, openWorldHint: true },
};

const compareDefinition = (max: number): Tool => ({
  name: COMPARE_MODELS,
  title: 'Compare models',
  description:
    'Send the same prompt to several models of this sandbox in parallel and get each answer with its latency, tokens and cost in USD; ' +
    'a model that fails is reported with its error, the others still answer. Each model call counts against the sandbox limits and budget.',
  inputSchema: {
    type: 'object',
    properties: { models: { type: 'array', items: { type: 'string' }, minItems: 2, maxItems: max, uniqueItems: true, description: 'Model names or aliases from list_models.' }, ...promptSchema },
    required: ['models', 'prompt'],
  },
  annotations: { readOnlyHint: true, idempotentHint: false, openWorldHint: true },
});

/** One model's answer, as generate and compare_models report it. */
export type ModelAnswer =
  | {
      model: string;
      ok: true;
      text: string;
      /** The provider and model entry (alias resolved) that answered, after any failover. */
      provider: string;
      resolvedModel: string;
      finishReason: string | null;
      usage: { inputTokens: number; outputTokens: number; estimated?: true };
      costUSD: number;
      latencyMs: number;
    }
  | { model: string; ok: false; status: number; error: string; latencyMs: number };

/** The model tools and the usage resource, for `createMcpGateway({ builtins, builtinResources })`. */
export function createModelTools(deps: ModelToolsDeps): { tools: BuiltinTool[]; resources: BuiltinResource[] } {
  const maxCompare = () => deps.runtime().config.mcp.modelTools.maxCompareModels;
  const tools: BuiltinTool[] = [
    { definition: listModelsDefinition, enabled, run: () => result({ models: listModels(deps.runtime()) }) },
    {
      definition: generateDefinition,
      enabled,
      async run(args, extra) {
        const parsed = GenerateArgs.safeParse(args ?? {});
        if (!parsed.success) return toolError(invalidMessage(GENERATE, parsed.error));
        const answer = await generate(deps, parsed.data.model, parsed.data, extra.signal);
        if (!answer.ok) return toolError(`model ${JSON.stringify(answer.model)} did not answer (${answer.status}): ${answer.error}`);
        return result(answer);
      },
    },
    {
      // The definition states the limit of the config at startup; the call checks the current one.
      get definition() {
        return compareDefinition(maxCompare());
      },
      enabled,
      async run(args, extra) {
        const parsed = compareArgs(maxCompare()).safeParse(args ?? {});
        if (!parsed.success) return toolError(invalidMessage(COMPARE_MODELS, parsed.error));
        const results = await Promise.all(parsed.data.models.map((model) => generate(deps, model, parsed.data, extra.signal)));
        return result({ results });
      },
    },
  ];
  const resources: BuiltinResource[] = [
    {
      definition: {
        uri: USAGE_RESOURCE,
        name: 'usage',
        title: 'Sandbox usage',
        description: "This sandbox's usage today (spend, budget left, requests, tokens, by model), as GET /v1/usage on the socket shows it, so an agent can pace itself.",
        mimeType: 'application/json',
      },
      enabled,
      read: (uri) => ({ contents: [{ uri, mimeType: 'application/json', text: JSON.stringify(deps.usage()) }] }),
    },
  ];
  return { tools, resources };
}

/** Every model the sandbox may request, with what its primary provider's entry says of it. */
export function listModels(runtime: Runtime) {
  const { catalog, config } = runtime;
  return catalog.list().map(({ id }) => {
    // No randomness: the primary is the first of the lowest priority with weight.
    const candidates = catalog.candidates(id, () => 0);
    const primary = candidates[0]!.model;
    const aliasOf = config.models.aliases[id];
    return {
      id,
      ...(aliasOf !== undefined ? { aliasOf } : {}),
      providers: [...new Set(candidates.map((c) => c.provider.config.name))],
      ...(primary.contextWindow !== undefined ? { contextWindow: primary.contextWindow } : {}),
      ...(primary.inputCostPerMTok !== undefined ? { inputCostPerMTok: primary.inputCostPerMTok } : {}),
      ...(primary.outputCostPerMTok !== undefined ? { outputCostPerMTok: primary.outputCostPerMTok } : {}),
    };
  });
}

/** One chat call through the relay, as a socket call would make it. */
async function generate(deps: ModelToolsDeps, model: string, args: PromptArgs, signal: AbortSignal): Promise<ModelAnswer> {
  const started = performance.now();
  const latencyMs = () => Math.round(performance.now() - started);
  const runtime = deps.runtime();
  let candidates;
  try {
    candidates = runtime.catalog.candidates(model);
  } catch (err) {
    if (err instanceof ModelNotFoundError) return { model, ok: false, status: 404, error: `${err.message}; see list_models`, latencyMs: latencyMs() };
    throw err;
  }
  const request = ChatRequest.parse({
    model,
    messages: [...(args.system ? [{ role: 'system', content: args.system }] : []), { role: 'user', content: args.prompt }],
    ...(args.maxTokens !== undefined ? { max_tokens: args.maxTokens } : {}),
    ...(args.temperature !== undefined ? { temperature: args.temperature } : {}),
  });
  const sink = memorySink(signal);
  await runCall(chatOperation(openAIIngress, request, undefined), candidates, sink.client, deps.relay, deps.scope());
  const answer = sink.answer();
  // Cancelled by the client: thrown, so the audit records the call as cancelled and no result is sent.
  signal.throwIfAborted();
  if (!answer) return { model, ok: false, status: 499, error: 'the call ended without an answer', latencyMs: latencyMs() };
  if (answer.status !== 200) {
    const message = (answer.body as { error?: { message?: unknown } }).error?.message;
    return { model, ok: false, status: answer.status, error: typeof message === 'string' ? message : 'the call failed', latencyMs: latencyMs() };
  }
  const completion = answer.body as ChatCompletion;
  const choice = completion.choices[0];
  const spend = sink.spend();
  return {
    model,
    ok: true,
    text: typeof choice?.message.content === 'string' ? choice.message.content : '',
    provider: spend?.provider ?? '',
    resolvedModel: spend?.model ?? model,
    finishReason: choice?.finish_reason ?? null,
    usage: { inputTokens: spend?.inputTokens ?? 0, outputTokens: spend?.outputTokens ?? 0, ...(spend?.estimated ? { estimated: true as const } : {}) },
    costUSD: spend?.costUSD ?? 0,
    latencyMs: latencyMs(),
  };
}

/** The relay's client for a tool call: keeps the JSON answer and the call's whole spend; the MCP cancellation is the client leaving. */
function memorySink(signal: AbortSignal) {
  let answer: { status: number; body: unknown } | undefined;
  let spend: CallSpend | undefined;
  const client: ClientSink = {
    get started() {
      return answer !== undefined;
    },
    get gone() {
      return signal.aborted;
    },
    json(status, body) {
      answer = { status, body: Buffer.isBuffer(body) ? (JSON.parse(body.toString('utf8')) as unknown) : body };
    },
    startStream() {
      throw new Error('model tools make whole (not streamed) calls');
    },
    startJson() {
      throw new Error('model tools make calls that are translated, not passed through');
    },
    write: () => Promise.resolve(),
    end() {},
    abort() {},
    onClose(listener) {
      if (signal.aborted) listener();
      else signal.addEventListener('abort', listener, { once: true });
    },
    // Attempts that failed but may be billed come first (relay/call.ts), the answer's last: the
    // call's spend is their sum, its provider and model the answer's.
    accounted(s) {
      spend = spend ? { ...s, inputTokens: spend.inputTokens + s.inputTokens, outputTokens: spend.outputTokens + s.outputTokens, costUSD: spend.costUSD + s.costUSD, estimated: spend.estimated || s.estimated } : s;
    },
  };
  return { client, answer: () => answer, spend: () => spend };
}

function result(structured: Record<string, unknown>): CallToolResult {
  return { content: [{ type: 'text', text: JSON.stringify(structured) }], structuredContent: structured };
}
