/**
 * MCPBackend: one MCP tool server a sandbox may use, how to reach it, which of its tools are
 * exposed, and which tool definitions are approved.
 */
import { z } from 'zod';
import { MCP_TRANSPORTS, McpTimeouts, PinnedPrompt, PinnedResource, PinnedTool } from '@airlock/sidecar/config';
import { API_VERSION, cel, type CelRule, commonStatus, CREDENTIAL_HEADERS, dnsLabel, globList, httpURL, listMap, notKeyShaped, ObjectMeta, RESERVED_HEADER_LIST, RESERVED_HEADER_MESSAGE, SecretKeyRef } from './common.js';

/** Tool states as the operator and the sidecar report them. */
export const TOOL_STATES = ['approved', 'pending', 'changed'] as const;

const valueOrSecret: CelRule = {
  rule: 'has(self.value) != has(self.secretKeyRef)',
  message: 'set exactly one of value and secretKeyRef',
};

/** Environment variable names that say they hold a secret. */
const SECRET_ENV_NAME = '(?i)(^|_)(API_?KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?|PRIVATE_KEY)$';

export const HeaderValue = z
  .object({
    name: z.string().min(1).max(256).regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/).describe('HTTP header name.'),
    // 4 KiB keeps the CEL rules below within the API server's cost budget; longer values belong in a Secret.
    value: z.string().max(4096).optional().describe('Literal value (at most 4 KiB); for anything secret use secretKeyRef.'),
    secretKeyRef: SecretKeyRef.optional(),
  })
  .meta(
    cel(
      valueOrSecret,
      notKeyShaped('value'),
      {
        rule: `!has(self.value) || !(self.name.lowerAscii() in ${CREDENTIAL_HEADERS})`,
        message: 'a credential header takes its value from secretKeyRef, never inline',
        fieldPath: '.value',
        reason: 'FieldValueForbidden',
      },
      { rule: `!(self.name.lowerAscii() in ${RESERVED_HEADER_LIST})`, message: RESERVED_HEADER_MESSAGE, fieldPath: '.name', reason: 'FieldValueForbidden' },
    ),
  )
  .describe('An HTTP header sent to the backend, from a literal or a Secret. Credentials (Authorization and the like, anything key-shaped) only from a Secret.');

export const EnvVar = z
  .object({
    name: z.string().min(1).max(256).regex(/^[A-Za-z_][A-Za-z0-9_]*$/).describe('Environment variable name.'),
    value: z.string().max(4096).optional().describe('Literal value (at most 4 KiB); for anything secret use secretKeyRef.'),
    secretKeyRef: SecretKeyRef.optional(),
  })
  .meta(
    cel(valueOrSecret, notKeyShaped('value'), {
      rule: `!has(self.value) || !self.name.matches(r'${SECRET_ENV_NAME}')`,
      message: 'a variable named like a secret (…_KEY, …_TOKEN, …_SECRET, …_PASSWORD) takes its value from secretKeyRef, never inline',
      fieldPath: '.value',
      reason: 'FieldValueForbidden',
    }),
  )
  .describe('An environment variable of the stdio server process, from a literal or a Secret. Secrets (names like …_TOKEN, anything key-shaped) only from a Secret.');

/** Optional allow/deny globs over the given kind of names. */
function globFilter(names: string) {
  return z
    .object({
      allow: globList(`Glob patterns of ${names} to expose; unset exposes all.`).optional(),
      deny: globList(`Glob patterns of ${names} never to expose; deny wins over allow.`).optional(),
    })
    .optional();
}

export const MCPBackendSpec = z
  .object({
    transport: z.enum(MCP_TRANSPORTS).describe('How the sidecar talks to the server: streamable-http (falls back to SSE when the server only speaks SSE), sse, or stdio (a process the pod\'s airlock-tools container starts for the sidecar, without the sidecar\'s keys).'),
    url: httpURL().optional().describe('Endpoint of a streamable-http or sse server. Required unless transport is stdio.'),
    headers: z.array(HeaderValue).max(64).meta(listMap('name')).optional().describe('HTTP headers sent to a streamable-http or sse server.'),
    stdio: z
      .object({
        command: z.string().min(1).max(4096).describe('Executable to start, looked up on the PATH of the sidecar image; it runs in the pod\'s airlock-tools container as its own UID, with only this env.'),
        args: z.array(z.string().max(32768)).max(256).optional().describe('Arguments of the command.'),
        env: z.array(EnvVar).max(64).meta(listMap('name')).optional().describe('Environment of the server process.'),
        processes: z
          .enum(['shared', 'per-session'])
          .optional()
          .describe('shared (default): one process serves every agent session, which then share its state; per-session: one process per agent session, ended with it.'),
        maxProcesses: z.int().min(1).max(1000).optional().describe('With per-session processes, the most running at once (default 16).'),
      })
      .optional()
      .describe('The server process to run when transport is stdio; present exactly then.'),
    prefix: dnsLabel()
      .optional()
      .describe('Namespace of this backend\'s tools, prompts and resources: tools appear as <prefix>__<tool>. A DNS label; defaults to the backend name.'),
    tools: globFilter('tool names').describe('Which of the backend\'s tools are exposed (names without the prefix).'),
    prompts: globFilter('prompt names').describe(
      'Which of the backend\'s prompts are exposed (names without the prefix). Unset: the tools filter applies to prompt names, so denying every tool hides every prompt.',
    ),
    resources: globFilter('resource URIs and URI templates').describe(
      'Which of the backend\'s resources and resource templates are exposed (the backend\'s own URIs; * matches / too). Unset: the tools filter applies to resource URIs.',
    ),
    approval: z
      .object({
        mode: z
          .enum(['auto', 'pinned'])
          .default('auto')
          .describe('auto exposes every allowed tool, prompt and resource; pinned exposes only those whose definition hash is pinned.'),
        pinned: z.array(PinnedTool).max(1024).meta(listMap('name')).optional().describe('Approved tool definitions, by name and sha256.'),
        pinnedPrompts: z.array(PinnedPrompt).max(1024).meta(listMap('name')).optional().describe('Approved prompt definitions, by name and sha256.'),
        pinnedResources: z
          .array(PinnedResource)
          .max(1024)
          .meta(listMap('name'))
          .optional()
          .describe('Approved resource and resource template definitions, by URI (or URI template) and sha256.'),
      })
      .meta(
        cel({
          rule: "self.mode != 'pinned' || (has(self.pinned) && size(self.pinned) > 0) || (has(self.pinnedPrompts) && size(self.pinnedPrompts) > 0) || (has(self.pinnedResources) && size(self.pinnedResources) > 0)",
          message: 'pinned mode needs at least one pinned tool, prompt or resource',
          fieldPath: '.pinned',
          reason: 'FieldValueRequired',
        }),
      )
      .prefault({})
      .describe('Approval of tools, prompts and resources: protects agents against tool poisoning and rug pulls.'),
    timeouts: z.prefault(McpTimeouts, {}),
  })
  .meta(
    cel(
      {
        rule: "self.transport == 'stdio' || has(self.url)",
        message: 'url is required unless transport is stdio',
        fieldPath: '.url',
        reason: 'FieldValueRequired',
      },
      {
        rule: "self.transport != 'stdio' || !has(self.url)",
        message: 'url must not be set when transport is stdio',
        fieldPath: '.url',
        reason: 'FieldValueForbidden',
      },
      {
        rule: "has(self.stdio) == (self.transport == 'stdio')",
        message: 'stdio must be set when transport is stdio, and only then',
        fieldPath: '.stdio',
      },
      {
        rule: "self.transport != 'stdio' || !has(self.headers)",
        message: 'headers apply to streamable-http and sse only; give a stdio server env instead',
        fieldPath: '.headers',
        reason: 'FieldValueForbidden',
      },
    ),
  )
  .describe('Desired state of the MCP backend.');

export const ToolStatus = z
  .object({
    name: z.string().min(1).max(128).describe('Tool name as the backend reports it.'),
    sha256: z
      .string()
      .regex(/^[a-f0-9]{64}$/)
      .describe('sha256 of the tool definition as clients see it (name, title, description, schemas, annotations, icons, execution, _meta; canonical JSON).'),
    state: z.enum(TOOL_STATES).describe('approved: exposed; pending: not pinned yet; changed: the definition differs from the pinned hash.'),
  })
  .describe('A tool the backend offers and its approval state.');

export const DefinitionStatus = z
  .object({
    name: z.string().min(1).max(2048).describe('Prompt name, resource URI or resource template URI template, as the backend reports it: what a pin names.'),
    sha256: z.string().regex(/^[a-f0-9]{64}$/).describe('sha256 of the definition as clients see it (the fields are listed in docs/adr/0009).'),
    state: z.enum(TOOL_STATES).describe('approved: exposed; pending: not pinned yet; changed: the definition differs from the pinned hash.'),
  })
  .describe('A prompt, resource or resource template the backend offers and its approval state.');

/** Most entries each status list holds (the most entries of one list the MCP client reads, too). */
export const MAX_STATUS_DEFINITIONS = 4096;

export const MCPBackendStatus = z
  .object({
    ...commonStatus,
    tools: z.array(ToolStatus).max(MAX_STATUS_DEFINITIONS).meta(listMap('name')).optional().describe('Tools discovered on the backend, with their hashes and states.'),
    prompts: z.array(DefinitionStatus).max(MAX_STATUS_DEFINITIONS).meta(listMap('name')).optional().describe('Prompts discovered on the backend, with their hashes and states.'),
    resources: z
      .array(DefinitionStatus)
      .max(MAX_STATUS_DEFINITIONS)
      .meta(listMap('name'))
      .optional()
      .describe('Resources and resource templates discovered on the backend (by URI and URI template), with their hashes and states.'),
    toolCount: z.int().min(0).optional().describe('Number of discovered tools.'),
    pendingCount: z.int().min(0).optional().describe('Tools, prompts and resources waiting for approval: pending or changed.'),
  })
  .describe('Observed state of the MCP backend. Conditions: Ready, Discovered.');

export const MCPBackend = z
  .object({
    apiVersion: z.literal(API_VERSION),
    kind: z.literal('MCPBackend'),
    metadata: ObjectMeta,
    spec: MCPBackendSpec,
    status: MCPBackendStatus.optional(),
  })
  .describe('An MCP tool server an AgentSandbox may use: transport, endpoint or process, tool filters and approvals.');

export type MCPBackendSpec = z.infer<typeof MCPBackendSpec>;
export type MCPBackendStatus = z.infer<typeof MCPBackendStatus>;
export type MCPBackend = z.infer<typeof MCPBackend>;
export type ToolState = (typeof TOOL_STATES)[number];
