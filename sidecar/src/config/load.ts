/** The one config loader: YAML text in, a validated config or a list of located errors out. */
import { readFile } from 'node:fs/promises';
import { parse, YAMLParseError } from 'yaml';
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
  try {
    raw = parse(text, { prettyErrors: true });
  } catch (err) {
    const message = err instanceof YAMLParseError ? err.message : String(err);
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
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError(path, [{ path: '', message: `cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}` }]);
  }
  return parseConfig(text, path);
}
