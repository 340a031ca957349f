/**
 * zod as the sidecar's running code uses it: `zod/mini`, with English messages.
 *
 * zod's classic API hangs ~40 methods (`.optional()`, `.min()`, …) on every schema and its module
 * builds them all when loaded; in a bare Node process, loading it costs ~5 MiB of resident memory
 * after the idle collection, against ~0.1 for `zod/mini` with the same core, the same parsing and
 * the same issues (bench/README.md, "Round 7"), objects apart: see {@link looseObject}. The classic `zod` package configures English
 * messages when loaded; mini leaves that to its user, so this module does it once, and every
 * sidecar schema imports `z` from here, never from `zod` itself. The MCP SDK brings classic zod
 * with it, in the lazily loaded gateway (mcp/lazy.ts).
 */
import * as z from 'zod/mini';
import en from 'zod/v4/locales/en.js';

z.config(en());

// Re-exported by name, for `import * as z from '../zod.js'`: esbuild then bundles only the parts
// of zod the sidecar uses. A namespace object re-exported as a value (`export { z }`) made the
// bundle keep all of mini and its core, 216 KB of a start chunk whose text V8 keeps.
export * from 'zod/mini';

/** What the core's initialisers are, without their `asserts` return (TypeScript cannot call an assertion through a namespace it infers). */
type Init = (inst: unknown, def: z.core.$ZodObjectDef) => void;

/**
 * mini's object on the object parser classic zod uses: `$ZodObjectJIT`, which generates a parser
 * for the shape on its first parse, instead of `$ZodObject`, which walks the shape on every parse.
 * Same checks, issues and output (zod.test.ts compares them). The request schemas run once per
 * request, and on mini's own object `parseBody` of a ~30 KB request took 22-42 % longer than on
 * classic's (JSON.parse included); on this one it takes the same. Named like mini's so `instanceof
 * z.ZodMiniObject` holds and `z.omit` / `z.extend` (which clone through the constructor) keep it.
 */
const ZodMiniJitObject = z.core.$constructor('ZodMiniObject', (inst: z.ZodMiniObject, def: z.core.$ZodObjectDef) => {
  (z.core.$ZodObjectJIT.init as Init)(inst, def);
  (z.ZodMiniType.init as Init)(inst, def);
  z.util.installLazyProp(inst, 'shape', (self: z.ZodMiniObject) => self._zod.def.shape, false);
});

/** `z.looseObject(shape)` (unknown keys kept) on the generated parser: for the schemas parsed per request. */
export function looseObject<T extends z.core.$ZodLooseShape>(shape: T): z.ZodMiniObject<z.core.util.Writeable<T>, z.core.$loose> {
  return new ZodMiniJitObject({ type: 'object', shape, catchall: z.unknown() }) as unknown as z.ZodMiniObject<z.core.util.Writeable<T>, z.core.$loose>;
}
