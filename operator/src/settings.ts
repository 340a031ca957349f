/**
 * Operator settings from flags and environment, parsed once. Flags win over environment
 * variables (AIRLOCK_<FLAG_IN_CAPS>), which win over defaults.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import type { V1NetworkPolicyPeer } from '@kubernetes/client-node';
import { z } from 'zod';

const bool = z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')]);

const quantities = z.record(z.string(), z.union([z.string(), z.number()]).transform(String));
const ResourceRequirements = z.strictObject({ requests: quantities.optional(), limits: quantities.optional() });
/** A V1ResourceRequirements given as JSON (a flag or an env variable); unset or empty is undefined. */
const resourcesJson = z
  .string()
  .optional()
  .transform((text, ctx) => {
    if (text === undefined || text === '') return undefined;
    try {
      return ResourceRequirements.parse(JSON.parse(text));
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: `must be JSON like {"requests":{"cpu":"50m"},"limits":{"memory":"512Mi"}}: ${(err as Error).message}` });
      return z.NEVER;
    }
  });

export const Settings = z.object({
  namespace: z.string().min(1).default('airlock-system').describe('Namespace the operator runs in (its Lease and TLS Secret live there).'),
  watchNamespaces: z
    .string()
    .default('')
    .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean))
    .describe('Watch and reconcile these namespaces only (comma-separated), each with its own list and watch so namespaced Roles suffice; every namespace when empty.'),
  identity: z.string().min(1).default(() => `${hostname()}-${randomBytes(3).toString('hex')}`).describe('Leader election identity.'),
  sidecarImage: z.string().min(1).default('ghcr.io/airlock-dev/airlock-sidecar:0.1.0').describe('Default sidecar image.'),
  allowedSidecarImages: z
    .string()
    .default('')
    .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean))
    .describe('Images an AgentSandbox may name in spec.sidecar.image (comma-separated); only --sidecar-image when empty.'),
  sidecarUid: z.coerce.number().int().min(1).default(61337).describe('UID the sidecar runs as; the firewall lets it out.'),
  toolsUid: z.coerce
    .number()
    .int()
    .min(1)
    .default(61338)
    .describe('UID of the airlock-tools container, where stdio MCP servers run without the sidecar\'s keys; the firewall lets it out too.'),
  sidecarResources: resourcesJson.describe('Default sidecar resources (JSON) when a sandbox sets none.'),
  toolsResources: resourcesJson.describe(
    "Default airlock-tools resources (JSON) when a sandbox sets no sidecar resources (it then gets the sandbox's): the idle stdio host plus room for its stdio servers.",
  ),
  sidecarAdminHost: z
    .string()
    .min(1)
    .default('pod')
    .describe("Where each sidecar's admin port (/metrics, /healthz, /readyz) listens: pod (every address of the pod, IPv4 and IPv6, for the kubelet's probes, the usage round and a scraper), 127.0.0.1, or 0.0.0.0."),
  requireCredentialHosts: bool
    .default(false)
    .describe('Use a Secret only when its owner named the hosts its keys are for (annotation airlock.dev/credential-hosts); without it, the consent label alone lets any ModelProvider or MCPBackend of the namespace use the Secret.'),
  sidecarAdminTools: bool.default(false).describe('Also serve the MCP tool view (/mcp/tools: backends, tools, states) on the sidecar admin port.'),
  sidecarMetricsFrom: z
    .string()
    .default('')
    .transform((text, ctx) => {
      if (text === '') return [] as V1NetworkPolicyPeer[];
      try {
        const peers = z.array(z.looseObject({})).parse(JSON.parse(text));
        return peers as V1NetworkPolicyPeer[];
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: `must be a JSON list of NetworkPolicy peers like [{"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"monitoring"}}}]: ${(err as Error).message}` });
        return z.NEVER;
      }
    })
    .describe('NetworkPolicy peers (JSON list) allowed to reach the sidecar admin port of sandbox pods; every other inbound connection is denied.'),
  nativeSidecars: bool.default(true).describe('Inject the sidecar as a native sidecar (init container with restartPolicy Always).'),
  webhookHost: z.string().default('0.0.0.0'),
  webhookPort: z.coerce.number().int().min(0).max(65535).default(9443),
  healthHost: z.string().default('0.0.0.0'),
  healthPort: z.coerce.number().int().min(0).max(65535).default(8081),
  webhookConfigName: z.string().default('airlock').describe('MutatingWebhookConfiguration whose caBundle the operator keeps current.'),
  webhookService: z.string().default('airlock-webhook').describe('Service in front of the webhook (for the certificate names).'),
  tlsSecret: z.string().default('airlock-webhook-tls').describe('Secret holding the webhook CA and serving certificate.'),
  tlsMode: z.enum(['self', 'cert-manager']).default('self'),
  sealSecret: z
    .string()
    .default('airlock-config-seal')
    .describe("Secret (in the operator's namespace) holding the key that seals every sandbox's credentials Secret; made at the first start (ADR 30)."),
  webhookExtraNames: z
    .string()
    .default('')
    .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean))
    .describe('Extra DNS names or IPs for the webhook certificate (comma-separated), e.g. when the API server calls a URL.'),
  certValidityDays: z.coerce.number().int().min(1).default(90),
  certRenewBeforeDays: z.coerce.number().min(0).default(30),
  certCheckIntervalMs: z.coerce.number().int().min(100).default(60_000),
  tlsCertFile: z.string().optional().describe('cert-manager mode: the mounted serving certificate.'),
  tlsKeyFile: z.string().optional().describe('cert-manager mode: the mounted serving key.'),
  leaseName: z.string().default('airlock-operator'),
  leaseDurationSeconds: z.coerce.number().int().min(2).default(15),
  renewDeadlineMs: z.coerce.number().int().min(500).default(10_000),
  retryPeriodMs: z.coerce.number().int().min(100).default(2_000),
  concurrency: z.coerce.number().int().min(1).max(64).default(4),
  logLevel: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  usageSyncMs: z.coerce.number().int().min(200).max(300_000).default(5_000).describe("How often the leader sums the sidecars' usage into AgentSandbox status, and sidecars ask for it."),
  usageUrl: z
    .url()
    .optional()
    .describe("Base URL of this operator's health port as sidecars reach it (e.g. http://airlock-metrics.airlock-system.svc:8081); with it a sandbox's limits hold across all its pods."),
  otlpEndpoint: z.url().optional().describe("OTLP/HTTP collector URL for the operator's spans and every sidecar's (tracing is off when unset)."),
  captureMessageContent: bool
    .default(false)
    .describe("Sidecars put model calls' messages (redacted) on their spans, for sandboxes that do not set spec.telemetry.captureMessageContent."),
  otlpHeaders: z
    .string()
    .default('')
    .transform((text, ctx) => {
      const pairs = text.split(',').map((s) => s.trim()).filter(Boolean);
      const headers: Record<string, string> = {};
      for (const pair of pairs) {
        const at = pair.indexOf('=');
        if (at <= 0) ctx.addIssue({ code: 'custom', message: `must be name=value pairs separated by commas; got ${JSON.stringify(pair.slice(0, 40))}` });
        else headers[pair.slice(0, at).trim()] = pair.slice(at + 1).trim();
      }
      return headers;
    })
    .describe('Non-secret headers for the collector, name=value,... (also given to the sidecars).'),
  otlpHeadersDir: z
    .string()
    .min(1)
    .optional()
    .describe(
      "Secret headers for the collector: a directory where each file's name is a header and its content the value (the chart mounts telemetry.otlp.headersSecret there). Read on each export, they win over --otlp-headers on a clash and reach every sidecar through its sandbox's credentials Secret, never its ConfigMap.",
    ),
});

export type Settings = z.infer<typeof Settings>;
export type SettingsInput = z.input<typeof Settings>;

const FLAGS = Object.keys(Settings.shape) as (keyof Settings)[];
const kebab = (name: string) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const envName = (name: string) => `AIRLOCK_${kebab(name).replace(/-/g, '_').toUpperCase()}`;

/** Settings from argv and env. @throws {z.ZodError} naming the bad setting. */
export function readSettings(argv: string[], env: NodeJS.ProcessEnv = process.env): Settings {
  const { values } = parseArgs({ args: argv, options: Object.fromEntries(FLAGS.map((f) => [kebab(f), { type: 'string' as const }])), strict: true });
  const input: Record<string, unknown> = {};
  for (const flag of FLAGS) {
    const value = (values as Record<string, string | undefined>)[kebab(flag)] ?? env[envName(flag)];
    if (value !== undefined) input[flag] = value;
  }
  // The downward API names the pod and its namespace; they are the natural defaults.
  input.namespace ??= env.POD_NAMESPACE;
  input.identity ??= env.POD_NAME;
  const settings = Settings.parse(input);
  // The stdio servers would run as the sidecar, with its keys: the very thing airlock-tools prevents.
  if (settings.toolsUid === settings.sidecarUid) throw new Error(`--tools-uid ${settings.toolsUid} must differ from --sidecar-uid`);
  return settings;
}

/** One line per flag: name, default and description, for --help. */
export function settingsHelp(): string {
  return FLAGS.map((flag) => {
    const schema = Settings.shape[flag];
    const fallback = (() => {
      try {
        const value = (Settings.shape[flag] as z.ZodType).parse(undefined);
        return value === undefined || typeof value === 'object' ? '' : ` (default ${String(value)})`;
      } catch {
        return '';
      }
    })();
    return `  --${kebab(flag)}${fallback}${schema.description ? `\n      ${schema.description}` : ''}`;
  }).join('\n');
}
