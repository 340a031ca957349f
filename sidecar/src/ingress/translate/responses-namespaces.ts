/**
 * Namespace tools for providers without them. A Responses `namespace` tool groups function tools
 * under one name (`{type: "namespace", name, description, tools: [...]}`; Codex sends its
 * sub-agent tools so), and OpenAI's calls of them name both (`{name, namespace}`). Translated,
 * each inner function is a chat tool named `<namespace>__<name>` (a name every provider takes),
 * and a call of such a name comes back to the client split into `name` and `namespace` again.
 *
 * The flattened names are unique and map back to the tool the model called: a function outside
 * any namespace keeps its name, and an inner function whose `<namespace>__<name>` is already a
 * name of the request (a plain function `a__b__c` beside `b__c` in namespace `a`, or `c` in
 * namespace `a__b`) is sent as `<namespace>__<name>_<digest>` instead, the digest (8 hex digits)
 * of its namespace and name. The same tools always give the same names, so the turns of a
 * conversation agree.
 */
import { createHash } from 'node:crypto';
import type { ResponsesTool } from '../../wire/responses.js';

const SEPARATOR = '__';

/** A function as the client names it: its name, and the namespace tool it is in, if any. */
export interface ClientName {
  name: string;
  namespace?: string;
}

/** The chat names of a request's functions, both ways. */
export interface NamespaceNames {
  /** The chat tool name of a function, inside a namespace or not. */
  sent(name: string, namespace?: string | null): string;
  /** A call's name as the client knows it: split into namespace and name when it names a function inside a namespace tool. */
  client(chatName: string): ClientName;
}

/** The inner tools of a namespace tool (empty for any other tool). */
export function namespaceTools(tool: ResponsesTool): ResponsesTool[] {
  const inner = (tool as { tools?: unknown }).tools;
  return tool.type === 'namespace' && Array.isArray(inner) ? (inner as ResponsesTool[]) : [];
}

const qualified = (name: string, namespace: string) => `${namespace}${SEPARATOR}${name}`;

/** Worked out once per tools array: a response names its calls back from the same one. */
const cache = new WeakMap<readonly unknown[], NamespaceNames>();

/** The chat names of the functions of `tools` (a Responses request's `tools`). */
export function namespaceNames(tools: readonly unknown[] = []): NamespaceNames {
  const cached = cache.get(tools);
  if (cached) return cached;
  const list = tools as ResponsesTool[];
  const taken = new Set(list.flatMap((tool) => (tool?.type !== 'namespace' && tool?.name ? [tool.name] : [])));
  const sent = new Map<string, string>();
  const client = new Map<string, ClientName>();
  for (const tool of list) {
    if (tool?.type !== 'namespace' || !tool.name) continue;
    for (const inner of namespaceTools(tool)) {
      if (!inner?.name) continue;
      const key = JSON.stringify([tool.name, inner.name]);
      if (sent.has(key)) continue;
      let name = qualified(inner.name, tool.name);
      for (let n = 0; taken.has(name); n++) name = `${qualified(inner.name, tool.name)}_${createHash('sha256').update(`${key}${n || ''}`).digest('hex').slice(0, 8)}`;
      taken.add(name);
      sent.set(key, name);
      client.set(name, { name: inner.name, namespace: tool.name });
    }
  }
  const names: NamespaceNames = {
    sent: (name, namespace) => (namespace ? (sent.get(JSON.stringify([namespace, name])) ?? qualified(name, namespace)) : name),
    client: (chatName) => client.get(chatName) ?? { name: chatName },
  };
  cache.set(tools, names);
  return names;
}

/** A call's name as the client knows it (NamespaceNames.client for the request's tools). */
export function clientCallName(tools: readonly unknown[], name: string): ClientName {
  return namespaceNames(tools).client(name);
}
