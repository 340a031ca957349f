/**
 * The gateway's own tools. `search_tools` (always listed) and `call_tool` (listed in lazy mode,
 * where it is the way to call what `search_tools` found) have names without `__`, so they can
 * never collide with a backend tool.
 *
 * Other built-in tools (the sidecar's model tools, say) are {@link BuiltinTool}s handed to the
 * gateway: they appear as `airlock__<name>` (the `airlock` prefix is reserved, no backend may
 * take it), pass the sandbox's allow/deny globs like any tool, are found by `search_tools`,
 * reached by `call_tool`, audited and counted like backend tools.
 */
import * as z from '../zod.js';
export { BUILTIN_BACKEND, BUILTIN_PREFIX } from './naming.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { CallToolRequest, CallToolResult, ReadResourceResult, Resource, ServerNotification, ServerRequest, Tool } from '@modelcontextprotocol/sdk/types.js';
import type { SidecarConfig } from '../config/index.js';
import type { SearchHit } from './search.js';

/** A tool the sidecar itself serves, listed as `airlock__<definition.name>`. */
export interface BuiltinTool {
  /** Its definition, with the name without the prefix. */
  definition: Tool;
  /**
   * Runs one call. Arguments are as the client sent them: validate them and report mistakes as
   * a result with `isError` (see {@link toolError}) so a model can correct itself; throw only for
   * failures that are not the caller's (a `GatewayError` from errors.ts to choose the JSON-RPC code).
   */
  run(args: Record<string, unknown> | undefined, extra: RequestHandlerExtra<ServerRequest, ServerNotification>): CallToolResult | Promise<CallToolResult>;
  /** Whether the current config offers it (absent: always); a reload that changes this sends list_changed. */
  enabled?(config: SidecarConfig): boolean;
}

/**
 * A resource the sidecar itself serves. Its `definition.uri` is without the gateway's wrapping:
 * clients see and read `airlock+airlock:<uri>` (naming.ts `wrapUri` with the reserved prefix).
 */
export interface BuiltinResource {
  definition: Resource;
  /** Reads it; `uri` is the wrapped URI the client asked for, to be echoed in the contents. */
  read(uri: string): ReadResourceResult | Promise<ReadResourceResult>;
  /** Whether the current config offers it (absent: always). */
  enabled?(config: SidecarConfig): boolean;
}

/** Name of the built-in search tool. */
export const SEARCH_TOOL = 'search_tools';
/** Name of the built-in tool that calls other tools by name (lazy mode). */
export const CALL_TOOL = 'call_tool';
const DEFAULT_LIMIT = 5;
const MAX_LIMIT = 25;

/** Definition of `search_tools`. */
export const searchToolDefinition: Tool = {
  name: SEARCH_TOOL,
  title: 'Search tools',
  description:
    'Search the tools available in this sandbox by keywords or by describing the task in your own words (what you want to do, the service, the kind of object). ' +
    'Returns the best matches with their names, descriptions and input schemas; call a match by its name.',
  inputSchema: {
    type: 'object',
    properties: {
      query: { type: 'string', description: 'Keywords describing the task, e.g. "create github issue".' },
      limit: { type: 'integer', minimum: 1, maximum: MAX_LIMIT, default: DEFAULT_LIMIT, description: 'Number of matches to return.' },
    },
    required: ['query'],
  },
  outputSchema: {
    type: 'object',
    properties: {
      tools: {
        type: 'array',
        items: {
          type: 'object',
          properties: {
            name: { type: 'string' },
            title: { type: 'string' },
            description: { type: 'string' },
            inputSchema: { type: 'object' },
            score: { type: 'number' },
          },
          required: ['name', 'inputSchema', 'score'],
        },
      },
    },
    required: ['tools'],
  },
  annotations: { readOnlyHint: true, openWorldHint: false },
};

/** Definition of `call_tool`. */
export const callToolDefinition: Tool = {
  name: CALL_TOOL,
  title: 'Call a tool',
  description: 'Call any tool of this sandbox by the name search_tools returned, with its arguments.',
  inputSchema: {
    type: 'object',
    properties: {
      name: { type: 'string', description: 'The tool name, as search_tools returned it.' },
      arguments: { type: 'object', description: "The tool's arguments, matching its input schema.", additionalProperties: true },
    },
    required: ['name'],
  },
};

const SearchArgs = z.object({
  query: z.string().check(z.minLength(1), z.maxLength(1_000)),
  limit: z._default(z.int().check(z.minimum(1), z.maximum(MAX_LIMIT)), DEFAULT_LIMIT),
});

const CallArgs = z.object({
  name: z.string().check(z.minLength(1), z.maxLength(256)),
  arguments: z.optional(z.record(z.string(), z.unknown())),
});

/**
 * Runs `search_tools`. Bad arguments come back as a tool error (`isError`), not a protocol
 * error: the model sees what was wrong and can call again with corrected arguments.
 */
export function runSearch(args: unknown, search: (query: string, limit: number) => SearchHit[]): CallToolResult {
  const parsed = SearchArgs.safeParse(args ?? {});
  if (!parsed.success) return toolError(invalidMessage(SEARCH_TOOL, parsed.error));
  const tools = search(parsed.data.query, parsed.data.limit).map(({ tool, score }) => ({
    name: tool.name,
    ...(tool.title ? { title: tool.title } : {}),
    ...(tool.description ? { description: tool.description } : {}),
    inputSchema: tool.inputSchema,
    score: Math.round(score * 1000) / 1000,
  }));
  return { content: [{ type: 'text', text: JSON.stringify({ tools }) }], structuredContent: { tools } };
}

/**
 * The tools/call params that `call_tool` stands for, or, for arguments that do not name a
 * backend tool, a tool error the model can correct (as for `search_tools`).
 */
export function unwrapCall(params: CallToolRequest['params']): CallToolRequest['params'] | CallToolResult {
  const parsed = CallArgs.safeParse(params.arguments ?? {});
  if (!parsed.success) return toolError(invalidMessage(CALL_TOOL, parsed.error));
  if (parsed.data.name === CALL_TOOL || parsed.data.name === SEARCH_TOOL) {
    return toolError(`${CALL_TOOL} calls backend tools only, not ${parsed.data.name}; call ${parsed.data.name} directly`);
  }
  return { ...params, name: parsed.data.name, arguments: parsed.data.arguments };
}

/** A tool result that reports an error to the model. */
export function toolError(message: string): CallToolResult {
  return { content: [{ type: 'text', text: message }], isError: true };
}

/** The message of a tool error for arguments that failed their schema, naming each wrong field. */
export function invalidMessage(tool: string, error: z.core.$ZodError): string {
  const details = error.issues.map((i) => `${i.path.join('.') || '<arguments>'}: ${i.message}`).join('; ');
  return `invalid arguments for ${tool}: ${details}. See the input schema of ${tool}.`;
}
