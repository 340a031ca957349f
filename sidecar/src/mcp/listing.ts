/**
 * A backend's tools, resources, resource templates and prompts, page by page: the gateway's
 * side of the shared client module (client.ts), with the call timeout as a number.
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { fetchCatalog as fetchAll, fetchList as fetchOne, type BackendCatalog, type ListKind } from './client.js';

export type { BackendCatalog, ListKind } from './client.js';

/** An empty catalog. */
export const EMPTY_CATALOG: BackendCatalog = { tools: [], resources: [], resourceTemplates: [], prompts: [] };

/** Reads every list the backend's capabilities announce. */
export function fetchCatalog(client: Client, timeoutMs: number): Promise<BackendCatalog> {
  return fetchAll(client, { timeout: timeoutMs });
}

/** Reads one kind of list (resources include templates); empty when not announced. */
export function fetchList(client: Client, kind: ListKind, timeoutMs: number): Promise<Partial<BackendCatalog>> {
  return fetchOne(client, kind, { timeout: timeoutMs });
}
