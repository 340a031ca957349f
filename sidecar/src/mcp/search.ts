/**
 * Keyword search over the exposed tools (BM25 via minisearch) for `search_tools`, so an agent
 * with hundreds of tools can find the few it needs without listing them all.
 *
 * Each tool is indexed by its name (split at `__`, `_`, `-`, `.` and camelCase humps), title,
 * description, parameter names and parameter descriptions, with lowercase terms, common English
 * words dropped and a light suffix stemmer so that "files", "listing" and "created" meet "file",
 * "list" and "create". Queries are widened with the usual verbs of tool names ("remove" also
 * looks for "delete", "show all" for "list"), weighted below the words the agent used.
 */
import MiniSearch from 'minisearch';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';

/** One search result. */
export interface SearchHit {
  tool: Tool;
  score: number;
}

interface ToolDocument {
  id: string;
  name: string;
  title: string;
  description: string;
  params: string;
  paramText: string;
}

const FIELDS = ['name', 'title', 'description', 'params', 'paramText'] as const;
const BOOST: Record<(typeof FIELDS)[number], number> = { name: 2.5, title: 1.5, description: 1, params: 1.5, paramText: 0.5 };

const STOP_WORDS = new Set(
  'a an and any are as at be by can do does for from how i if in into is it its me my of on or our so some that the their them then there these this those to tool tools use used using via want we what when which will with you your'.split(' '),
);

/**
 * Everyday verbs → the verbs tool names and descriptions conventionally use. Deliberately small
 * and generic: it bridges how agents phrase a task and how tools are named, nothing domain-specific.
 */
const QUERY_SYNONYMS: Record<string, readonly string[]> = {
  show: ['list', 'get'],
  display: ['list', 'get'],
  all: ['list'],
  enumerate: ['list'],
  fetch: ['get', 'read'],
  retrieve: ['get', 'read'],
  read: ['get'],
  look: ['get', 'search'],
  lookup: ['get', 'search'],
  details: ['get'],
  remove: ['delete'],
  erase: ['delete'],
  destroy: ['delete'],
  drop: ['delete'],
  edit: ['update'],
  modify: ['update'],
  change: ['update'],
  rename: ['update'],
  find: ['search'],
  query: ['search'],
  make: ['create'],
  new: ['create'],
  add: ['create'],
  open: ['create'],
  send: ['create', 'post'],
  post: ['create', 'send'],
};
/** Weight of a term added by {@link QUERY_SYNONYMS} relative to the agent's own words. */
const SYNONYM_WEIGHT = 0.6;

/** The query's own words followed by their conventional synonyms, and the set of added ones. */
export function expandQuery(query: string): { text: string; added: Set<string> } {
  const words = tokenize(query).map((w) => w.toLowerCase());
  const own = new Set(words.map(normalizeTerm).filter((t): t is string => t !== null));
  const added = new Set<string>();
  const extra: string[] = [];
  for (const word of words) {
    for (const synonym of QUERY_SYNONYMS[word] ?? []) {
      const term = normalizeTerm(synonym);
      if (term === null || own.has(term) || added.has(term)) continue;
      added.add(term);
      extra.push(synonym);
    }
  }
  return { text: [...words, ...extra].join(' '), added };
}

/** Splits text into words: punctuation, separators and camelCase humps. */
export function tokenize(text: string): string[] {
  return text
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .split(/[^A-Za-z0-9]+/)
    .filter((t) => t.length > 0);
}

/** Lowercases, drops stop words and strips common English suffixes. */
export function normalizeTerm(term: string): string | null {
  const lower = term.toLowerCase();
  if (STOP_WORDS.has(lower)) return null;
  return stem(lower);
}

function stem(word: string): string {
  if (word.length <= 3 || /\d/.test(word)) return word;
  let w = word;
  if (w.endsWith('ies') && w.length > 4) w = `${w.slice(0, -3)}y`;
  else if (w.endsWith('sses')) w = w.slice(0, -2);
  else if (w.endsWith('s') && !/(ss|us|is)$/.test(w)) w = w.slice(0, -1);
  if (w.endsWith('ing') && w.length > 5) w = w.slice(0, -3);
  else if (w.endsWith('ed') && w.length > 4) w = w.slice(0, -2);
  if (w.endsWith('e') && w.length > 3) w = w.slice(0, -1);
  // "running" → "runn", "stopped" → "stopp": undouble a final consonant.
  if (/([b-df-hj-np-tv-z])\1$/.test(w) && !/(ll|ss|zz)$/.test(w)) w = w.slice(0, -1);
  return w;
}

function toDocument(tool: Tool): ToolDocument {
  const params: string[] = [];
  const paramText: string[] = [];
  collectParams(tool.inputSchema, params, paramText, 0);
  return {
    id: tool.name,
    name: tool.name,
    title: [tool.title, tool.annotations?.title].filter(Boolean).join(' '),
    description: tool.description ?? '',
    params: params.join(' '),
    paramText: paramText.join(' '),
  };
}

function collectParams(schema: unknown, names: string[], text: string[], depth: number): void {
  if (depth > 3 || typeof schema !== 'object' || schema === null) return;
  const properties = (schema as { properties?: unknown }).properties;
  if (typeof properties !== 'object' || properties === null) return;
  for (const [name, property] of Object.entries(properties)) {
    names.push(name);
    if (typeof property !== 'object' || property === null) continue;
    const p = property as { description?: unknown; enum?: unknown; items?: unknown };
    if (typeof p.description === 'string') text.push(p.description);
    if (Array.isArray(p.enum)) text.push(p.enum.filter((v) => typeof v === 'string').join(' '));
    collectParams(property, names, text, depth + 1);
    collectParams(p.items, names, text, depth + 1);
  }
}

/** A search index over a tool list, rebuilt only when the list's fingerprint changes. */
export class ToolIndex {
  private index: MiniSearch<ToolDocument> | undefined;
  private fingerprint: string | undefined;
  private readonly tools = new Map<string, Tool>();

  /** Best matches for `query` among `tools` (identified by `fingerprint`), best first. */
  search(tools: readonly Tool[], fingerprint: string, query: string, limit: number): SearchHit[] {
    const index = this.indexFor(tools, fingerprint);
    const expanded = expandQuery(query);
    const hits = index.search(expanded.text, {
      boost: BOOST,
      boostTerm: (term) => (expanded.added.has(term) ? SYNONYM_WEIGHT : 1),
      combineWith: 'OR',
      prefix: (term) => term.length >= 4,
      fuzzy: (term) => (term.length >= 5 ? 0.15 : false),
    });
    return hits.slice(0, limit).flatMap((hit) => {
      const tool = this.tools.get(String(hit.id));
      return tool ? [{ tool, score: hit.score }] : [];
    });
  }

  private indexFor(tools: readonly Tool[], fingerprint: string): MiniSearch<ToolDocument> {
    if (this.index && this.fingerprint === fingerprint) return this.index;
    const index = new MiniSearch<ToolDocument>({
      fields: [...FIELDS],
      tokenize,
      processTerm: normalizeTerm,
    });
    this.tools.clear();
    for (const tool of tools) this.tools.set(tool.name, tool);
    index.addAll([...this.tools.values()].map(toDocument));
    this.index = index;
    this.fingerprint = fingerprint;
    return index;
  }
}
