/**
 * Building blocks shared by the three Airlock kinds. Every schema here carries a description,
 * because the descriptions become the CRDs' `kubectl explain` text.
 */
import { GLOB_RULE } from '@airlock/sidecar/config';
import { z } from 'zod';
import { KEY_SHAPE_PATTERN } from '@airlock/sidecar/redact';
import { RESERVED_HEADERS } from '@airlock/sidecar/upstream';

/** API group of every Airlock kind. */
export const GROUP = 'airlock.dev';
/** The one served and stored version. */
export const VERSION = 'v1alpha1';
/** `apiVersion` of every Airlock object. */
export const API_VERSION = `${GROUP}/${VERSION}`;

/** A CEL rule as the API server takes it in `x-kubernetes-validations`. */
export interface CelRule {
  rule: string;
  message: string;
  /** JSONPath relative to the node carrying the rule, so the error names the field. */
  fieldPath?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
}

/** Attaches CEL rules to a schema node. */
export function cel(...rules: CelRule[]) {
  return { 'x-kubernetes-validations': rules };
}

/** Marks an array of objects as a map keyed by the given fields: the API server rejects duplicates. */
export function listMap(...keys: string[]) {
  return { 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': keys };
}

/** Marks an array of scalars as a set: the API server rejects duplicates. */
export const listSet = { 'x-kubernetes-list-type': 'set' } as const;

const DNS_LABEL = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';

/** The name of another object in the same namespace (a DNS subdomain). */
export const objectName = (what: string) =>
  z
    .string()
    .min(1)
    .max(253)
    .regex(new RegExp(`^${DNS_LABEL}(\\.${DNS_LABEL})*$`))
    .describe(`Name of the ${what} in the same namespace.`);

/** A DNS label (RFC 1123): lower-case alphanumerics and '-', at most 63 characters. */
export const dnsLabel = () => z.string().min(1).max(63).regex(new RegExp(`^${DNS_LABEL}$`));

/** A key of a Secret's data. */
export const secretDataKey = () =>
  z
    .string()
    .min(1)
    .max(253)
    .regex(/^[-._a-zA-Z0-9]+$/)
    .describe('Key within the Secret\'s data.');

/**
 * Headers the sidecar's client sets itself (a CEL list): where a request goes and how it is framed.
 * A Host beside a baseURL sent a key bound to one host (ADR 16) to another virtual host.
 */
export const RESERVED_HEADER_LIST = `[${RESERVED_HEADERS.map((h) => `'${h}'`).join(', ')}]`;
export const RESERVED_HEADER_MESSAGE = 'Host, Content-Length, Transfer-Encoding, Connection, Upgrade, Forwarded, X-Forwarded-Host and the like are set by the sidecar: the baseURL or url says where requests go';

/** Headers that carry credentials (a CEL list): their values come from Secrets, never inline. */
export const CREDENTIAL_HEADERS = "['authorization', 'proxy-authorization', 'x-api-key', 'x-goog-api-key', 'api-key', 'cookie', 'x-auth-token']";

/**
 * CEL: `field` of `self`, when set, is no inline secret (nothing key-shaped: the same shapes the
 * redaction module removes). A raw CEL string, so the pattern's backslashes stay as they are.
 */
export const notKeyShaped = (field: string): CelRule => ({
  rule: `!has(self.${field}) || !self.${field}.matches(r'${KEY_SHAPE_PATTERN}')`,
  message: `${field} looks like a key or token: keep it in a Secret labelled airlock.dev/credential: "true" and use secretKeyRef`,
  fieldPath: `.${field}`,
  reason: 'FieldValueForbidden',
});

/** A reference to one key of a Secret in the same namespace. */
export const SecretKeyRef = z
  .object({
    name: objectName('Secret'),
    key: secretDataKey(),
  })
  .describe('A key of a Secret in the same namespace. The value is mounted into the sidecar only.');

/** An http(s) URL. */
export const httpURL = () =>
  z
    .string()
    .min(1)
    .max(2048)
    .regex(/^https?:\/\/[^\s/?#]+[^\s]*$/);

/**
 * An http(s) URL that paths are appended to (a provider's base URL): no query or fragment, which
 * would turn what is appended (`/models`, `/chat/completions`) into a query or a fragment and
 * have the operator's probe and the sidecar call whatever path the base names.
 */
export const httpBaseURL = () =>
  z
    .string()
    .min(1)
    .max(2048)
    .regex(/^https?:\/\/[^\s/?#]+[^\s?#]*$/);

/** A list of glob patterns, matched by the sidecar's one glob rule (GLOB_RULE). */
export const globList = (what: string) =>
  z
    .array(z.string().min(1).max(256))
    .max(256)
    .meta(listSet)
    .describe(`${what} Globs: ${GLOB_RULE}.`);

/** A standard Kubernetes condition (metav1.Condition). */
export const Condition = z
  .object({
    type: z.string().min(1).max(316).regex(/^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$/).describe('Type of condition in CamelCase, e.g. Ready.'),
    status: z.enum(['True', 'False', 'Unknown']).describe('Status of the condition: True, False or Unknown.'),
    observedGeneration: z.int().min(0).optional().describe('The .metadata.generation the condition was set from.'),
    lastTransitionTime: z.string().describe('When the condition last changed status (RFC 3339).'),
    reason: z.string().min(1).max(1024).regex(/^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/).describe('Machine-readable CamelCase reason for the last transition.'),
    message: z.string().max(32768).describe('Human-readable details about the last transition.'),
  })
  .describe('A standard condition.');

/** Status fields every Airlock kind has. */
export const commonStatus = {
  observedGeneration: z.int().min(0).optional().describe('The .metadata.generation this status was computed from.'),
  conditions: z.array(Condition).max(32).meta(listMap('type')).optional().describe('Standard conditions; Ready summarises the others.'),
};

/** Object metadata as the operator reads it; the API server owns its validation. */
export const ObjectMeta = z
  .looseObject({
    name: z.string(),
    namespace: z.string().optional(),
    uid: z.string().optional(),
    generation: z.int().optional(),
    resourceVersion: z.string().optional(),
    labels: z.record(z.string(), z.string()).optional(),
    annotations: z.record(z.string(), z.string()).optional(),
  })
  .describe('Standard object metadata.');
