/**
 * What a request asks the provider to reach on the agent's behalf: the web (hosted search and
 * fetch tools, URL context, search grounding, hosted containers with network access), remote MCP
 * servers (Anthropic's MCP connector, OpenAI's and Gemini's `mcp` tools), and content by URL
 * (images, documents and files the provider downloads). Each is a way past the socket the agent
 * did not have: data goes out in a URL or a tool call, and comes back from a server no MCPBackend
 * approved. A sandbox allows each by name (`models.providerReach`); what it does not allow is
 * refused before any provider sees the request.
 *
 * Fail-closed, for every model API the same (ADR 27):
 * - a hosted tool is reach unless its type is known to run on the client or in the provider's own
 *   sandbox without the network (an allowlist per API, so a tool type added next month is refused
 *   until it is looked at);
 * - any string anywhere in the body that is a URL a provider could fetch (http, https, gs, `//host`,
 *   whatever case, whatever control characters before it) is reach, except where text and tool
 *   arguments live (what the model reads, not what the provider fetches) and files the Gemini API
 *   holds itself.
 * The parsed body is what is walked: every key of every spelling is there (`fileData` beside
 * `file_data`), as the provider would read it.
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

/** The API a request is written in, for where its tools are. */
export type ReachAPI = 'openai' | 'responses' | 'anthropic' | 'gemini';

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

/**
 * Keys whose values are text the model reads, tool schemas, or tool-call arguments and results
 * the agent's own tools produce: a URL there is words, not a fetch. Everything else is walked.
 */
const TEXT_KEYS = new Set([
  'text',
  'arguments',
  'args',
  'partial_json',
  'parameters',
  'input_schema',
  'parametersJsonSchema',
  'parameters_json_schema',
  'response',
  'description',
  'instructions',
  'thinking',
  'signature',
  'thought_signature',
  'thoughtSignature',
  'encrypted_content',
  'data',
  'refusal',
  'summary',
  'schema',
  'json_schema',
  'responseSchema',
  'response_schema',
  'responseJsonSchema',
  'response_json_schema',
  'metadata',
  'user',
  'stop',
  'stop_sequences',
  'stopSequences',
  'name',
  'title',
  'citations',
  'annotations',
  'context',
  'stdout',
  'stderr',
]);

/**
 * Records of calls of tools that run on the client or in the provider's sandbox without the
 * network, and of what the provider's sandbox made, as clients send them back in a conversation:
 * their arguments (a shell command naming a URL, code that printed one, a file search hit's
 * source) are nobody's fetch. The outputs a client gives back (`*_output`) are walked like a
 * function's: a custom tool's output may be images and files by URL, which OpenAI downloads.
 */
const QUIET_RECORDS = /^(local_shell_call|shell_call|code_interpreter_call|file_search_call|computer_call|image_generation_call|custom_tool_call|tool_search_call|(bash_|text_editor_)?code_execution_tool_result|tool_search_tool_result)$/;

/**
 * Responses input items that load tools into the model's toolset for the rest of the
 * conversation (a client-run tool search's result, a developer's additional tools): their `tools`
 * are checked as the request's own are.
 */
const TOOL_RECORDS = new Set(['tool_search_output', 'additional_tools']);

/** Keys that hold the words of a message when they are a string (`content: "…"`), parts when a list. */
const TEXT_WHEN_STRING = new Set(['content', 'output', 'system', 'systemInstruction', 'system_instruction', 'prompt', 'input']);

/** Top-level keys the tool check has looked at (their URLs are the tools' own: an MCP server's, a container's allowed domains). */
const TOOL_KEYS = new Set(['tools', 'mcp_servers']);

/** Top-level fields that turn on a provider's own web search (OpenAI chat, OpenRouter, xAI). */
const WEB_FIELDS = ['web_search_options', 'plugins', 'search_parameters'];

/**
 * Hosted tool types that reach nothing for the agent: run by the client (computer use, shells and
 * editors the client executes, apply_patch), or in the provider's sandbox without the network
 * (code interpreter and execution, file search over the organisation's stores, image
 * generation, tool search). Function and custom tools are the client's. Everything else is web.
 */
const QUIET_TOOLS = /^(function|custom|file_search|code_interpreter|image_generation|computer_use_preview|computer|local_shell|shell|apply_patch|tool_search|programmatic_tool_calling|bash_\d+|text_editor_\d+|str_replace_editor|str_replace_based_edit_tool|computer_\d+|memory_\d+|code_execution_\d+|tool_search_tool_(regex|bm25)(_\d+)?)$/;

/** Gemini tool keys that reach nothing: the client's functions, code execution, computer use, file search stores. */
const GEMINI_QUIET_TOOLS = new Set(['functionDeclarations', 'function_declarations', 'codeExecution', 'code_execution', 'computerUse', 'computer_use', 'fileSearch', 'file_search']);

/** What in `body` (a request of `api`) the sandbox does not allow its providers to reach; undefined when nothing. */
export function requestReach(body: unknown, api: ReachAPI, allowed: ReadonlySet<ProviderReach>): Reach | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
  const request = body as Json;
  if (!allowed.has('web')) {
    for (const field of WEB_FIELDS) if (request[field] != null) return { kind: 'web', what: field, param: field };
  }
  if (!allowed.has('mcp') && Array.isArray(request.mcp_servers) && request.mcp_servers.length > 0) return { kind: 'mcp', what: 'mcp_servers', param: 'mcp_servers' };
  const tool = toolReach(request.tools, 'tools', api, allowed) ?? recordedToolReach(request.input, api, allowed);
  if (tool) return tool;
  if (allowed.has('urls')) return undefined;
  for (const [key, value] of Object.entries(request)) {
    if (TOOL_KEYS.has(key) || TEXT_KEYS.has(key)) continue;
    const found = urlIn(value, key, key, allowed);
    if (found) return found;
  }
  return undefined;
}

/** The tools of `path` (a list of tool definitions) that reach what the sandbox does not allow. */
function toolReach(tools: unknown, path: string, api: string, allowed: ReadonlySet<ProviderReach>): Reach | undefined {
  if (!Array.isArray(tools)) return undefined;
  for (const [i, entry] of tools.entries()) {
    if (typeof entry !== 'object' || entry === null) continue;
    const tool = entry as Json;
    if (api === 'gemini') {
      for (const key of Object.keys(tool)) {
        if (GEMINI_QUIET_TOOLS.has(key) || tool[key] == null) continue;
        const kind: ProviderReach = /^mcp/i.test(key) ? 'mcp' : 'web';
        if (!allowed.has(kind)) return { kind, what: `the tool ${key}`, param: `${path}[${i}].${key}` };
      }
      continue;
    }
    // An Anthropic client tool has no type (or `custom`); an OpenAI one is `function` or `custom`.
    const type = tool.type === undefined && api === 'anthropic' ? 'custom' : String(tool.type);
    const kind: ProviderReach = /mcp/i.test(type) ? 'mcp' : 'web';
    if (allowed.has(kind)) continue;
    // A hosted container given network access (`network_policy`) reaches the web.
    if (containerNetwork(tool)) return { kind: 'web', what: `the hosted tool ${type} with network access`, param: `${path}[${i}]` };
    // A namespace groups tools (Codex's sub-agent functions): they are looked at one by one.
    if (type === 'namespace') {
      const inner = toolReach(tool.tools, `${path}[${i}].tools`, api, allowed);
      if (inner) return inner;
      continue;
    }
    if (QUIET_TOOLS.test(type)) {
      // Its own settings may name content by URL (image generation's input_image_mask).
      const url = allowed.has('urls') ? undefined : urlIn(tool, `${path}[${i}]`, 'tools', allowed);
      if (url) return url;
      continue;
    }
    // OpenAI's web search of its cached index only (what Codex sends by default) contacts no site.
    if (type.startsWith('web_search') && tool.external_web_access === false) continue;
    return { kind, what: `the hosted tool ${type}`, param: `${path}[${i}]` };
  }
  return undefined;
}

/** The tools Responses input items load (TOOL_RECORDS) that reach what the sandbox does not allow. */
function recordedToolReach(input: unknown, api: string, allowed: ReadonlySet<ProviderReach>): Reach | undefined {
  if (!Array.isArray(input)) return undefined;
  for (const [i, item] of input.entries()) {
    if (typeof item !== 'object' || item === null || !TOOL_RECORDS.has((item as Json).type as string)) continue;
    const found = toolReach((item as Json).tools, `input[${i}].tools`, api, allowed);
    if (found) return found;
  }
  return undefined;
}

function containerNetwork(tool: Json): boolean {
  const container = (tool.container ?? tool.environment) as Json | null | undefined;
  const policy = (typeof container === 'object' && container !== null ? container.network_policy : undefined) ?? tool.network_policy;
  return policy != null && (policy as Json).type !== 'disabled';
}

/**
 * The first string in `value` a provider would fetch, outside text and tool arguments. Below the
 * top level, `input` is a tool call's arguments (Anthropic's `tool_use`), not what is sent. The
 * record of a hosted tool the sandbox allows (a web search's results, an MCP call) is that tool's.
 */
function urlIn(value: unknown, path: string, key: string, allowed: ReadonlySet<ProviderReach>): Reach | undefined {
  if (typeof value === 'string') {
    if (TEXT_WHEN_STRING.has(key)) return undefined;
    return fetchable(value) ? { kind: 'urls', what: 'content by URL', param: path } : undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = urlIn(value[i], `${path}[${i}]`, key, allowed);
      if (found) return found;
    }
    return undefined;
  }
  const object = value as Json;
  const type = typeof object.type === 'string' ? object.type : '';
  if (QUIET_RECORDS.test(type) || (allowed.has('web') && /^web_(search|fetch)/.test(type)) || (allowed.has('mcp') && /^mcp_/.test(type))) return undefined;
  for (const [k, v] of Object.entries(object)) {
    if (TEXT_KEYS.has(k) || k === 'input') continue;
    // Tools an item loads are checked as tools (recordedToolReach): their URLs are the tools' own.
    if (k === 'tools' && TOOL_RECORDS.has(type)) continue;
    // A search result the client supplies names its source; nobody fetches it.
    if (k === 'source' && type === 'search_result') continue;
    const found = urlIn(v, `${path}.${k}`, k, allowed);
    if (found) return found;
  }
  return undefined;
}

/** A URL a provider would download: http(s), Cloud Storage, or scheme-relative, after any control characters or spaces; not the Gemini API's own files. */
function fetchable(text: string): boolean {
  // As URL parsers read it (WHATWG, Python's urlsplit): control characters and spaces before it
  // skipped, tabs and line breaks anywhere removed. Only its first 8 characters that count are
  // read: a data URL of megabytes is not copied or scanned.
  let start = 0;
  while (start < text.length && text.charCodeAt(start) <= 0x20) start++;
  let head = '';
  for (let i = start; i < text.length && head.length < 8; i++) {
    const c = text.charCodeAt(i);
    if (c !== 0x09 && c !== 0x0a && c !== 0x0d) head += text[i];
  }
  if (!/^(https?:|gs:|\/\/)/i.test(head)) return false;
  return !googleFile(text.slice(start).replace(/[\t\n\r]/g, ''));
}

/** A file the Gemini API itself holds (uploaded through its Files API): no download. */
function googleFile(uri: string): boolean {
  try {
    const { protocol, hostname, pathname, username, password } = new URL(uri);
    return protocol === 'https:' && hostname === 'generativelanguage.googleapis.com' && !username && !password && /^\/v1[a-z0-9]*\/files\/[A-Za-z0-9_-]+$/.test(pathname);
  } catch {
    return false;
  }
}
