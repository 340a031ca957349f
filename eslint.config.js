import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/**', 'sidecar/bundle/**', '**/node_modules/**', 'crds/**', 'charts/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  {
    // One zod for the sidecar: `z` from sidecar/src/zod.ts (zod/mini, English messages). Classic zod
    // costs the idle sidecar ~5 MiB resident; the MCP SDK brings it only with the lazy gateway.
    files: ['sidecar/src/**/*.ts'],
    ignores: ['sidecar/src/zod.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: ['zod', 'zod/v4', 'zod/mini', 'zod/v4/mini'].map((name) => ({ name, message: "import { z } from the sidecar's zod.ts (zod/mini with English messages) instead" })),
          patterns: [{ group: ['zod/v4/classic', 'zod/v4/classic/*', 'zod/v3', 'zod/v3/*'], message: "import { z } from the sidecar's zod.ts (zod/mini) instead" }],
        },
      ],
    },
  },
);
