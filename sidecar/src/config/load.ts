/** The one config loader: YAML text in, a validated config or a list of located errors out. */
import { Lexer, parseDocument, YAMLParseError, YAMLWarning } from 'yaml';
import { readText } from '../fs-async.js';
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

/** Parses and validates config YAML. Throws ConfigError naming each bad field. */
export function parseConfig(text: string, source = '<inline>'): SidecarConfig {
  let raw: unknown;
  const depth = flowDepth(text);
  if (depth > MAX_NESTING) throw new ConfigError(source, [{ path: '', message: `not valid YAML: nests deeper than ${MAX_NESTING} levels` }]);
  try {
    // An unresolved tag (`!custom`) is a mistake in a config, not something to warn about on
    // stderr and drop: it is refused like any other error.
    const doc = parseDocument(text, { prettyErrors: true, logLevel: 'silent' });
    const problem = doc.errors[0] ?? doc.warnings[0];
    if (problem) throw problem;
    raw = doc.toJS();
  } catch (err) {
    // A document that exhausts the parser (nesting, aliases) is reported without the position the
    // parser had reached, which depends on the caller's remaining stack and so is not reproducible.
    const message =
      err instanceof YAMLParseError || err instanceof YAMLWarning
        ? err.code === 'RESOURCE_EXHAUSTION'
          ? err.message.replace(/ at line \d+, column \d+:[\s\S]*$/, '')
          : err.message
        : String(err);
    throw new ConfigError(source, [{ path: '', message: `not valid YAML: ${message}` }]);
  }
  const result = SidecarConfig.safeParse(raw);
  if (!result.success) {
    throw new ConfigError(
      source,
      result.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message })),
    );
  }
  return result.data;
}

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
const MAX_NESTING = 64;

/** The deepest flow-collection nesting in `text` ([ and { tokens), counted without recursion. */
function flowDepth(text: string): number {
  let depth = 0;
  let max = 0;
  for (const token of new Lexer().lex(text)) {
    if (token === '[' || token === '{') max = Math.max(max, ++depth);
    else if (token === ']' || token === '}') depth = Math.max(0, depth - 1);
  }
  return max;
}
