/**
 * AgentSandbox: what the agent pods labelled `airlock.dev/sandbox: <name>` may use (providers,
 * models, MCP backends, tools) and how they are isolated.
 */
import { z } from 'zod';
import { LOG_LEVELS, McpHealthFields, ModelTools, PROVIDER_REACH, RateLimits } from '@airlock/sidecar/config';
import { API_VERSION, cel, commonStatus, globList, listMap, listSet, ObjectMeta, objectName } from './common.js';

/** Label by which a pod opts in to a sandbox. */
export const SANDBOX_LABEL = 'airlock.dev/sandbox';

/** Network isolation modes. */
export const NETWORK_MODES = ['firewall', 'networkpolicy', 'none'] as const;

const quantity = z
  .union([z.int(), z.string().regex(/^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$/)])
  .describe('A Kubernetes resource quantity, e.g. 100m or 128Mi.');

export const AgentSandboxSpec = z
  .object({
    providers: z
      .array(objectName('ModelProvider'))
      .max(64)
      .meta(listSet)
      .optional()
      .describe('ModelProviders (in this namespace) the sandbox may route to.'),
    models: z
      .object({
        allow: globList('Glob patterns of model names the agent may request; unset allows every model of the providers.').optional(),
        aliases: z
          .record(z.string().min(1).max(256).regex(/^[^\s]+$/), z.string().min(1).max(256).regex(/^[^\s]+$/))
          .meta({ maxProperties: 256 })
          .optional()
          .describe('Extra model names for the agent, each mapped to a provider model name, e.g. fast: gpt-4o-mini. An alias is allowed by being written here: `allow` applies to the names the agent requests, not to the models aliases name.'),
        providerReach: z
          .array(z.enum(PROVIDER_REACH))
          .max(PROVIDER_REACH.length)
          .meta(listSet)
          .optional()
          .describe(
            "What the model providers may reach on the agent's behalf, each a way past the socket: web (hosted web search and fetch tools, URL context, search grounding), mcp (remote MCP servers the provider calls: Anthropic's mcp_servers, OpenAI's mcp tool), urls (images, documents and files given by an http(s) URL, which the provider downloads). Unset allows none: such a request is refused with a 400 naming the field.",
          ),
      })
      .optional()
      .describe('Which models the agent may use, and aliases for them.'),
    mcpBackends: z
      .array(objectName('MCPBackend'))
      .max(64)
      .meta(listSet)
      .optional()
      .describe('MCPBackends (in this namespace) aggregated into the sandbox MCP endpoint.'),
    tools: z
      .object({
        allow: globList('Glob patterns of prefixed tool names (<prefix>__<tool>) to expose; unset exposes all.').optional(),
        deny: globList('Glob patterns of prefixed tool names never to expose; deny wins over allow.').optional(),
        lazy: z
          .boolean()
          .default(false)
          .describe('List only search_tools and call_tool instead of every tool, so agents with hundreds of tools keep a small context.'),
      })
      .optional()
      .describe('Sandbox-wide tool filters, applied after each backend\'s own.'),
    // The sidecar's schemas are zod/mini: classic wrappers (and a classic object over a mini shape) add what the CRD needs.
    mcpHealth: z
      .object(McpHealthFields.shape)
      .meta(
      cel({ rule: 'self.backoffBaseMs <= self.backoffMaxMs', message: 'backoffBaseMs must not exceed backoffMaxMs', fieldPath: '.backoffBaseMs', reason: 'FieldValueInvalid' }),
    )
      .optional()
      .describe('How the sidecar health-checks MCP backends (ping interval) and how fast it retries a failed one (backoff bounds).'),
    modelTools: z.optional(ModelTools).describe(
      'Built-in model tools on the sandbox MCP endpoint: airlock__list_models, airlock__generate and airlock__compare_models (calls go through the same providers, failover, limits and budget as socket calls) and the usage resource airlock+airlock:usage. Off unless enabled; tools.allow and tools.deny filter them like any tool.',
    ),
    isolation: z
      .object({
        network: z
          .enum(NETWORK_MODES)
          .default('firewall')
          .describe('firewall: an init container lets only the sidecar leave the pod, and a NetworkPolicy is rendered too; networkpolicy: only the NetworkPolicy; none: no network isolation.'),
        allowEgress: z
          .array(
            z
              .object({
                cidr: z.string().max(64).meta(cel({ rule: 'isCIDR(self)', message: 'cidr must be a CIDR such as 10.0.0.0/8 or 2001:db8::/32' })).describe('Destination CIDR.'),
                ports: z.array(z.int().min(1).max(65535)).max(32).meta(listSet).optional().describe('Destination ports (TCP and UDP); unset allows every port.'),
              })
              .describe('A destination the agent containers may reach directly.'),
          )
          .max(64)
          .optional()
          .describe('Destinations the agent containers may reach besides the socket; everything else is dropped.'),
        automountServiceAccountToken: z
          .boolean()
          .default(false)
          .describe('Whether sandbox pods get a service account token; off unless the agent needs the Kubernetes API.'),
      })
      .meta(
        cel({
          rule: "self.network != 'none' || !has(self.allowEgress)",
          message: 'allowEgress has no effect when network is none',
          fieldPath: '.allowEgress',
          reason: 'FieldValueForbidden',
        }),
      )
      .prefault({})
      .describe('How the agent containers are kept from the network.'),
    socket: z
      .object({
        dir: z.string().min(2).max(1024).regex(/^\/[^\s]*[^/\s]$/).default('/var/run/airlock').describe('Directory of the socket in the app containers; the socket is <dir>/airlock.sock. The sidecar has it at /var/run/airlock whatever this says, so no path chosen here covers its own files.'),
        loopbackPort: z.int().min(1024).max(65535).optional().describe('Also serve the API on 127.0.0.1:<port> and set OPENAI_BASE_URL, ANTHROPIC_BASE_URL and AIRLOCK_MCP_URL in the app containers.'),
        mode: z.string().regex(/^0?[0-7]{3}$/).default('0660').describe('File mode of the socket (octal).'),
        group: z.int().min(0).max(2147483647).optional().describe('Group ID that owns the socket, so an agent running under another UID in that group can connect. Injection gives it to every container, so it may not be the group of the airlock-tools container (the chart\'s tools UID): the webhook refuses the pods of such a sandbox, and the sandbox reports SocketGroupAllowed False.'),
      })
      .prefault({})
      .describe('Where the sidecar listens for the agent.'),
    limits: z
      .object({
        ...RateLimits.shape,
      dailyBudgetUSD: z.number().min(0).max(1_000_000).optional().describe('Spending cap per UTC day across all providers, from the model prices; unset is unlimited.'),
    })
      .optional()
      .describe('Sandbox-wide limits, enforced by the sidecar.'),
    telemetry: z
      .object({
        captureMessageContent: z
          .boolean()
          .optional()
          .describe(
            "Put model calls' messages (system instructions, input and output, redacted of keys) on their spans, as the OpenTelemetry GenAI conventions' opt-in content attributes. Unset: the chart's telemetry.captureMessageContent (off by default). Needs the chart's telemetry.otlp.",
          ),
      })
      .optional()
      .describe('Tracing of this sandbox beyond what the chart sets.'),
    sidecar: z
      .object({
        image: z.string().min(1).max(1024).optional().describe('Sidecar image; defaults to the operator\'s configured image.'),
        resources: z
          .object({
            limits: z.record(z.string(), quantity).optional().describe('Resource limits of the sidecar container.'),
            requests: z.record(z.string(), quantity).optional().describe('Resource requests of the sidecar container.'),
          })
          .optional()
          .describe('Compute resources of the sidecar container.'),
        logLevel: z.enum(LOG_LEVELS).default('info').describe('Log level of the sidecar: debug, info, warn or error.'),
      })
      .optional()
      .describe('Settings of the injected sidecar.'),
  })
  .meta(
    cel({
      rule: '(has(self.providers) && size(self.providers) > 0) || (has(self.mcpBackends) && size(self.mcpBackends) > 0)',
      message: 'a sandbox needs at least one of providers and mcpBackends',
      fieldPath: '.providers',
      reason: 'FieldValueRequired',
    }),
  )
  .describe('Desired state of the sandbox.');

const tokens = z.int().min(0);
const usageCounts = {
  requests: z.int().min(0).describe('Model calls made.'),
  inputTokens: tokens.describe('Input tokens the providers reported.'),
  outputTokens: tokens.describe('Output tokens the providers reported.'),
  spentUSD: z.number().min(0).describe('Spend in USD from the model prices.'),
};
const ModelUsageStatus = z.object({ model: z.string().max(256).describe('Model name as the agent asked for it; (other models) sums those past the 1000 listed.'), ...usageCounts });
const UsageTotalsStatus = z.object({ ...usageCounts, byModel: z.array(ModelUsageStatus).max(1000).meta(listMap('model')).describe('The same, by model.') });

/** `ready/named`, e.g. 1/2: how many of the objects the sandbox names are found, usable and not reporting Ready=False. */
const readyOfNamed = (field: string, kind: string, column: string) =>
  z
    .string()
    .max(16)
    .regex(/^[0-9]+\/[0-9]+$/)
    .optional()
    .describe(`${kind} of ${field} that are found, have their Secrets and are not Ready=False, of those named, as ready/named (e.g. 1/2): the ${column} column of kubectl get.`);

/** Usage of the sandbox today (UTC), summed over all its pods by the operator (ADR 0014). */
export const SandboxUsageStatus = z
  .object({
    day: z.string().max(10).describe('The UTC day these totals are for (YYYY-MM-DD).'),
    updatedAt: z.string().max(64).optional().describe('When the operator last collected the pods\' usage.'),
    ...usageCounts,
    byModel: UsageTotalsStatus.shape.byModel,
    budgetRemainingUSD: z.number().min(0).optional().describe('What is left of spec.limits.dailyBudgetUSD today.'),
    podCount: z.int().min(0).optional().describe('Pods of the sandbox when the operator last collected; each pod\'s sidecar may spend its even part of the budget left.'),
    retired: UsageTotalsStatus.optional().describe('Usage of sidecars that have since restarted or whose pods are gone (kept so a restart resets nothing).'),
    pods: z
      .array(z.object({ pod: z.string().max(253).describe('Pod name.'), instance: z.string().max(64).describe('The sidecar process (a restart is a new instance).'), ...usageCounts, byModel: UsageTotalsStatus.shape.byModel }))
      .max(1000)
      .optional()
      .describe('Each running sidecar instance\'s usage as last collected.'),
  })
  .describe('Usage today across all the sandbox\'s pods.');
export type SandboxUsageStatus = z.infer<typeof SandboxUsageStatus>;

export const AgentSandboxStatus = z
  .object({
    ...commonStatus,
    usage: SandboxUsageStatus.optional(),
    readyProviders: readyOfNamed('spec.providers', 'ModelProviders', 'PROVIDERS'),
    readyBackends: readyOfNamed('spec.mcpBackends', 'MCPBackends', 'BACKENDS'),
    injectedPods: z.int().min(0).optional().describe('Pods currently running with this sandbox\'s sidecar.'),
    outdatedPods: z
      .int()
      .min(0)
      .optional()
      .describe('Of those, pods started with isolation (firewall, allowed destinations, service account token) or a sidecar image other than the sandbox gives now: they keep it until restarted. Condition PodsUpToDate names them.'),
    configHash: z.string().max(128).optional().describe('sha256 of the rendered sidecar configuration.'),
  })
  .describe('Observed state of the sandbox. Conditions: Ready, ProvidersReady, BackendsReady, ConfigRendered, SidecarImageAllowed, SocketGroupAllowed, PodSecurityAllowed, PodsUpToDate.');

export const AgentSandbox = z
  .object({
    apiVersion: z.literal(API_VERSION),
    kind: z.literal('AgentSandbox'),
    metadata: ObjectMeta,
    spec: AgentSandboxSpec,
    status: AgentSandboxStatus.optional(),
  })
  .describe('A sandbox for agent pods: the providers, models and MCP tools they may use through the Airlock socket, and their isolation.');

export type AgentSandboxSpec = z.infer<typeof AgentSandboxSpec>;
export type AgentSandboxStatus = z.infer<typeof AgentSandboxStatus>;
export type AgentSandbox = z.infer<typeof AgentSandbox>;

