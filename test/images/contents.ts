/**
 * What the images must (not) contain, checked inside the real containers by
 * test/e2e/node.test.ts: no development dependency, and every import of the compiled code
 * resolving from the production node_modules.
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
