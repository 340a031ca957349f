/**
 * `npm run generate`: writes crds/<group>_<plural>.yaml from the zod schemas. A test compares
 * the committed files with this output, so the YAML never drifts from the code.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crdFiles } from './crd-files.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
// The chart carries the same files: Helm installs CRDs from its own crds/ folder.
for (const dir of ['crds', 'charts/airlock/crds']) {
  await mkdir(join(root, dir), { recursive: true });
  for (const file of crdFiles()) {
    await writeFile(join(root, dir, file.name), file.content);
    console.log(`wrote ${dir}/${file.name}`);
  }
}
