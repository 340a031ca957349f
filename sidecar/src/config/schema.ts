/**
 * The sidecar configuration contract, version 1. The operator renders it from the custom
 * resources; the sidecar parses it once at load and trusts the types afterwards. Secrets are
 * never inline: the config names files (mounted from the credentials Secret) and the sidecar
 * reads them itself.
 */
import * as z from '../zod.js';

/** `listen.maxAnswerBytesInFlight` when unset. */
export const DEFAULT_ANSWER_BYTES_IN_FLIGHT = 64 * 1024 * 1024;

/** Provider API types the sidecar translates to and from. */
export const PROVIDER_TYPES = ['openai', 'anthropic', 'gemini', 'ollama', 'openai-compatible'] as const;
/** Provider types that may run without an API key. */
export const KEYLESS_PROVIDER_TYPES: readonly ProviderType[] = ['ollama', 'openai-compatible'];
/** MCP transports the sidecar speaks to backends. */
export const MCP_TRANSPORTS = ['streamable-http', 'sse', 'stdio'] as const;
/**
 * What a sandbox may have its providers reach for the agent (ingress/reach.ts): `web` (hosted web
 * search and fetch, URL context, search grounding), `mcp` (remote MCP servers the provider
 * calls), `urls` (images, documents and files given by URL, which the provider downloads).
 */
export const PROVIDER_REACH = ['web', 'mcp', 'urls'] as const;
export type ProviderReach = (typeof PROVIDER_REACH)[number];
/** Log levels. */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;

export type ProviderType = (typeof PROVIDER_TYPES)[number];
export type McpTransport = (typeof MCP_TRANSPORTS)[number];

/** Suffix of the file, next to an API key file, holding the origin the operator accepted the key for (`requireOrigin`, see Runtime). */
export const KEY_ORIGIN_SUFFIX = '.origin';

/** Base URL used when a provider names none. */
export const DEFAULT_BASE_URLS: Record<ProviderType, string | undefined> = {
  openai: 'https://api.openai.com/v1',
  anthropic: 'https://api.anthropic.com',
  gemini: 'https://generativelanguage.googleapis.com',
  ollama: 'http://127.0.0.1:11434',
  'openai-compatible': undefined,
};

/**
 * `schema` with a description, as classic zod's `.describe()` gives it: the operator builds its
 * CRDs from some of these schemas, and `z.toJSONSchema` reads descriptions from the global registry.
 */
const described = <T extends z.ZodMiniType>(schema: T, description: string): T => schema.check(z.describe(description));

const ms = (description: string, defaultValue: number, max = 3_600_000) =>
  described(z._default(z.int().check(z.minimum(1), z.maximum(max)), defaultValue), description);

const boundedString = (min: number, max: number) => z.string().check(z.minLength(min), z.maxLength(max));
/** Longest model name the config may serve or alias. */
export const MAX_MODEL_NAME = 256;
const modelName = () => z.string().check(z.minLength(1), z.maxLength(MAX_MODEL_NAME), z.regex(/^[^\s]+$/));
const sha256 = () => z.string().check(z.regex(/^[a-f0-9]{64}$/));
const optionalNumber = (min: number, max: number) => z.optional(z.number().check(z.minimum(min), z.maximum(max)));
const optionalInt = (min: number, max: number) => z.optional(z.int().check(z.minimum(min), z.maximum(max)));

/**
 * Bounds of a model's Ollama `num_ctx`: Ollama takes any positive number and caps it at the
 * model's trained context; below 256 tokens hardly a system prompt fits, and the ceiling of 1 Mi
 * tokens is a chosen one (an 8B model's cache for it alone takes over 100 GiB).
 */
export const MIN_NUM_CTX = 256;
export const MAX_NUM_CTX = 1_048_576;

/** A model a provider serves, with its price for accounting. */
export const ModelEntry = described(
  z.object({
    name: described(modelName(), 'Model name as agents request it, e.g. gpt-4o-mini.'),
    upstreamName: described(z.optional(modelName()), 'Model name sent to the provider when it differs from name.'),
    inputCostPerMTok: described(optionalNumber(0, 100_000), "Price in USD per million prompt tokens, for accounting and budgets. Anthropic's prompt-cache writes count at 1.25 times it (5 minutes) or twice it (1 hour), cache reads at it."),
    outputCostPerMTok: described(optionalNumber(0, 100_000), 'Price in USD per million completion tokens, for accounting and budgets.'),
    contextWindow: described(optionalInt(1, 100_000_000), 'Context window in tokens.'),
    numCtx: described(
      optionalInt(MIN_NUM_CTX, MAX_NUM_CTX),
      `Ollama only: the context window Ollama runs the model with, sent as options.num_ctx on every call (${MIN_NUM_CTX} to ${MAX_NUM_CTX} tokens). Unset, Ollama uses its own default (2048 tokens in older versions, 4096 later, 4096 on GPUs under 24 GiB in recent ones) and silently drops the start of a longer prompt: the system prompt and tools first. A larger window takes more memory; Ollama caps it at the model's trained context length.`,
    ),
  }),
  'A model this provider serves.',
);

/** Timeouts of calls to one provider. */
export const ProviderTimeouts = described(
  z.object({
    connectMs: ms('Time to establish a connection.', 5_000, 120_000),
    firstByteMs: ms('Time from sending the request to the answer\'s status and headers (1xx answers do not count); failover is still possible until then.', 60_000),
    idleMs: ms('Longest pause between stream chunks before the stream is ended with an error.', 60_000),
    totalMs: ms('Longest time one request may take, failover included.', 600_000),
  }),
  'Timeouts for calls to this provider.',
);

/** Retries on one provider before failing over. */
export const ProviderRetries = described(
  z.object({
    maxAttempts: described(z._default(z.int().check(z.minimum(1), z.maximum(10)), 2), 'Attempts per request on this provider, the first included, before failing over.'),
    baseDelayMs: described(z._default(z.int().check(z.minimum(0), z.maximum(60_000)), 250), 'Base of the exponential backoff between attempts (with jitter; Retry-After wins when longer).'),
  }),
  'Retries on this provider before failing over to the next.',
);

/** Rate and concurrency limits; unset fields are unlimited. */
export const RateLimits = z.object({
  requestsPerMinute: described(optionalInt(1, 1_000_000), 'Requests allowed per minute; unset is unlimited.'),
  tokensPerMinute: described(optionalInt(1, 1_000_000_000), 'Prompt plus completion tokens allowed per minute; unset is unlimited.'),
  maxConcurrent: described(optionalInt(1, 100_000), 'Requests allowed in flight at once; unset is unlimited.'),
});

/** Glob patterns of names. */
export const GlobList = z.array(boundedString(1, 256)).check(z.maxLength(256));

/** Allow and deny globs over the given kind of names; deny wins, an unset allow list allows everything. */
function globFilter(names: string) {
  return z.object({
    allow: described(z.optional(GlobList), `Glob patterns of ${names} to expose; unset exposes all.`),
    deny: described(z.optional(GlobList), `Glob patterns of ${names} never to expose; deny wins over allow.`),
  });
}

/** Allow and deny globs over tool names. */
export const ToolFilter = globFilter('tool names');

/** An approved tool definition. */
export const PinnedTool = described(
  z.object({
    name: described(boundedString(1, 128), 'Tool name as the backend reports it (without the prefix).'),
    sha256: described(sha256(), 'sha256 of the approved tool definition.'),
  }),
  'An approved tool definition.',
);

/** An approved prompt definition. */
export const PinnedPrompt = described(
  z.object({
    name: described(boundedString(1, 128), 'Prompt name as the backend reports it (without the prefix).'),
    sha256: described(sha256(), 'sha256 of the approved prompt definition.'),
  }),
  'An approved prompt definition.',
);

/** An approved resource or resource template definition, named by its URI or URI template. */
export const PinnedResource = described(
  z.object({
    name: described(boundedString(1, 2048), 'URI of the resource, or URI template of the resource template, as the backend reports it.'),
    sha256: described(sha256(), 'sha256 of the approved resource or template definition.'),
  }),
  'An approved resource or resource template definition.',
);

/** Allow and deny globs over prompt names. */
export const PromptFilter = globFilter('prompt names');

/** Allow and deny globs over resource URIs and URI templates. */
export const ResourceFilter = globFilter('resource URIs and URI templates');

/** Timeouts of one MCP backend. */
export const McpTimeouts = described(
  z.object({
    connectMs: ms('Time to connect and initialise the MCP session.', 10_000, 300_000),
    callMs: ms('Longest time one tool call may take before it fails with an MCP error.', 60_000),
  }),
  'Timeouts for this backend.',
);

/** The fields of {@link McpHealth}, without the cross-field rule (the operator states it as CEL). */
export const McpHealthFields = z.object({
  intervalMs: ms('Time between health checks (ping) of a ready backend.', 15_000, 600_000),
  backoffBaseMs: ms('First retry delay after a backend failed; doubles with each consecutive failure.', 500, 60_000),
  backoffMaxMs: ms('Longest retry delay: a backend that comes back by itself is found within about this long (a request reconnects at once).', 5_000, 600_000),
});

/** How the gateway watches its MCP backends and retries failed ones. */
export const McpHealth = described(
  McpHealthFields.check(z.refine((h) => h.backoffBaseMs <= h.backoffMaxMs, { message: 'backoffBaseMs must not exceed backoffMaxMs', path: ['backoffBaseMs'] })),
  'Health checks and reconnect backoff of MCP backends.',
);

const valueOrFileFields = {
  name: boundedString(1, 256),
  value: z.optional(z.string()),
  file: z.optional(z.string().check(z.minLength(1))),
};
const exactlyOne = () =>
  z.refine<{ value?: string | undefined; file?: string | undefined }>((v) => (v.value === undefined) !== (v.file === undefined), { message: 'set exactly one of value and file' });

/** A value given literally or read from a file (a mounted Secret key). */
const ValueOrFile = z.object(valueOrFileFields).check(exactlyOne());

/** An HTTP backend's header: a ValueOrFile that may be bound to the origin recorded next to its file. */
const HeaderValueOrFile = z
  .object({
    ...valueOrFileFields,
    // Set by the operator: the file's value is sent only to the origin recorded next to it (see mcp/secrets).
    requireOrigin: z._default(z.boolean(), false),
  })
  .check(exactlyOne());

const absolutePath = () => z.string().check(z.minLength(2), z.regex(/^\//, 'must be an absolute path'));

export const ProviderConfig = z.object({
  name: boundedString(1, 253),
  type: z.enum(PROVIDER_TYPES),
  baseURL: z.optional(z.url()),
  apiKeys: z._default(
    z.array(
      z.object({
        file: absolutePath(),
        // Set by the operator: the key is used only for the origin recorded next to it (see Runtime).
        requireOrigin: z._default(z.boolean(), false),
      }),
    ),
    [],
  ),
  models: z.array(ModelEntry).check(z.minLength(1)),
  priority: z._default(z.int().check(z.minimum(0), z.maximum(1000)), 0),
  weight: z._default(z.int().check(z.minimum(1), z.maximum(1000)), 1),
  timeouts: z.prefault(ProviderTimeouts, {}),
  retries: z.prefault(ProviderRetries, {}),
  limits: z.optional(RateLimits),
  headers: z._default(z.record(z.string(), z.string()), {}),
});

export const McpBackendConfig = z.object({
  name: boundedString(1, 253),
  prefix: z.string().check(z.regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a DNS label'), z.maxLength(63)),
  transport: z.enum(MCP_TRANSPORTS),
  url: z.optional(z.url()),
  headers: z._default(z.array(HeaderValueOrFile), []),
  stdio: z.optional(
    z.object({
      command: z.string().check(z.minLength(1)),
      args: z._default(z.array(z.string()), []),
      env: z._default(z.array(ValueOrFile), []),
      processes: described(
        z._default(z.enum(['shared', 'per-session']), 'shared'),
        'shared: one process serves every client session; per-session: one process per client session, ended with it.',
      ),
      maxProcesses: described(z._default(z.int().check(z.minimum(1), z.maximum(1000)), 16), 'With per-session processes, the most running at once; a session beyond it gets an error.'),
    }),
  ),
  tools: z.prefault(ToolFilter, {}),
  /** Unset: the tools filter applies to prompt names too, so a backend whose tools are all denied shows no prompts. */
  prompts: z.optional(PromptFilter),
  /** Unset: the tools filter applies to resource URIs too (see prompts). */
  resources: z.optional(ResourceFilter),
  approval: z.prefault(
    z.object({
      mode: z._default(z.enum(['auto', 'pinned']), 'auto'),
      pinned: z._default(z.array(PinnedTool), []),
      pinnedPrompts: z._default(z.array(PinnedPrompt), []),
      pinnedResources: z._default(z.array(PinnedResource), []),
    }),
    {},
  ),
  timeouts: z.prefault(McpTimeouts, {}),
});

/**
 * The sidecar's own model tools on /mcp (airlock__list_models, airlock__generate,
 * airlock__compare_models) and the usage resource; calls go through the router like socket calls.
 */
export const ModelTools = z.object({
  enabled: described(z._default(z.boolean(), false), 'Offer the model tools and the usage resource on the sandbox MCP endpoint.'),
  maxCompareModels: described(z._default(z.int().check(z.minimum(2), z.maximum(16)), 4), 'Most models one compare_models call may ask at once.'),
});

export const SidecarConfig = z
  .object({
    version: z.literal(1),
    sandbox: z.object({ name: z.string().check(z.minLength(1)), namespace: z._default(z.string().check(z.minLength(1)), 'default') }),
    listen: z.prefault(
      z.object({
        socket: z.prefault(
          z.object({
            path: z._default(absolutePath(), '/var/run/airlock/airlock.sock'),
            mode: z._default(z.string().check(z.regex(/^0?[0-7]{3}$/, 'must be an octal file mode such as 0660')), '0660'),
            group: z.optional(z.int().check(z.minimum(0))),
          }),
          {},
        ),
        loopbackPort: optionalInt(1024, 65535),
        admin: z.prefault(
          z.object({
            // 'pod': every address of the pod, both families (adminHost), so the kubelet, the
            // operator and a scraper reach it at status.podIP; an address binds that one.
            host: z._default(z.string().check(z.minLength(1)), '127.0.0.1'),
            port: z._default(z.int().check(z.minimum(0), z.maximum(65535)), 9090),
            // The MCP tool view lists backends, tools and their states: off unless asked for.
            tools: z._default(z.boolean(), false),
          }),
          {},
        ),
        maxBodyBytes: z._default(z.int().check(z.minimum(1024), z.maximum(1024 * 1024 * 1024)), 32 * 1024 * 1024),
        // Each body held costs a few times its size: 64 MiB of bodies stay well inside the injected
        // container's 512 MiB (server/body-budget.ts).
        maxBodyBytesInFlight: described(
          z._default(z.int().check(z.minimum(1024), z.maximum(16 * 1024 * 1024 * 1024)), 64 * 1024 * 1024),
          'Request bodies held at once, in bytes, across the socket and the loopback port; a request past it gets 503 with Retry-After (one alone always passes).',
        ),
        stalledReaderMs: described(
          z._default(z.int().check(z.minimum(100), z.maximum(3_600_000)), 60_000),
          'A connection on the socket or the loopback port whose client leaves what was written to it unread this long is closed, and its calls end as if the client had left (counted as given up): an answer nobody reads is otherwise held, and its call uncounted, for ever.',
        ),
        // Answers a client has not read stay in the sidecar's memory: 64 MiB of them beside 64 MiB
        // of bodies stay inside the injected container's 512 MiB (upstream/answer-budget.ts).
        maxAnswerBytesInFlight: described(
          z._default(z.int().check(z.minimum(1024), z.maximum(16 * 1024 * 1024 * 1024)), DEFAULT_ANSWER_BYTES_IN_FLIGHT),
          'Answers held at once, in bytes, read from providers and not yet taken by their clients; past it a passed-through answer is relayed as it comes, at its client\'s pace, and one that must be translated gets 503 (one alone is always held).',
        ),
      }),
      {},
    ),
    providers: z._default(z.array(ProviderConfig), []),
    models: z.prefault(
      z.object({
        allow: z.optional(GlobList),
        aliases: z._default(z.record(modelName(), modelName()), {}),
        providerReach: z._default(z.array(z.enum(PROVIDER_REACH)), []),
      }),
      {},
    ),
    mcp: z.prefault(
      z.object({
        backends: z._default(z.array(McpBackendConfig), []),
        health: z.prefault(McpHealth, {}),
        tools: z.prefault(z.extend(ToolFilter, { lazy: z._default(z.boolean(), false) }), {}),
        modelTools: z.prefault(ModelTools, {}),
      }),
      {},
    ),
    limits: z.prefault(
      z.extend(RateLimits, {
        dailyBudgetUSD: z.optional(z.number().check(z.minimum(0))),
        /**
         * Where the operator serves this sandbox's usage across all its pods (ADR 0014); the limits
         * then hold for the sandbox as a whole. Without it the sidecar enforces them for its pod alone.
         */
        sandboxUsage: z.optional(
          z.object({
            url: z.url(),
            intervalMs: z._default(z.int().check(z.minimum(200), z.maximum(300_000)), 5_000),
            /** The sandbox's usage token (a file of the credentials Secret), sent as a bearer token: the operator answers only with it. */
            tokenFile: z.optional(absolutePath()),
          }),
        ),
      }),
      {},
    ),
    telemetry: z.prefault(
      z.object({
        logLevel: z._default(z.enum(LOG_LEVELS), 'info'),
        otlp: z.optional(z.object({ endpoint: z.url(), headers: z._default(z.array(HeaderValueOrFile), []) })),
        /**
         * Model calls' messages (system instructions, input and output) on their spans, redacted,
         * as the OpenTelemetry GenAI conventions' opt-in content attributes. Off: spans carry no content.
         */
        captureMessageContent: z._default(z.boolean(), false),
      }),
      {},
    ),
  })
  .check(
    z.superRefine((config, ctx) => {
      const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path, message });
      duplicates(config.providers.map((p) => p.name)).forEach((i) => issue(['providers', i, 'name'], 'duplicate provider name'));
      duplicates(config.mcp.backends.map((b) => b.name)).forEach((i) => issue(['mcp', 'backends', i, 'name'], 'duplicate backend name'));
      duplicates(config.mcp.backends.map((b) => b.prefix)).forEach((i) => issue(['mcp', 'backends', i, 'prefix'], 'duplicate backend prefix'));
      config.mcp.backends.forEach((b, i) => {
        // The sidecar's own tools are airlock__<name> (mcp/naming.ts BUILTIN_PREFIX).
        if (b.prefix === 'airlock') issue(['mcp', 'backends', i, 'prefix'], 'prefix airlock is reserved for the sidecar\'s own tools');
      });
      config.providers.forEach((p, i) => {
        if (p.apiKeys.length === 0 && !KEYLESS_PROVIDER_TYPES.includes(p.type)) {
          issue(['providers', i, 'apiKeys'], `type ${p.type} needs at least one API key file`);
        }
        if (!p.baseURL && !DEFAULT_BASE_URLS[p.type]) issue(['providers', i, 'baseURL'], `type ${p.type} needs a baseURL`);
        p.models.forEach((m, j) => {
          if (m.numCtx !== undefined && p.type !== 'ollama') issue(['providers', i, 'models', j, 'numCtx'], `numCtx is Ollama's num_ctx; type ${p.type} has no such option`);
        });
      });
      config.mcp.backends.forEach((b, i) => {
        if (b.transport === 'stdio' && !b.stdio) issue(['mcp', 'backends', i, 'stdio'], 'a stdio backend needs stdio.command');
        if (b.transport !== 'stdio' && !b.url) issue(['mcp', 'backends', i, 'url'], `transport ${b.transport} needs a url`);
        const pins = b.approval.pinned.length + b.approval.pinnedPrompts.length + b.approval.pinnedResources.length;
        if (b.approval.mode === 'pinned' && pins === 0) {
          issue(['mcp', 'backends', i, 'approval', 'pinned'], 'pinned mode needs at least one pinned tool, prompt or resource');
        }
      });
      const served = new Set(config.providers.flatMap((p) => p.models.map((m) => m.name)));
      for (const [alias, target] of Object.entries(config.models.aliases)) {
        if (!served.has(target)) issue(['models', 'aliases', alias], `alias target ${target} is not a model of any provider`);
      }
    }),
  );

function duplicates(values: string[]): number[] {
  const seen = new Set<string>();
  return values.flatMap((v, i) => (seen.has(v) ? [i] : (seen.add(v), [])));
}

export type SidecarConfig = z.infer<typeof SidecarConfig>;
/** One `{name, value | file}` entry of a backend's headers or stdio env, or of the OTLP headers. */
export type ValueOrFile = z.infer<typeof ValueOrFile> & Partial<Pick<z.infer<typeof HeaderValueOrFile>, 'requireOrigin'>>;
export type SidecarConfigInput = z.input<typeof SidecarConfig>;
export type ProviderConfig = z.infer<typeof ProviderConfig>;
export type McpBackendConfig = z.infer<typeof McpBackendConfig>;
export type ModelEntryConfig = z.infer<typeof ModelEntry>;
