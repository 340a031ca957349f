/** URL and header building shared by the adapters. */
import type { UpstreamRequest, UpstreamTarget } from '../types.js';

/** base + path, tolerating a trailing slash on base. */
export function joinURL(base: string, path: string): string {
  return base.endsWith('/') ? base.slice(0, -1) + path : base + path;
}

/**
 * base + path where the API lives under a version prefix (`/v1`, `/v1beta`). A base that already
 * ends with a version segment is used as is, so both `https://api.anthropic.com` and
 * `https://api.anthropic.com/v1` work.
 */
export function versionedURL(base: string, version: string, path: string): string {
  const trimmed = base.endsWith('/') ? base.slice(0, -1) : base;
  return /\/v\d+(?:alpha|beta)?\d*$/.test(trimmed) ? trimmed + path : `${trimmed}/${version}${path}`;
}

/**
 * Headers for a call: the provider's fixed headers, then the configured non-secret ones, then
 * authentication last so configuration can never replace or remove it. Configured names are
 * lower-cased so `Content-Type` does not end up next to `content-type`.
 */
export function buildHeaders(
  fixed: Record<string, string>,
  configured: Record<string, string>,
  auth: Record<string, string> | undefined,
): Record<string, string> {
  const headers: Record<string, string> = { ...fixed };
  for (const name in configured) headers[name.toLowerCase()] = configured[name] as string;
  if (auth) Object.assign(headers, auth);
  return headers;
}

/**
 * A JSON POST whose body is translated and serialised when first read, once. A pass-through call
 * sends the client's own bytes instead (relay/attempt.ts) and never reads it, so it pays for
 * neither the translation nor the serialisation. Translation errors (AdapterError) are thrown by
 * that first read.
 */
export function postJSON(url: string, headers: Record<string, string>, translate: () => unknown): UpstreamRequest {
  let text: string | undefined;
  return {
    method: 'POST',
    url,
    headers,
    get body() {
      return (text ??= JSON.stringify(translate()));
    },
  };
}

/** A GET: the same headers less content-type, as there is no body. */
export function get(url: string, headers: Record<string, string>): UpstreamRequest {
  const { 'content-type': _bodyless, ...rest } = headers;
  return { method: 'GET', url, headers: rest };
}

/** The fixed JSON headers. */
export const JSON_HEADERS: Readonly<Record<string, string>> = { 'content-type': 'application/json' };

/** A target without model, as modelsRequest receives it. */
export type ModelessTarget = Omit<UpstreamTarget, 'model'>;
