/**
 * The YAML half of the config loader (load.ts): a module of its own, loaded only for a config
 * that is not the operator's JSON rendering, so a sandbox's sidecar never loads the YAML parser.
 */
import { Lexer, parseDocument, YAMLParseError, YAMLWarning } from 'yaml';
import { ConfigError, MAX_NESTING } from './load.js';

/** The YAML parser's reading of `text`, or ConfigError. */
export function parseYaml(text: string, source: string): unknown {
  const depth = flowDepth(text);
  if (depth > MAX_NESTING) throw new ConfigError(source, [{ path: '', message: `not valid YAML: nests deeper than ${MAX_NESTING} levels` }]);
  try {
    // An unresolved tag (`!custom`) is a mistake in a config, not something to warn about on
    // stderr and drop: it is refused like any other error.
    const doc = parseDocument(text, { prettyErrors: true, logLevel: 'silent' });
    const problem = doc.errors[0] ?? doc.warnings[0];
    if (problem) throw problem;
    return doc.toJS();
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
}

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
