/**
 * The ModelProvider reachability probe: lists the provider's models with one key, through the
 * same adapter the sidecar uses (so the probe speaks each provider's real wire format), and turns
 * every failure into a short reason a human can act on. The key never appears in a reason.
 */
import { DEFAULT_BASE_URLS, type ProviderType } from '@airlock/sidecar/config';
import { adapterFor, type UpstreamRequest } from '@airlock/sidecar/providers';
import { ProviderClient, UpstreamFailure } from '@airlock/sidecar/upstream';
import { endpointOf, errorText, finishReason, httpReason, isTimeout, networkReason, redactor } from './reasons.js';

/** What one probe needs: the provider's spec fields, one resolved key, and a time budget. */
export interface ProbeTarget {
  type: ProviderType;
  /** The spec's baseURL; the type's default when unset (openai-compatible has none). */
  baseURL?: string | undefined;
  /** One key of the provider; undefined for keyless providers. */
  apiKey?: string | undefined;
  /** The spec's non-secret headers. */
  headers: Record<string, string>;
  /** Budget for the whole probe: connect, response headers and body. */
  timeoutMs: number;
}

/** The outcome of a probe: the model names the provider listed, or why the listing failed. */
export type ProbeResult = { ok: true; models: string[] } | { ok: false; reason: string };

/** Connecting takes at most this long even when the probe's budget is larger. */
const CONNECT_TIMEOUT_MS = 10_000;
/** A model list is a few hundred kB at most; anything far larger is not one. */
const MAX_RESPONSE_BYTES = 8 * 1024 * 1024;

// The sidecar's HTTP client (one way to call a provider), one per probe budget: providers are few
// and probed every few minutes, and the budget is the same for all of them in practice.
const clients = new Map<number, ProviderClient>();

function clientFor(timeoutMs: number): ProviderClient {
  let client = clients.get(timeoutMs);
  if (!client) {
    client = new ProviderClient({ name: 'probe', timeouts: { connectMs: Math.min(CONNECT_TIMEOUT_MS, timeoutMs), firstByteMs: timeoutMs, idleMs: timeoutMs }, maxResponseBytes: MAX_RESPONSE_BYTES });
    clients.set(timeoutMs, client);
  }
  return client;
}

/**
 * Lists the provider's models with one key.
 *
 * Resolves (never rejects) with the model names as the provider knows them, de-duplicated and
 * sorted so a status written from them changes only when the listing does, or with a one-line
 * reason: the HTTP status and a fixed reason for an error answer (e.g.
 * `GET https://api.openai.com/v1/models: 401 Unauthorized: the server refused the credentials`),
 * `connection refused`, a timeout, a TLS problem. Nothing of the answer's body is repeated (the
 * baseURL is the resource author's choice); the key and header values are redacted as well.
 */
export async function probeProvider(target: ProbeTarget): Promise<ProbeResult> {
  const redact = redactor([target.apiKey, ...Object.values(target.headers)]);
  const fail = (reason: string): ProbeResult => ({ ok: false, reason: finishReason(reason, redact) });

  const baseURL = (target.baseURL ?? DEFAULT_BASE_URLS[target.type])?.replace(/\/+$/, '');
  if (!baseURL) return fail(`type ${target.type} needs a baseURL`);
  const adapter = adapterFor(target.type);
  let request: UpstreamRequest;
  try {
    request = adapter.modelsRequest({ baseURL, apiKey: target.apiKey, headers: target.headers });
  } catch (err) {
    return fail(`cannot build the models request: ${errorText(err)}`);
  }
  const where = `${request.method} ${endpointOf(request.url)}`;

  let status: number;
  let bodyText: string;
  try {
    const response = await clientFor(target.timeoutMs).whole(request, target.timeoutMs);
    status = response.status;
    bodyText = response.body.toString('utf8');
  } catch (err) {
    return fail(`${where}: ${transportReason(err, target.timeoutMs)}`);
  }

  if (status < 200 || status >= 300) {
    // The adapter's reading of the answer decides the status shown (Gemini's 400
    // API_KEY_INVALID is a 401); the real one is named when they differ. Its message is not shown.
    const read = adapter.error(status, bodyText).status;
    return fail(`${where}: ${httpReason(read)}${read === status ? '' : ` (HTTP ${status})`}`);
  }

  let body: unknown;
  try {
    body = JSON.parse(bodyText);
  } catch {
    return fail(`${where}: ${status} with a body that is not JSON`);
  }
  try {
    const models = [...new Set(adapter.modelsResponse(body))].sort(compareCodeUnits);
    return { ok: true, models };
  } catch {
    return fail(`${where}: ${status} with a body that is not a ${target.type} model list`);
  }
}

function transportReason(err: unknown, timeoutMs: number): string {
  if (isTimeout(err) || (err instanceof UpstreamFailure && err.kind === 'timeout')) return `no answer within ${timeoutMs} ms (timeout)`;
  return networkReason(err) ?? errorText(err);
}

/** Locale-independent order, so every operator replica sorts the same way. */
function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
