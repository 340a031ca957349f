/**
 * Namespace tools for providers without them. A Responses `namespace` tool groups function tools
 * under one name (`{type: "namespace", name, description, tools: [...]}`; Codex sends its
 * sub-agent tools so), and OpenAI's calls of them name both (`{name, namespace}`). Translated,
 * each inner function is a chat tool named `<namespace>__<name>` (a name every provider takes),
 * and a call of such a name comes back to the client split into `name` and `namespace` again.
 */
import type { ResponsesTool } from '../../wire/responses.js';

const SEPARATOR = '__';

/** The chat tool name of a function, inside a namespace or not. */
export function qualifiedName(name: string, namespace?: string | null): string {
  return namespace ? `${namespace}${SEPARATOR}${name}` : name;
}

/** The inner tools of a namespace tool (empty for any other tool). */
export function namespaceTools(tool: ResponsesTool): ResponsesTool[] {
  const inner = (tool as { tools?: unknown }).tools;
  return tool.type === 'namespace' && Array.isArray(inner) ? (inner as ResponsesTool[]) : [];
}

/**
 * A call's name as the client knows it: split into namespace and name when it names a function
 * inside one of the request's namespace tools, else as it is.
 */
export function clientCallName(tools: readonly unknown[], name: string): { name: string; namespace?: string } {
  for (const tool of tools as ResponsesTool[]) {
    if (tool?.type !== 'namespace' || !tool.name || !name.startsWith(tool.name + SEPARATOR)) continue;
    const inner = name.slice(tool.name.length + SEPARATOR.length);
    if (namespaceTools(tool).some((t) => t.name === inner)) return { name: inner, namespace: tool.name };
  }
  return { name };
}
