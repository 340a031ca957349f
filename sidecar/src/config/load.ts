/** The one config loader: YAML text in, a validated config or a list of located errors out. */
import { readText } from '../fs-async.js';
import { scanJson } from '../wire/json-scan.js';
import { SidecarConfig } from './schema.js';

/** One problem in a config file, with the path of the offending field. */
export interface ConfigIssue {
  path: string;
  message: string;
}

/** A config that could not be loaded, with every problem found. */
export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly issues: ConfigIssue[],
  ) {
    super(`invalid config ${source}:\n${issues.map((i) => `  ${i.path || '<root>'}: ${i.message}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Parses and validates a config (YAML; JSON is YAML too). Throws ConfigError naming each bad field.
 * What the operator renders is read without the YAML parser, see {@link renderedJson}.
 */
export async function parseConfig(text: string, source = '<inline>'): Promise<SidecarConfig> {
  const raw = renderedJson(text) ?? (await import('./yaml.js')).parseYaml(text, source);
  const result = SidecarConfig.safeParse(raw);
  if (!result.success) {
    throw new ConfigError(
      source,
      result.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message })),
    );
  }
  return result.data;
}

/**
 * The operator renders a sandbox's config as a comment line and the config in `JSON.stringify`'s
 * two-space form (operator/src/render/sidecar-config.ts). Such a text is read with JSON.parse, and
 * the YAML parser, ~1.5 MiB of resident memory once loaded and run (bench/README.md, "Round 7"),
 * is never loaded in a sandbox's sidecar. Only when JSON.parse makes of it exactly what the YAML
 * parser would: the text is JSON.stringify's own rendering of what JSON.parse made of it (so no
 * key repeats, which YAML refuses and JSON.parse lets the last win, and no number or escape is
 * spelt in a way the two could read apart) and nests no deeper than the YAML path allows. Anything
 * else (hand-written YAML or JSON, a YAML flow mapping, a repeat, an error) goes to the YAML
 * parser, whose verdict and messages stand.
 */
function renderedJson(text: string): unknown {
  if (typeof text !== 'string') return undefined;
  const json = text.replace(LEADING_COMMENTS, '').trimEnd();
  if (!json.startsWith('{')) return undefined;
  try {
    const value: unknown = JSON.parse(json);
    return JSON.stringify(value, null, 2) === json && scanJson(Buffer.from(json)).depth <= MAX_NESTING ? value : undefined;
  } catch {
    // Not JSON (a YAML flow mapping), or too deep for JSON.stringify: the YAML parser's to judge.
    return undefined;
  }
}

/** Comment and blank lines before a document. */
const LEADING_COMMENTS = /^(?:[ \t]*(?:#[^\n]*)?\r?\n)*/;

/** Reads, parses and validates a config file. */
export async function loadConfigFile(path: string): Promise<SidecarConfig> {
  let text: string;
  try {
    text = await readText(path);
  } catch (err) {
    throw new ConfigError(path, [{ path: '', message: `cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}` }]);
  }
  return parseConfig(text, path);
}

/** Deeper than any real config; the YAML composer recurses per level and would run out of stack. */
export const MAX_NESTING = 64;
