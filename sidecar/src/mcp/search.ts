/**
 * Search over the exposed tools (BM25 via minisearch) for `search_tools`, so an agent with
 * hundreds of tools can find the few it needs without listing them all, from keywords or from a
 * request in its own words.
 *
 * Each tool is indexed by its name (split at `__`, `_`, `-`, `.` and camelCase humps), title,
 * description, parameter names, parameter descriptions and enum values, and hints its own
 * schema and annotations give (numeric parameters, read-only, destructive), each field with its
 * own weight. Terms are lowercased, common English words dropped, equivalent words replaced by
 * one canonical word ("folder" → "directory", "PR" → "pull request"; see search-vocabulary.ts)
 * and suffix-stemmed, so "files", "listing" and "created" meet "file", "list" and "create".
 * Queries are widened with related words ("remove" also looks for "delete", "show all" for
 * "list") and with what they imply (a number, a file name, a #channel), weighted below the
 * words the agent used.
 */
import MiniSearch from 'minisearch';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { canonical, impliedWords, RELATED, STOP_WORDS } from './search-vocabulary.js';

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
  hints: string;
}

const FIELDS = ['name', 'title', 'description', 'params', 'paramText', 'hints'] as const;
const BOOST: Record<(typeof FIELDS)[number], number> = { name: 2.5, title: 1.5, description: 1, params: 1.5, paramText: 0.5, hints: 0.5 };

/** Weight of a term added by {@link RELATED} or {@link impliedWords} relative to the agent's own words. */
const SYNONYM_WEIGHT = 0.6;

/** The query's own words followed by related and implied words, and the set of added terms. */
export function expandQuery(query: string): { text: string; added: Set<string> } {
  const words = tokenize(query).map((w) => w.toLowerCase());
  const own = new Set(words.flatMap((w) => normalizeTerm(w) ?? []));
  const added = new Set<string>();
  const extra: string[] = [];
  for (const word of [...words.flatMap((w) => RELATED[w] ?? []), ...impliedWords(query)]) {
    const terms = normalizeTerm(word) ?? [];
    if (terms.length === 0 || terms.every((t) => own.has(t) || added.has(t))) continue;
    for (const t of terms) if (!own.has(t)) added.add(t);
    extra.push(word);
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

/** Lowercases, drops stop words, replaces equivalent words by their canonical form, and strips common English suffixes. */
export function normalizeTerm(term: string): string[] | null {
  const lower = term.toLowerCase();
  if (STOP_WORDS.has(lower)) return null;
  return canonical(lower).map(stem);
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
  const hints: string[] = [];
  collectParams(tool.inputSchema, params, paramText, hints, 0);
  // What the annotations say about the tool, in the words a request would use.
  if (tool.annotations?.readOnlyHint) hints.push('read get view');
  if (tool.annotations?.destructiveHint) hints.push('delete overwrite');
  return {
    id: tool.name,
    name: tool.name,
    title: [tool.title, tool.annotations?.title].filter(Boolean).join(' '),
    description: tool.description ?? '',
    params: params.join(' '),
    paramText: paramText.join(' '),
    hints: hints.join(' '),
  };
}

function collectParams(schema: unknown, names: string[], text: string[], hints: string[], depth: number): void {
  if (depth > 3 || typeof schema !== 'object' || schema === null) return;
  const properties = (schema as { properties?: unknown }).properties;
  if (typeof properties !== 'object' || properties === null) return;
  for (const [name, property] of Object.entries(properties)) {
    names.push(name);
    if (typeof property !== 'object' || property === null) continue;
    const p = property as { description?: unknown; enum?: unknown; items?: unknown; type?: unknown };
    if (typeof p.description === 'string') text.push(p.description);
    if (Array.isArray(p.enum)) text.push(p.enum.filter((v) => typeof v === 'string').join(' '));
    // A required number is what "add 17 and 25" implies; optional ones are paging knobs.
    const required = (schema as { required?: unknown }).required;
    if ((p.type === 'number' || p.type === 'integer') && Array.isArray(required) && required.includes(name)) hints.push('number');
    collectParams(property, names, text, hints, depth + 1);
    collectParams(p.items, names, text, hints, depth + 1);
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
