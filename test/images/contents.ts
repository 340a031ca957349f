/**
 * What the images must (not) contain, checked inside the real containers by
 * test/e2e/node.test.ts: the operator's no development dependency, and every import of its
 * compiled code resolving from the production node_modules; the sidecar's no node_modules at all,
 * and every chunk of its bundle loading.
 */

/** Development-only packages of the workspace; none may be in an image's /app/node_modules. */
export const DEV_ONLY = ['typescript', 'tsx', 'vitest', 'eslint', 'openai', '@anthropic-ai/sdk', '@google/genai', 'node', 'fast-check', '@modelcontextprotocol/server-everything'];

/**
 * Checks that every bare import specifier in the .js files under argv's folders resolves to a
 * file, resolving from the current directory (run it from inside dist). Prints { count, failures }.
 */
export const RESOLVE_IMPORTS = `
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
const walk = (dir) => readdirSync(dir, { withFileTypes: true }).flatMap((e) => e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.js') ? [join(dir, e.name)] : []);
let count = 0;
const failures = [];
for (const root of process.argv.slice(2)) {
  for (const file of walk(root)) {
    for (const match of readFileSync(file, 'utf8').matchAll(/(?:(?<![.\\w$'"])from\\s*|\\bimport\\s*\\(\\s*|^import\\s+)['"]([^'"]+)['"]/gm)) {
      const specifier = match[1];
      if (specifier.startsWith('.') || specifier.startsWith('node:')) continue;
      count += 1;
      try {
        const url = import.meta.resolve(specifier);
        if (url.startsWith('file:') && !existsSync(fileURLToPath(url))) failures.push(file + ': ' + specifier + ': no such file');
      } catch (error) {
        failures.push(file + ': ' + specifier + ': ' + error.code);
      }
    }
  }
}
console.log(JSON.stringify({ count, failures }));
`;

/**
 * Imports every chunk of the sidecar's bundle (the folder in argv; not cli.js, which would run a
 * command): each chunk's imports resolve (Node's own modules and sibling chunks only, since the
 * image has no node_modules) and its top level runs. Prints { count, failures }.
 */
export const IMPORT_CHUNKS = `
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
const dir = process.argv[2];
let count = 0;
const failures = [];
for (const name of readdirSync(dir).filter((n) => n.endsWith('.js'))) {
  try {
    await import(join(dir, name));
    count += 1;
  } catch (error) {
    failures.push(name + ': ' + error.message);
  }
}
console.log(JSON.stringify({ count, failures }));
`;
