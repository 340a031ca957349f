/**
 * zod as the sidecar's running code uses it: `zod/mini`, with English messages.
 *
 * zod's classic API hangs ~40 methods (`.optional()`, `.min()`, …) on every schema and its module
 * builds them all when loaded; in a bare Node process, loading it costs ~5 MiB of resident memory
 * after the idle collection, against ~0.1 for `zod/mini` with the same core, the same parsing and
 * the same issues (bench/README.md, "Round 7"). The classic `zod` package configures English
 * messages when loaded; mini leaves that to its user, so this module does it once, and every
 * sidecar schema imports `z` from here, never from `zod` itself. The MCP SDK brings classic zod
 * with it, in the lazily loaded gateway (mcp/lazy.ts).
 */
import * as z from 'zod/mini';
import en from 'zod/v4/locales/en.js';

z.config(en());

export { z };
