/** Reads a backend's tools, resources, resource templates and prompts, page by page. */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { Prompt, Resource, ResourceTemplate, Tool } from '@modelcontextprotocol/sdk/types.js';
import { listAllTools, paginate } from './client.js';

/** What one backend offers, as it reported it. */
export interface BackendCatalog {
  tools: Tool[];
  resources: Resource[];
  resourceTemplates: ResourceTemplate[];
  prompts: Prompt[];
}

/** The lists a backend can announce changes of. */
export type ListKind = 'tools' | 'resources' | 'prompts';

/** An empty catalog. */
export const EMPTY_CATALOG: BackendCatalog = { tools: [], resources: [], resourceTemplates: [], prompts: [] };

/** Reads every list the backend's capabilities announce. */
export async function fetchCatalog(client: Client, timeoutMs: number): Promise<BackendCatalog> {
  const [tools, resources, prompts] = await Promise.all([
    fetchList(client, 'tools', timeoutMs),
    fetchList(client, 'resources', timeoutMs),
    fetchList(client, 'prompts', timeoutMs),
  ]);
  return { ...tools, ...resources, ...prompts };
}

/** Reads one kind of list (resources include templates); empty when not announced. */
export async function fetchList(client: Client, kind: 'tools', timeoutMs: number): Promise<Pick<BackendCatalog, 'tools'>>;
export async function fetchList(client: Client, kind: 'resources', timeoutMs: number): Promise<Pick<BackendCatalog, 'resources' | 'resourceTemplates'>>;
export async function fetchList(client: Client, kind: 'prompts', timeoutMs: number): Promise<Pick<BackendCatalog, 'prompts'>>;
export async function fetchList(client: Client, kind: ListKind, timeoutMs: number): Promise<Partial<BackendCatalog>>;
export async function fetchList(client: Client, kind: ListKind, timeoutMs: number): Promise<Partial<BackendCatalog>> {
  const capabilities = client.getServerCapabilities() ?? {};
  const options = { timeout: timeoutMs };
  switch (kind) {
    case 'tools':
      return { tools: await listAllTools(client, options) };
    case 'prompts':
      return { prompts: capabilities.prompts ? await paginate((cursor) => client.listPrompts({ cursor }, options), (r) => r.prompts) : [] };
    case 'resources': {
      if (!capabilities.resources) return { resources: [], resourceTemplates: [] };
      const [resources, resourceTemplates] = await Promise.all([
        paginate((cursor) => client.listResources({ cursor }, options), (r) => r.resources),
        paginate((cursor) => client.listResourceTemplates({ cursor }, options), (r) => r.resourceTemplates),
      ]);
      return { resources, resourceTemplates };
    }
  }
}
