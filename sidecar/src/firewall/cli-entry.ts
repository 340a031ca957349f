/**
 * Runs `runFirewall` directly, for the kernel-level tests (`node --import tsx cli-entry.ts ...`)
 * and for debugging without the rest of the sidecar; the shipped command is
 * `airlock-sidecar firewall`, which calls the same function.
 */
import { runFirewall } from './index.js';

runFirewall(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error('airlock firewall: unexpected failure, the rules may NOT be applied:', err);
    process.exit(1);
  },
);
