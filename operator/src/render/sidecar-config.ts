/**
 * Renders a sandbox's sidecar configuration (version 1) and the credentials it needs. Pure: the
 * resolved resources and Secrets in, the config YAML and the Secret data out. Only the keys this
 * sandbox uses are copied, as base64 straight from the source Secrets; an MCPBackend's header and
 * env values are decoded only to check that their destination can carry them (UnfitSecretError).
 */
import { createHash } from 'node:crypto';
import type { V1Secret } from '@kubernetes/client-node';
import { DEFAULT_BASE_URLS, KEY_ORIGIN_SUFFIX, SidecarConfig, type SidecarConfigInput } from '@airlock/sidecar/config';
import { secretFileValue, unfitValue, type ValueKind } from '@airlock/sidecar/secrets';
import type { AgentSandbox, MCPBackend, ModelProvider } from '../api/index.js';
import { notReadable } from '../kube/credentials.js';
import { plainHeadersBesides } from '../telemetry/otlp-headers.js';
import { USAGE_TOKEN_FILE } from '../usage/token.js';
import { ADMIN_PORT, CONFIG_KEY, CREDENTIALS_DIR, SIDECAR_SOCKET_DIR, socketPath } from '../webhook/settings.js';

export interface RenderInput {
  sandbox: AgentSandbox;
  /** The sandbox's providers that exist and whose Secrets resolve. */
  providers: ModelProvider[];
  backends: MCPBackend[];
  secret(name: string): V1Secret | undefined;
  /**
   * The collector the operator was told about (chart value telemetry.otlp): sidecars export spans
   * there too, with its plain headers and its secret ones (name → base64, as the headers Secret
   * holds them; into the credentials Secret, never the config; they win on a clash).
   */
  otlp?: { endpoint: string; headers: Record<string, string>; secretHeaders?: Record<string, string> } | undefined;
  /** Whether sidecars capture message content when the sandbox does not say (chart value telemetry.captureMessageContent). */
  captureMessageContent?: boolean;
  /**
   * Where sidecars read the sandbox-wide usage (the operator's health port), how often, and the
   * sandbox's usage token they prove themselves with (ADR 0014; into the credentials Secret, never the config).
   */
  usage?: { baseUrl: string; intervalMs: number; token: string } | undefined;
  /** Where the sidecar's admin port listens and whether it lists MCP tools (operator settings). */
  admin?: { host: string; tools: boolean };
}

export interface Rendered {
  yaml: string;
  /**
   * Data of the credentials Secret: file name → base64 value; the config itself among them
   * (`config.yaml`), which is where the sidecar reads it (ADR 29).
   */
  credentials: Record<string, string>;
  /** sha256 of the YAML and the credentials, so a key rotation changes it too. */
  hash: string;
}

/** A reference to one Secret key that does not resolve, described without its value. */
export class MissingSecretError extends Error {
  constructor(
    readonly secret: string,
    readonly key: string | undefined,
  ) {
    super(key === undefined ? notReadable(secret) : `Secret ${secret} has no key ${key}`);
    this.name = 'MissingSecretError';
  }
}

/**
 * A Secret key whose value its destination cannot carry: a NUL byte in a stdio server's env, a NUL,
 * CR or LF in a header. The sidecar would refuse it on every connection attempt; here the sandbox
 * says so at once. Names the Secret, the key and the entry, never the value.
 */
export class UnfitSecretError extends Error {
  constructor(secret: string, key: string, entry: string, reason: string) {
    super(`Secret ${secret} key ${key}, used as ${entry}, ${reason}`);
    this.name = 'UnfitSecretError';
  }
}

/** Renders the config; throws MissingSecretError, UnfitSecretError or the sidecar schema's error. */
export function renderSidecarConfig({ sandbox, providers, backends, secret, otlp, captureMessageContent = false, usage, admin = { host: 'pod', tools: false } }: RenderInput): Rendered {
  const credentials: Record<string, string> = {};
  const copy = (file: string, ref: { name: string; key: string }) => {
    const source = secret(ref.name);
    if (!source) throw new MissingSecretError(ref.name, undefined);
    const value = source.data?.[ref.key];
    if (value === undefined) throw new MissingSecretError(ref.name, ref.key);
    credentials[file] = value;
    return `${CREDENTIALS_DIR}/${file}`;
  };
  // The origin a key or secret header is for travels with it in the same Secret (the kubelet
  // swaps one volume's files together); the sidecar sends it to no other origin (ADR 0016).
  const bindOrigin = (file: string, origin: string) => {
    credentials[`${file}${KEY_ORIGIN_SUFFIX}`] = Buffer.from(origin).toString('base64');
  };
  const spec = sandbox.spec;
  const socket = spec.socket ?? { mode: '0660' };

  const config: SidecarConfigInput = {
    version: 1,
    sandbox: { name: sandbox.metadata.name, namespace: sandbox.metadata.namespace ?? 'default' },
    listen: {
      socket: { path: socketPath(SIDECAR_SOCKET_DIR), mode: socket.mode, ...(socket.group !== undefined ? { group: socket.group } : {}) },
      ...(socket.loopbackPort !== undefined ? { loopbackPort: socket.loopbackPort } : {}),
      admin: { host: admin.host, port: ADMIN_PORT, tools: admin.tools },
    },
    providers: providers.map((p) => ({
      name: p.metadata.name,
      type: p.spec.type,
      ...(p.spec.baseURL ? { baseURL: p.spec.baseURL } : {}),
      apiKeys: (p.spec.apiKeys ?? []).map((k, i) => {
        const file = `provider.${p.metadata.name}.${i}`;
        bindOrigin(file, originOf(p));
        return { file: copy(file, { name: k.secretName, key: k.key }), requireOrigin: true };
      }),
      models: p.spec.models,
      priority: p.spec.priority,
      weight: p.spec.weight,
      timeouts: p.spec.timeouts,
      retries: p.spec.retries,
      ...(p.spec.limits ? { limits: p.spec.limits } : {}),
      headers: p.spec.headers ?? {},
    })),
    models: { ...(spec.models?.allow ? { allow: spec.models.allow } : {}), aliases: spec.models?.aliases ?? {}, providerReach: spec.models?.providerReach ?? [] },
    mcp: {
      backends: backends.map((b) => {
        const name = b.metadata.name;
        const valueOf = (kind: ValueKind, entry: { name: string; value?: string | undefined; secretKeyRef?: { name: string; key: string } | undefined }, i: number) => {
          const ref = entry.secretKeyRef;
          if (!ref) return { name: entry.name, value: entry.value ?? '' };
          const file = `mcp.${name}.${kind}.${i}`;
          const path = copy(file, ref);
          // Read as the sidecar reads the file (secrets.ts), and dropped at once.
          const unfit = unfitValue(kind, secretFileValue(Buffer.from(credentials[file]!, 'base64').toString('utf8')));
          if (unfit) throw new UnfitSecretError(ref.name, ref.key, `${kind} ${entry.name} of MCPBackend ${name}`, unfit);
          return { name: entry.name, file: path };
        };
        return {
          name,
          prefix: b.spec.prefix ?? defaultPrefix(name),
          transport: b.spec.transport,
          ...(b.spec.url ? { url: b.spec.url } : {}),
          headers: (b.spec.headers ?? []).map((h, i) => {
            const header = valueOf('header', h, i);
            if (!('file' in header) || !b.spec.url) return header;
            bindOrigin(`mcp.${name}.header.${i}`, new URL(b.spec.url).origin);
            return { ...header, requireOrigin: true };
          }),
          ...(b.spec.stdio
            ? {
                stdio: {
                  command: b.spec.stdio.command,
                  args: b.spec.stdio.args ?? [],
                  env: (b.spec.stdio.env ?? []).map((e, i) => valueOf('env', e, i)),
                  ...(b.spec.stdio.processes ? { processes: b.spec.stdio.processes } : {}),
                  ...(b.spec.stdio.maxProcesses ? { maxProcesses: b.spec.stdio.maxProcesses } : {}),
                },
              }
            : {}),
          tools: globs(b.spec.tools),
          ...(b.spec.prompts ? { prompts: globs(b.spec.prompts) } : {}),
          ...(b.spec.resources ? { resources: globs(b.spec.resources) } : {}),
          approval: {
            mode: b.spec.approval.mode,
            pinned: b.spec.approval.pinned ?? [],
            pinnedPrompts: b.spec.approval.pinnedPrompts ?? [],
            pinnedResources: b.spec.approval.pinnedResources ?? [],
          },
          timeouts: b.spec.timeouts,
        };
      }),
      tools: { ...globs(spec.tools), lazy: spec.tools?.lazy ?? false },
      ...(spec.mcpHealth ? { health: spec.mcpHealth } : {}),
      ...(spec.modelTools ? { modelTools: spec.modelTools } : {}),
    },
    limits: { ...spec.limits, ...(usage ? { sandboxUsage: sandboxUsage(sandbox, usage, credentials) } : {}) },
    telemetry: {
      logLevel: spec.sidecar?.logLevel ?? 'info',
      ...(otlp ? { otlp: { endpoint: otlp.endpoint, headers: collectorHeaders(otlp, credentials) } } : {}),
      captureMessageContent: spec.telemetry?.captureMessageContent ?? captureMessageContent,
    },
  };
  // The sidecar's own schema is the judge: the operator never writes a config the sidecar refuses.
  SidecarConfig.parse(config);
  // JSON, which is YAML: the sidecar reads this exact form without loading its YAML parser
  // (sidecar/src/config/load.ts, renderedJson), ~1.5 MiB of every sidecar's memory.
  const yaml = `# Rendered by airlock-operator from AgentSandbox ${config.sandbox.namespace}/${config.sandbox.name}. Do not edit.\n${JSON.stringify(config, null, 2)}\n`;
  const hash = createHash('sha256').update(yaml).update(JSON.stringify(Object.entries(credentials).sort())).digest('hex');
  // Beside the keys it names, in the one volume the sidecar reads: someone who may edit the
  // sandbox's ConfigMap but not its Secret cannot change the config, and a new config and its
  // new keys arrive in the same swap.
  credentials[CONFIG_KEY] = Buffer.from(yaml).toString('base64');
  return { yaml, credentials, hash };
}

/** Where the sidecar reads the sandbox's usage; the token goes into the credentials, the config names its file. */
function sandboxUsage(sandbox: AgentSandbox, usage: NonNullable<RenderInput['usage']>, credentials: Record<string, string>) {
  credentials[USAGE_TOKEN_FILE] = Buffer.from(usage.token).toString('base64');
  const path = `/usage/${encodeURIComponent(sandbox.metadata.namespace ?? 'default')}/${encodeURIComponent(sandbox.metadata.name)}`;
  return { url: `${usage.baseUrl.replace(/\/+$/, '')}${path}`, intervalMs: usage.intervalMs, tokenFile: `${CREDENTIALS_DIR}/${USAGE_TOKEN_FILE}` };
}

/** The collector's headers: the plain ones in the config, the secret ones as files of the credentials. */
function collectorHeaders(otlp: NonNullable<RenderInput['otlp']>, credentials: Record<string, string>) {
  const secret = otlp.secretHeaders ?? {};
  const plain = Object.entries(plainHeadersBesides(otlp.headers, secret)).map(([name, value]) => ({ name, value }));
  // Bound to the collector's origin as a provider key is to its provider's (ADR 16): a config
  // that names another collector (an edited ConfigMap) gets none of them.
  const origin = Buffer.from(new URL(otlp.endpoint).origin).toString('base64');
  const files = Object.entries(secret).map(([name, value], i) => {
    credentials[`otlp.header.${i}`] = value;
    credentials[`otlp.header.${i}${KEY_ORIGIN_SUFFIX}`] = origin;
    return { name, file: `${CREDENTIALS_DIR}/otlp.header.${i}`, requireOrigin: true };
  });
  return [...plain, ...files];
}

/** The origin a provider's requests go to: its baseURL's, or its type's default. */
function originOf(provider: ModelProvider): string {
  const url = provider.spec.baseURL ?? DEFAULT_BASE_URLS[provider.spec.type];
  // A keyed type without a default baseURL is refused by the sidecar's schema below anyway.
  return url ? new URL(url).origin : '';
}

/** A backend name (DNS subdomain) as a prefix (DNS label). */
function defaultPrefix(name: string): string {
  return name.replace(/\./g, '-').slice(0, 63).replace(/-+$/, '');
}

/** The allow and deny globs of a filter that sets them. */
function globs(filter: { allow?: string[] | undefined; deny?: string[] | undefined } | undefined): { allow?: string[]; deny?: string[] } {
  return { ...(filter?.allow ? { allow: filter.allow } : {}), ...(filter?.deny ? { deny: filter.deny } : {}) };
}
