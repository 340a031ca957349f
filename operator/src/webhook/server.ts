/**
 * The webhook's HTTP surface. `buildWebhookApp` returns an app with no socket (the sidecar's
 * router on `node:http`, ADR 0024); `serve` puts it behind an HTTPS server whose certificate can
 * be replaced while it runs, so certificate rotation never drops the webhook.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { HttpApp, JSON_UTF8, PLAIN_ANSWERS, plainError, writeJson } from '@airlock/sidecar/http';
import { pino, type Logger } from 'pino';
import { admit, AdmissionReviewRequest, type AdmissionResponse, type ForeignCredentials, type ReferencedSecrets, type SandboxLookup } from './admission.js';
import { SpanKind } from '@opentelemetry/api';
import type { OperatorMetrics } from '../telemetry/metrics.js';
import { inSpan } from '../telemetry/spans.js';
import type { InjectionSettings } from './settings.js';

/** Options of {@link buildWebhookApp}. */
export interface WebhookAppOptions {
  /** Finds the AgentSandbox a pod names (from the informer cache, normally). */
  lookupSandbox: SandboxLookup;
  /** The Secrets a namespace's ModelProviders and MCPBackends reference (from the informer caches). */
  referencedSecrets?: ReferencedSecrets;
  /** Whether a sandbox's credentials Secret is someone else's (admission.ts). */
  foreignCredentials?: ForeignCredentials;
  settings: InjectionSettings;
  /** The operator's pino logger; silent when omitted. */
  logger?: Logger;
  /** Counts each decision; none when omitted. */
  metrics?: OperatorMetrics;
}

/**
 * The API server sends the whole pod (and on UPDATE the old one too); pods may hold large
 * annotations and env, so the default 1 MiB limit would fail admission for legitimate pods.
 */
const BODY_LIMIT = 8 * 1024 * 1024;

/** Builds the webhook app: `POST /mutate` takes and answers an `admission.k8s.io/v1` AdmissionReview. */
export function buildWebhookApp(options: WebhookAppOptions): HttpApp {
  const logger = options.logger ?? pino({ enabled: false });
  const app = new HttpApp({ bodyLimit: BODY_LIMIT, ...PLAIN_ANSWERS });
  const onError = plainError(logger);
  app.router.add(
    'POST',
    '/mutate',
    async (request, res) => {
      const json = jsonOf(request.body);
      if ('refused' in json) return writeJson(res, 400, { error: `not an admission.k8s.io/v1 AdmissionReview: ${json.refused}` }, JSON_UTF8);
      const review = AdmissionReviewRequest.safeParse(json.value);
      if (!review.success) {
        // Not something the API server sends; a non-200 makes it apply the failure policy (Fail).
        const issue = review.error.issues[0];
        const where = (issue?.path ?? []).map(String).join('.') || '<root>';
        return writeJson(res, 400, { error: `not an admission.k8s.io/v1 AdmissionReview: ${where}: ${issue?.message ?? 'invalid'}` }, JSON_UTF8);
      }
      const { operation, namespace, name, subResource } = review.data.request;
      const attributes = { 'k8s.namespace.name': namespace ?? '', 'k8s.pod.name': name ?? '', 'airlock.admission.operation': operation, 'airlock.admission.subresource': subResource ?? '' };
      return inSpan(
        `admission ${operation}`,
        attributes,
        async (span) => {
          const timer = options.metrics?.admissionDuration.startTimer();
          const answer = await admit(review.data, {
            lookupSandbox: options.lookupSandbox,
            ...(options.referencedSecrets ? { referencedSecrets: options.referencedSecrets } : {}),
            ...(options.foreignCredentials ? { foreignCredentials: options.foreignCredentials } : {}),
            settings: options.settings,
            logger,
          });
          timer?.();
          const labels = decisionLabels(review.data, answer.response);
          options.metrics?.admissions.inc(labels);
          span.setAttributes({ 'airlock.admission.result': labels.result, 'airlock.admission.reason': labels.reason });
          return answer;
        },
        { kind: SpanKind.SERVER, headers: request.headers },
      );
    },
    { onError },
  );
  return app;
}

/**
 * `"__proto__"` or `"constructor"` as a key, in any spelling JSON allows: a cheap test before the
 * slower checking parse, as secure-json-parse (fastify's JSON parser, which the webhook had) does.
 */
const SUSPECT_KEY =
  /"(?:_|\\u005[Ff])(?:_|\\u005[Ff])(?:p|\\u0070)(?:r|\\u0072)(?:o|\\u006[Ff])(?:t|\\u0074)(?:o|\\u006[Ff])(?:_|\\u005[Ff])(?:_|\\u005[Ff])"\s*:|"(?:c|\\u0063)(?:o|\\u006[Ff])(?:n|\\u006[Ee])(?:s|\\u0073)(?:t|\\u0074)(?:r|\\u0072)(?:u|\\u0075)(?:c|\\u0063)(?:t|\\u0074)(?:o|\\u006[Ff])(?:r|\\u0072)"\s*:/;

class ForbiddenKey extends Error {}

/** Refuses the keys that could set an object's prototype once copied by assignment (`__proto__`, `constructor.prototype`). */
function forbidPrototypeKeys(key: string, value: unknown): unknown {
  if (key === '__proto__') throw new ForbiddenKey('the body holds a "__proto__" key');
  if (key === 'constructor' && typeof value === 'object' && value !== null && Object.hasOwn(value, 'prototype')) throw new ForbiddenKey('the body holds a "constructor.prototype" key');
  return value;
}

/**
 * A JSON body parsed (undefined when there is none or it is not JSON: the schema then says what is
 * wrong), or why it is refused: a `__proto__` or `constructor.prototype` key, which fastify's
 * parser refused too.
 */
function jsonOf(body: Buffer | string | undefined): { value: unknown } | { refused: string } {
  if (!Buffer.isBuffer(body)) return { value: undefined };
  const text = body.toString('utf8');
  try {
    return { value: JSON.parse(text, SUSPECT_KEY.test(text) ? forbidPrototypeKeys : undefined) };
  } catch (err) {
    return err instanceof ForbiddenKey ? { refused: err.message } : { value: undefined };
  }
}

/** Options of {@link serve}. */
export interface ServeOptions {
  /** A built (not listening) app, e.g. from {@link buildWebhookApp}. */
  app: HttpApp;
  /** Serving certificate chain, PEM. */
  certPem: string;
  /** Its private key, PEM. */
  keyPem: string;
  /** 0 picks a free port. */
  port: number;
  host?: string;
}

/** A running HTTPS webhook server. */
export interface WebhookServer {
  /** The port actually bound. */
  port: number;
  server: Server;
  /**
   * Serves a new certificate to new connections; connections already open keep theirs. Throws,
   * leaving the current certificate in place, when the PEMs are invalid or do not match.
   */
  setCertificate(certPem: string, keyPem: string): void;
  /** Stops accepting connections and waits for open ones; the app itself is left to its owner. */
  close(): Promise<void>;
}

/**
 * Serves `app` over HTTPS. The app handles the requests of a TLS server of this module's rather
 * than listening itself, so the server (and its hot-swappable secure context) belongs here.
 */
export async function serve(options: ServeOptions): Promise<WebhookServer> {
  const { app } = options;
  // The API server speaks TLS 1.2 and 1.3; nothing older is worth accepting.
  const server = createServer({ cert: options.certPem, key: options.keyPem, minVersion: 'TLSv1.2' }, (req, res) => app.handle(req, res));
  server.listen(options.port, options.host ?? '0.0.0.0');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    server,
    setCertificate(certPem, keyPem) {
      server.setSecureContext({ cert: certPem, key: keyPem, minVersion: 'TLSv1.2' });
    },
    async close() {
      const closed = once(server, 'close');
      server.close();
      server.closeIdleConnections();
      await closed;
    },
  };
}

/** Bounded labels of one decision: the operation, allowed/patched/denied, and the Kubernetes reason. */
function decisionLabels(review: AdmissionReviewRequest, response: AdmissionResponse): { operation: string; result: string; reason: string } {
  const result = !response.allowed ? 'denied' : response.patch ? 'patched' : 'allowed';
  return { operation: review.request.operation, result, reason: response.status?.reason ?? (response.allowed ? 'Allowed' : 'Denied') };
}
