/**
 * ModelProvider: one upstream model API (OpenAI, Anthropic, Gemini, Ollama or any
 * OpenAI-compatible server), the models it serves, and how to call it.
 */
import { z } from 'zod';
import { ModelEntry, PROVIDER_TYPES, ProviderRetries, ProviderTimeouts, RateLimits } from '@airlock/sidecar/config';
import { API_VERSION, cel, commonStatus, CREDENTIAL_HEADERS, httpBaseURL, RESERVED_HEADER_LIST, RESERVED_HEADER_MESSAGE, listMap, listSet, ObjectMeta, objectName, secretDataKey } from './common.js';

const KEYLESS_TYPES = "['ollama', 'openai-compatible']";


export const ModelProviderSpec = z
  .object({
    type: z.enum(PROVIDER_TYPES).describe('Wire protocol of the provider: openai, anthropic, gemini, ollama or openai-compatible.'),
    baseURL: httpBaseURL()
      .optional()
      .describe('Base URL of the provider API, without a query or fragment (paths are appended to it). Defaults per type: https://api.openai.com/v1, https://api.anthropic.com, https://generativelanguage.googleapis.com, http://127.0.0.1:11434. Required for openai-compatible. The sidecar looks a host with a dot (ollama.models) up without the sandbox namespace\'s own DNS search domain, so ollama.models is the Service ollama of the namespace models, never a pod of the sandbox\'s namespace.'),
    apiKeys: z
      .array(
        z
          .object({
            secretName: objectName('Secret holding the key'),
            key: secretDataKey(),
          })
          .describe('One API key, read from a Secret in the same namespace.'),
      )
      .max(32)
      .meta(listMap('secretName', 'key'))
      .optional()
      .describe('API keys; with several, the sidecar rotates among them and rests keys that hit rate limits. Required unless type is ollama or openai-compatible.'),
    models: z
      .array(ModelEntry)
      .min(1)
      .max(512)
      .meta(listMap('name'))
      .describe('Models this provider serves; names must be unique.'),
    priority: z.int().min(0).max(1000).default(0).describe('Failover tier: providers with a lower priority are tried first.'),
    weight: z.int().min(1).max(1000).default(1).describe('Share of traffic among providers of the same priority.'),
    // ProviderTimeouts is zod/mini: a classic object over its shape takes the CEL rules.
    timeouts: z
      .object(ProviderTimeouts.shape)
      .meta(
        cel(
          { rule: 'self.firstByteMs <= self.totalMs', message: 'firstByteMs must not exceed totalMs', fieldPath: '.firstByteMs' },
          { rule: 'self.connectMs <= self.totalMs', message: 'connectMs must not exceed totalMs', fieldPath: '.connectMs' },
        ),
      )
      .prefault({})
      .describe('Timeouts for calls to this provider.'),
    retries: z
      .prefault(ProviderRetries, {})
      .describe('Retries on this provider before failing over to the next.'),
    limits: z.optional(RateLimits).describe('Limits the sidecar enforces for this provider.'),
    headers: z
      .record(z.string().min(1).max(256).regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/), z.string().max(8192))
      .meta({
        maxProperties: 64,
        ...cel(
          {
            rule: `self.all(h, !(h.lowerAscii() in ${CREDENTIAL_HEADERS}))`,
            message: 'credential headers are not allowed here: put keys in apiKeys, which are read from Secrets',
          },
          { rule: `self.all(h, h.matches('^[A-Za-z0-9!#$%&*+.^_|~-]+$'))`, message: 'header names must be HTTP tokens' },
          { rule: `self.all(h, !(h.lowerAscii() in ${RESERVED_HEADER_LIST}))`, message: RESERVED_HEADER_MESSAGE },
        ),
      })
      .optional()
      .describe('Extra non-secret HTTP headers sent with every request to this provider.'),
    egress: z
      .object({
        cidrs: z
          .array(z.string().max(64))
          .max(64)
          .meta({ ...listSet, ...cel({ rule: 'self.all(c, isCIDR(c))', message: 'each entry must be a CIDR such as 203.0.113.0/24' }) })
          .describe('CIDRs the sidecar may reach for this provider.'),
      })
      .optional()
      .describe('Network destinations of this provider, opened in the sandbox NetworkPolicy.'),
    probe: z
      .object({
        enabled: z.boolean().default(false).describe('Whether the operator lists the provider\'s models with one key to set Reachable and discoveredModels.'),
        intervalSeconds: z.int().min(30).max(86_400).default(600).describe('Seconds between probes.'),
      })
      .optional()
      .describe('Opt-in reachability probe run by the operator (it calls the provider from the operator pod).'),
  })
  .meta(
    cel(
      {
        rule: `self.type in ${KEYLESS_TYPES} || (has(self.apiKeys) && size(self.apiKeys) > 0)`,
        message: 'apiKeys is required unless type is ollama or openai-compatible',
        fieldPath: '.apiKeys',
        reason: 'FieldValueRequired',
      },
      {
        rule: "self.type == 'ollama' || self.models.all(m, !has(m.numCtx))",
        message: "numCtx is Ollama's num_ctx: only a provider of type ollama takes it",
        fieldPath: '.models',
      },
      {
        rule: "self.type != 'openai-compatible' || has(self.baseURL)",
        message: 'baseURL is required when type is openai-compatible',
        fieldPath: '.baseURL',
        reason: 'FieldValueRequired',
      },
    ),
  )
  .describe('Desired state of the provider.');

/** Most models the status lists (`discoveredModels`), and the longest id it holds. */
export const MAX_DISCOVERED_MODELS = 2048;
export const MAX_MODEL_ID_LENGTH = 256;

export const ModelProviderStatus = z
  .object({
    ...commonStatus,
    modelCount: z.int().min(0).optional().describe('Number of models the provider serves (spec.models), for the MODELS column.'),
    discoveredModels: z
      .array(z.string().max(MAX_MODEL_ID_LENGTH))
      .max(MAX_DISCOVERED_MODELS)
      .meta(listSet)
      .optional()
      .describe('Models the provider listed when the Reachable probe last ran.'),
  })
  .describe('Observed state of the provider. Conditions: Ready, SecretsResolved, Reachable.');

export const ModelProvider = z
  .object({
    apiVersion: z.literal(API_VERSION),
    kind: z.literal('ModelProvider'),
    metadata: ObjectMeta,
    spec: ModelProviderSpec,
    status: ModelProviderStatus.optional(),
  })
  .describe('A model provider an AgentSandbox may route to: its type, endpoint, keys, models, failover tier and limits.');

export type ModelProviderSpec = z.infer<typeof ModelProviderSpec>;
export type ModelProviderStatus = z.infer<typeof ModelProviderStatus>;
export type ModelProvider = z.infer<typeof ModelProvider>;
