/**
 * What a request asks the provider to reach on the agent's behalf: the web (hosted search and
 * fetch tools, URL context, search grounding), remote MCP servers (Anthropic's MCP connector,
 * OpenAI's `mcp` tool), and content by URL (images, documents and files the provider downloads).
 * Each is a way past the socket the agent did not have: data goes out in a URL or a tool call, and
 * comes back from a server no MCPBackend approved. A sandbox allows each by name
 * (`models.providerReach`); what it does not allow is refused before any provider sees the request.
 *
 * One walk per API over the parsed body (objects are loose: every key the client sent is here, as
 * the provider would read it). Keys are looked at where each API defines them; tool schemas,
 * tool-call arguments and text are never read, so a property named `image_url` is no reach.
 */
import type { ProviderReach } from '../config/schema.js';
import { AdapterError } from '../providers/types.js';

/** One thing a request asks the provider to reach, with the field that asks. */
export interface Reach {
  kind: ProviderReach;
  what: string;
  param: string;
}

type Json = Record<string, unknown>;

const DESCRIBED: Record<ProviderReach, string> = {
  web: 'the provider would search or fetch the web for the agent',
  mcp: 'the provider would call a remote MCP server for the agent',
  urls: 'the provider would download it for the agent',
};

/** The refusal of `reach` in a sandbox that does not allow it: a 400 naming the field and the setting. */
export function reachRefused(reach: Reach, sandbox: string): AdapterError {
  const message = `${reach.what} (${reach.param}) reaches past the sandbox: ${DESCRIBED[reach.kind]}, and sandbox ${sandbox} does not allow '${reach.kind}' in models.providerReach (AgentSandbox spec.models.providerReach)`;
  return new AdapterError({ status: 400, type: 'invalid_request_error', message, param: reach.param, code: 'provider_reach_not_allowed' });
}

/** OpenAI chat completions: `web_search_options`, and image parts by URL. */
export function chatReach(body: Json, allowed: ReadonlySet<ProviderReach>): Reach | undefined {
  if (!allowed.has('web') && body.web_search_options != null) return { kind: 'web', what: 'web_search_options', param: 'web_search_options' };
  if (allowed.has('urls') || !Array.isArray(body.messages)) return undefined;
  for (const [i, message] of body.messages.entries()) {
    const content = (message as Json | null)?.content;
    if (!Array.isArray(content)) continue;
    for (const [j, part] of content.entries()) {
      const url = ((part as Json | null)?.image_url as Json | null | undefined)?.url;
      if (fetched(url)) return { kind: 'urls', what: 'an image by URL', param: `messages[${i}].content[${j}].image_url.url` };
    }
  }
  return undefined;
}

/** OpenAI Responses: hosted web search and MCP tools, images and files by URL in the input. */
export function responsesReach(body: Json, allowed: ReadonlySet<ProviderReach>): Reach | undefined {
  if (Array.isArray(body.tools)) {
    for (const [i, tool] of body.tools.entries()) {
      const type = String((tool as Json | null)?.type);
      if (!allowed.has('web') && type.startsWith('web_search')) return { kind: 'web', what: `the hosted tool ${type}`, param: `tools[${i}]` };
      if (!allowed.has('mcp') && type === 'mcp') return { kind: 'mcp', what: 'the hosted tool mcp', param: `tools[${i}]` };
    }
  }
  if (allowed.has('urls') || !Array.isArray(body.input)) return undefined;
  for (const [i, item] of body.input.entries()) {
    const { content, output } = (item ?? {}) as Json;
    const parts = Array.isArray(content) ? content : Array.isArray(output) ? output : undefined;
    for (const [j, part] of (parts ?? []).entries()) {
      const { image_url: image, file_url: file } = (part ?? {}) as Json;
      const field = Array.isArray(content) ? 'content' : 'output';
      if (fetched(image)) return { kind: 'urls', what: 'an image by URL', param: `input[${i}].${field}[${j}].image_url` };
      if (fetched(file)) return { kind: 'urls', what: 'a file by URL', param: `input[${i}].${field}[${j}].file_url` };
    }
  }
  return undefined;
}

/** Anthropic Messages: `mcp_servers`, web search and fetch server tools, images and documents by URL. */
export function messagesReach(body: Json, allowed: ReadonlySet<ProviderReach>): Reach | undefined {
  if (!allowed.has('mcp') && Array.isArray(body.mcp_servers) && body.mcp_servers.length > 0) return { kind: 'mcp', what: 'mcp_servers', param: 'mcp_servers' };
  if (!allowed.has('web') && Array.isArray(body.tools)) {
    for (const [i, tool] of body.tools.entries()) {
      const type = (tool as Json | null)?.type;
      if (typeof type === 'string' && /^web_(search|fetch)_/.test(type)) return { kind: 'web', what: `the server tool ${type}`, param: `tools[${i}]` };
    }
  }
  if (allowed.has('urls') || !Array.isArray(body.messages)) return undefined;
  for (const [i, message] of body.messages.entries()) {
    const content = (message as Json | null)?.content;
    if (!Array.isArray(content)) continue;
    for (const [j, block] of content.entries()) {
      const found = blockByURL(block as Json | null, `messages[${i}].content[${j}]`);
      if (found) return found;
      // A tool result's own images and documents.
      const inner = (block as Json | null)?.type === 'tool_result' ? (block as Json).content : undefined;
      for (const [k, part] of (Array.isArray(inner) ? inner : []).entries()) {
        const nested = blockByURL(part as Json | null, `messages[${i}].content[${j}].content[${k}]`);
        if (nested) return nested;
      }
    }
  }
  return undefined;
}

function blockByURL(block: Json | null, param: string): Reach | undefined {
  const source = block?.source as Json | null | undefined;
  if (source?.type !== 'url' || !fetched(source.url)) return undefined;
  return { kind: 'urls', what: `${block?.type === 'document' ? 'a document' : 'an image'} by URL`, param: `${param}.source.url` };
}

/** Gemini tools that reach the web, in either spelling the API reads. */
const GEMINI_WEB_TOOLS = ['googleSearch', 'google_search', 'googleSearchRetrieval', 'google_search_retrieval', 'urlContext', 'url_context', 'googleMaps', 'google_maps', 'enterpriseWebSearch', 'enterprise_web_search'];

/** Gemini generateContent: search grounding and URL context tools, file data by a URL outside Google's file store. */
export function geminiReach(body: Json, allowed: ReadonlySet<ProviderReach>): Reach | undefined {
  if (!allowed.has('web') && Array.isArray(body.tools)) {
    for (const [i, tool] of body.tools.entries()) {
      const name = GEMINI_WEB_TOOLS.find((key) => (tool as Json | null)?.[key] != null);
      if (name) return { kind: 'web', what: `the tool ${name}`, param: `tools[${i}].${name}` };
    }
  }
  if (allowed.has('urls') || !Array.isArray(body.contents)) return undefined;
  for (const [i, content] of body.contents.entries()) {
    const parts = (content as Json | null)?.parts;
    for (const [j, part] of (Array.isArray(parts) ? parts : []).entries()) {
      const data = ((part as Json | null)?.fileData ?? (part as Json | null)?.file_data) as Json | null | undefined;
      const uri = data?.fileUri ?? data?.file_uri;
      if (fetched(uri) && !googleFile(uri as string)) return { kind: 'urls', what: 'file data by URL', param: `contents[${i}].parts[${j}].fileData.fileUri` };
    }
  }
  return undefined;
}

/** A URL the provider would download: http or https (data URLs and provider file ids are not). */
function fetched(url: unknown): boolean {
  return typeof url === 'string' && /^\s*https?:/i.test(url);
}

/** A file the Gemini API itself holds (uploaded through its Files API): no download. */
function googleFile(uri: string): boolean {
  try {
    const { protocol, hostname, pathname } = new URL(uri);
    return protocol === 'https:' && hostname === 'generativelanguage.googleapis.com' && /^\/v1[a-z0-9]*\/files\//.test(pathname);
  } catch {
    return false;
  }
}
