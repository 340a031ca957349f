/**
 * The sidecar configuration contract, version 1. The operator renders it from the custom
 * resources; the sidecar parses it once at load and trusts the types afterwards. Secrets are
 * never inline: the config names files (mounted from the credentials Secret) and the sidecar
 * reads them itself.
 */
import { z } from 'zod';

/** Provider API types the sidecar translates to and from. */
export const PROVIDER_TYPES = ['openai', 'anthropic', 'gemini', 'ollama', 'openai-compatible'] as const;
/** Provider types that may run without an API key. */
export const KEYLESS_PROVIDER_TYPES: readonly ProviderType[] = ['ollama', 'openai-compatible'];
/** MCP transports the sidecar speaks to backends. */
export const MCP_TRANSPORTS = ['streamable-http', 'sse', 'stdio'] as const;
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

const ms = (description: string, defaultValue: number, max = 3_600_000) =>
  z.int().min(1).max(max).default(defaultValue).describe(description);

const modelName = () => z.string().min(1).max(256).regex(/^[^\s]+$/);

/** A model a provider serves, with its price for accounting. */
export const ModelEntry = z
  .object({
    name: modelName().describe('Model name as agents request it, e.g. gpt-4o-mini.'),
    upstreamName: modelName().optional().describe('Model name sent to the provider when it differs from name.'),
    inputCostPerMTok: z.number().min(0).max(100_000).optional().describe('Price in USD per million prompt tokens, for accounting and budgets.'),
    outputCostPerMTok: z.number().min(0).max(100_000).optional().describe('Price in USD per million completion tokens, for accounting and budgets.'),
    contextWindow: z.int().min(1).max(100_000_000).optional().describe('Context window in tokens.'),
  })
  .describe('A model this provider serves.');

/** Timeouts of calls to one provider. */
export const ProviderTimeouts = z
  .object({
    connectMs: ms('Time to establish a connection.', 5_000, 120_000),
    firstByteMs: ms('Time from sending the request to the first response byte; failover is still possible until then.', 60_000),
    idleMs: ms('Longest pause between stream chunks before the stream is ended with an error.', 60_000),
    totalMs: ms('Longest time one request may take, failover included.', 600_000),
  })
  .describe('Timeouts for calls to this provider.');

/** Retries on one provider before failing over. */
export const ProviderRetries = z
  .object({
    maxAttempts: z.int().min(1).max(10).default(2).describe('Attempts per request on this provider, the first included, before failing over.'),
    baseDelayMs: z.int().min(0).max(60_000).default(250).describe('Base of the exponential backoff between attempts (with jitter; Retry-After wins when longer).'),
  })
  .describe('Retries on this provider before failing over to the next.');

/** Rate and concurrency limits; unset fields are unlimited. */
export const RateLimits = z.object({
  requestsPerMinute: z.int().min(1).max(1_000_000).optional().describe('Requests allowed per minute; unset is unlimited.'),
  tokensPerMinute: z.int().min(1).max(1_000_000_000).optional().describe('Prompt plus completion tokens allowed per minute; unset is unlimited.'),
  maxConcurrent: z.int().min(1).max(100_000).optional().describe('Requests allowed in flight at once; unset is unlimited.'),
});

/** Glob patterns of names. */
export const GlobList = z.array(z.string().min(1).max(256)).max(256);

/** Allow and deny globs over the given kind of names; deny wins, an unset allow list allows everything. */
function globFilter(names: string) {
  return z.object({
    allow: GlobList.optional().describe(`Glob patterns of ${names} to expose; unset exposes all.`),
    deny: GlobList.optional().describe(`Glob patterns of ${names} never to expose; deny wins over allow.`),
  });
}

/** Allow and deny globs over tool names. */
export const ToolFilter = globFilter('tool names');

/** An approved tool definition. */
export const PinnedTool = z
  .object({
    name: z.string().min(1).max(128).describe('Tool name as the backend reports it (without the prefix).'),
    sha256: z.string().regex(/^[a-f0-9]{64}$/).describe('sha256 of the approved tool definition.'),
  })
  .describe('An approved tool definition.');

/** An approved prompt definition. */
export const PinnedPrompt = z
  .object({
    name: z.string().min(1).max(128).describe('Prompt name as the backend reports it (without the prefix).'),
    sha256: z.string().regex(/^[a-f0-9]{64}$/).describe('sha256 of the approved prompt definition.'),
  })
  .describe('An approved prompt definition.');

/** An approved resource or resource template definition, named by its URI or URI template. */
export const PinnedResource = z
  .object({
    name: z.string().min(1).max(2048).describe('URI of the resource, or URI template of the resource template, as the backend reports it.'),
    sha256: z.string().regex(/^[a-f0-9]{64}$/).describe('sha256 of the approved resource or template definition.'),
  })
  .describe('An approved resource or resource template definition.');

/** Allow and deny globs over prompt names. */
export const PromptFilter = globFilter('prompt names');

/** Allow and deny globs over resource URIs and URI templates. */
export const ResourceFilter = globFilter('resource URIs and URI templates');

/** Timeouts of one MCP backend. */
export const McpTimeouts = z
  .object({
    connectMs: ms('Time to connect and initialise the MCP session.', 10_000, 300_000),
    callMs: ms('Longest time one tool call may take before it fails with an MCP error.', 60_000),
  })
  .describe('Timeouts for this backend.');

/** The fields of {@link McpHealth}, without the cross-field rule (the operator states it as CEL). */
export const McpHealthFields = z.object({
  intervalMs: ms('Time between health checks (ping) of a ready backend.', 15_000, 600_000),
  backoffBaseMs: ms('First retry delay after a backend failed; doubles with each consecutive failure.', 500, 60_000),
  backoffMaxMs: ms('Longest retry delay: a backend that comes back by itself is found within about this long (a request reconnects at once).', 5_000, 600_000),
});

/** How the gateway watches its MCP backends and retries failed ones. */
export const McpHealth = McpHealthFields.refine((h) => h.backoffBaseMs <= h.backoffMaxMs, { message: 'backoffBaseMs must not exceed backoffMaxMs', path: ['backoffBaseMs'] })
  .describe('Health checks and reconnect backoff of MCP backends.');

const valueOrFileFields = {
  name: z.string().min(1).max(256),
  value: z.string().optional(),
  file: z.string().min(1).optional(),
};
const exactlyOne = [(v: { value?: string | undefined; file?: string | undefined }) => (v.value === undefined) !== (v.file === undefined), { message: 'set exactly one of value and file' }] as const;

/** A value given literally or read from a file (a mounted Secret key). */
const ValueOrFile = z.object(valueOrFileFields).refine(...exactlyOne);

/** An HTTP backend's header: a ValueOrFile that may be bound to the origin recorded next to its file. */
const HeaderValueOrFile = z
  .object({
    ...valueOrFileFields,
    // Set by the operator: the file's value is sent only to the origin recorded next to it (see mcp/secrets).
    requireOrigin: z.boolean().default(false),
  })
  .refine(...exactlyOne);

const absolutePath = () => z.string().min(2).regex(/^\//, 'must be an absolute path');

export const ProviderConfig = z.object({
  name: z.string().min(1).max(253),
  type: z.enum(PROVIDER_TYPES),
  baseURL: z.url().optional(),
  apiKeys: z
    .array(
      z.object({
        file: absolutePath(),
        // Set by the operator: the key is used only for the origin recorded next to it (see Runtime).
        requireOrigin: z.boolean().default(false),
      }),
    )
    .default([]),
  models: z.array(ModelEntry).min(1),
  priority: z.int().min(0).max(1000).default(0),
  weight: z.int().min(1).max(1000).default(1),
  timeouts: ProviderTimeouts.prefault({}),
  retries: ProviderRetries.prefault({}),
  limits: RateLimits.optional(),
  headers: z.record(z.string(), z.string()).default({}),
});

export const McpBackendConfig = z.object({
  name: z.string().min(1).max(253),
  prefix: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a DNS label').max(63),
  transport: z.enum(MCP_TRANSPORTS),
  url: z.url().optional(),
  headers: z.array(HeaderValueOrFile).default([]),
  stdio: z
    .object({
      command: z.string().min(1),
      args: z.array(z.string()).default([]),
      env: z.array(ValueOrFile).default([]),
      processes: z
        .enum(['shared', 'per-session'])
        .default('shared')
        .describe('shared: one process serves every client session; per-session: one process per client session, ended with it.'),
      maxProcesses: z.int().min(1).max(1000).default(16).describe('With per-session processes, the most running at once; a session beyond it gets an error.'),
    })
    .optional(),
  tools: ToolFilter.prefault({}),
  /** Unset: the tools filter applies to prompt names too, so a backend whose tools are all denied shows no prompts. */
  prompts: PromptFilter.optional(),
  /** Unset: the tools filter applies to resource URIs too (see prompts). */
  resources: ResourceFilter.optional(),
  approval: z
    .object({
      mode: z.enum(['auto', 'pinned']).default('auto'),
      pinned: z.array(PinnedTool).default([]),
      pinnedPrompts: z.array(PinnedPrompt).default([]),
      pinnedResources: z.array(PinnedResource).default([]),
    })
    .prefault({}),
  timeouts: McpTimeouts.prefault({}),
});

/**
 * The sidecar's own model tools on /mcp (airlock__list_models, airlock__generate,
 * airlock__compare_models) and the usage resource; calls go through the router like socket calls.
 */
export const ModelTools = z.object({
  enabled: z.boolean().default(false).describe('Offer the model tools and the usage resource on the sandbox MCP endpoint.'),
  maxCompareModels: z.int().min(2).max(16).default(4).describe('Most models one compare_models call may ask at once.'),
});

export const SidecarConfig = z
  .object({
    version: z.literal(1),
    sandbox: z.object({ name: z.string().min(1), namespace: z.string().min(1).default('default') }),
    listen: z
      .object({
        socket: z
          .object({
            path: absolutePath().default('/var/run/airlock/airlock.sock'),
            mode: z.string().regex(/^0?[0-7]{3}$/, 'must be an octal file mode such as 0660').default('0660'),
            group: z.int().min(0).optional(),
          })
          .prefault({}),
        loopbackPort: z.int().min(1024).max(65535).optional(),
        admin: z
          .object({
            // 'pod': every address of the pod, both families (adminHost), so the kubelet, the
            // operator and a scraper reach it at status.podIP; an address binds that one.
            host: z.string().min(1).default('127.0.0.1'),
            port: z.int().min(0).max(65535).default(9090),
            // The MCP tool view lists backends, tools and their states: off unless asked for.
            tools: z.boolean().default(false),
          })
          .prefault({}),
        maxBodyBytes: z.int().min(1024).max(1024 * 1024 * 1024).default(32 * 1024 * 1024),
        // Each body held costs a few times its size: 64 MiB of bodies stay well inside the injected
        // container's 512 MiB (server/body-budget.ts).
        maxBodyBytesInFlight: z
          .int()
          .min(1024)
          .max(16 * 1024 * 1024 * 1024)
          .default(64 * 1024 * 1024)
          .describe('Request bodies held at once, in bytes, across the socket and the loopback port; a request past it gets 503 with Retry-After (one alone always passes).'),
      })
      .prefault({}),
    providers: z.array(ProviderConfig).default([]),
    models: z
      .object({
        allow: GlobList.optional(),
        aliases: z.record(modelName(), modelName()).default({}),
      })
      .prefault({}),
    mcp: z
      .object({
        backends: z.array(McpBackendConfig).default([]),
        health: McpHealth.prefault({}),
        tools: ToolFilter.extend({ lazy: z.boolean().default(false) }).prefault({}),
        modelTools: ModelTools.prefault({}),
      })
      .prefault({}),
    limits: RateLimits.extend({
      dailyBudgetUSD: z.number().min(0).optional(),
      /**
       * Where the operator serves this sandbox's usage across all its pods (ADR 0014); the limits
       * then hold for the sandbox as a whole. Without it the sidecar enforces them for its pod alone.
       */
      sandboxUsage: z.object({ url: z.url(), intervalMs: z.int().min(200).max(300_000).default(5_000) }).optional(),
    }).prefault({}),
    telemetry: z
      .object({
        logLevel: z.enum(LOG_LEVELS).default('info'),
        otlp: z.object({ endpoint: z.url(), headers: z.array(ValueOrFile).default([]) }).optional(),
        /**
         * Model calls' messages (system instructions, input and output) on their spans, redacted,
         * as the OpenTelemetry GenAI conventions' opt-in content attributes. Off: spans carry no content.
         */
        captureMessageContent: z.boolean().default(false),
      })
      .prefault({}),
  })
  .superRefine((config, ctx) => {
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
  });

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
