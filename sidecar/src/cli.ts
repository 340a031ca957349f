#!/usr/bin/env -S MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=32768 node --max-semi-space-size=8
/**
 * airlock-sidecar run [--config FILE] | check-config FILE | probe [--socket PATH] | stdio-host --socket PATH | firewall ...
 *
 * The `#!` line carries the sidecar's Node flags and allocator setting (the image runs this file
 * as its entrypoint, and `npm run bench` runs it the same way): a young generation of at most
 * 8 MiB per semi-space, half the scavenges (and of the requests a scavenge pause delays) of
 * 4 MiB, for resident memory after load well under V8's default; at most two glibc malloc
 * arenas, 25-50 MiB less after load with no CPU cost measured; and blocks of 32 KiB and more
 * (V8's compiler zones) mapped on their own, so they go back to the kernel when freed instead of
 * staying in an arena: ~15 MiB less after load (docs/adr/0017-sidecar-node-flags.md).
 *
 * Only Node's own modules are imported here; each command loads what it needs. `stdio-host` runs
 * idle in every pod's airlock-tools container, and zod, the config schemas and the MCP SDK would
 * hold ~40 MiB of its memory there for nothing (docs/adr/0015).
 */
import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { enableCompileCache } from 'node:module';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

/**
 * The image's V8 code cache for the bundle's chunks, made when the bundle was built
 * (sidecar/bundle.ts, docs/adr/0019): compiling from it takes less CPU to the first answer.
 * Only next to the bundle; from src/ (the tests) or tsc's dist/ there is none. `portable`: the cache
 * names files relative to itself, so it stays valid when the bundle is copied to /app. Enabled
 * here rather than by NODE_COMPILE_CACHE, which every Node process started from the containers
 * (stdio MCP servers) would inherit. A cache Node cannot write (the read-only root) is still read.
 */
const COMPILE_CACHE = fileURLToPath(new URL('compile-cache', import.meta.url));
if (existsSync(COMPILE_CACHE)) enableCompileCache({ directory: COMPILE_CACHE, portable: true });

/** Where the airlock-tools container's host listens unless told otherwise (injection's path). */
const DEFAULT_STDIO_HOST = '/var/run/airlock-tools/stdio.sock';

/** The usage text; it names defaults from the environment and the firewall's flags, so it loads both. */
async function usageText(): Promise<string> {
  const [{ readEnv }, { FIREWALL_USAGE }] = await Promise.all([import('./env.js'), import('./firewall/index.js')]);
  return `usage:
  airlock-sidecar run [--config FILE]        serve the agent API on the socket (default config ${readEnv().AIRLOCK_CONFIG})
  airlock-sidecar check-config FILE          validate a config file; exit 1 listing each error with its path
  airlock-sidecar probe [--socket PATH]      exit 0 when the sidecar answers ready on its socket
  airlock-sidecar stdio-host [--socket PATH] what the airlock-tools container runs: starts stdio MCP servers
                                             for the sidecar, which asks over this socket (default ${DEFAULT_STDIO_HOST})
  airlock-sidecar firewall ...               what the airlock-firewall init container runs:
${FIREWALL_USAGE}`;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  // `<command> --help` prints the usage on stdout; the firewall has its own usage and flags.
  if (command !== 'firewall' && (rest.includes('--help') || rest.includes('-h'))) {
    console.log(await usageText());
    return 0;
  }
  try {
    return await runCommand(command, rest);
  } catch (err) {
    // parseArgs refuses unknown or malformed options: say which, and how to call, without a stack.
    if (err instanceof TypeError && (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS_')) {
      console.error(`airlock-sidecar ${command ?? ''}: ${err.message}\n${await usageText()}`);
      return 2;
    }
    throw err;
  }
}

async function runCommand(command: string | undefined, rest: string[]): Promise<number> {
  switch (command) {
    case 'run': {
      const { readEnv } = await import('./env.js');
      const env = readEnv();
      const { values } = parseArgs({ args: rest, options: { config: { type: 'string', default: env.AIRLOCK_CONFIG } } });
      // Loaded here, not at the top: `probe` runs every second as the startupProbe, and the whole
      // server (its HTTP framework then, providers, MCP, OpenTelemetry) took 20 s to load on a busy 2-core node.
      const [{ startSidecar }, { ConfigError }, { collectWhenIdle }, { endLog }] = await Promise.all([import('./sidecar.js'), import('./config/load.js'), import('./memory/idle-gc.js'), import('./log/logger.js')]);
      // Listening for the signals before starting: a SIGTERM while starting (a pod deleted at
      // once, the image build's warm-up) then closes cleanly instead of killing the process.
      const stopped = stopSignal();
      // Before any connection is made: the agent shares this network (upstream/pod-addresses.ts).
      if (env.AIRLOCK_REFUSE_POD_ADDRESSES) {
        const { readSearchList, refusePodAddressesAndOwnDomain } = await import('./upstream/pod-addresses.js');
        // The kubelet writes the pod's resolv.conf before its containers start; it does not change.
        const resolvConf = existsSync('/etc/resolv.conf') ? readFileSync('/etc/resolv.conf', 'utf8') : '';
        refusePodAddressesAndOwnDomain(env.AIRLOCK_POD_NAMESPACE === undefined ? undefined : { list: readSearchList(resolvConf), namespace: env.AIRLOCK_POD_NAMESPACE });
      }
      // Before the config is read: it and the keys are used only as the operator sealed them.
      if (env.AIRLOCK_CONFIG_KEY !== undefined) {
        if (env.AIRLOCK_SANDBOX === undefined || env.AIRLOCK_POD_NAMESPACE === undefined) {
          console.error('AIRLOCK_CONFIG_KEY is set but AIRLOCK_SANDBOX or AIRLOCK_POD_NAMESPACE is not: the seal cannot be checked');
          return 1;
        }
        try {
          (await import('./config/seal.js')).requireSeal(env.AIRLOCK_CONFIG_KEY, { namespace: env.AIRLOCK_POD_NAMESPACE, sandbox: env.AIRLOCK_SANDBOX });
        } catch (err) {
          console.error((err as Error).message);
          return 1;
        }
      }
      let sidecar;
      try {
        sidecar = await startSidecar({ configPath: values.config!, stdioHost: env.AIRLOCK_STDIO_HOST });
      } catch (err) {
        if (err instanceof ConfigError) {
          console.error(err.message);
          return 1;
        }
        throw err;
      }
      // The process's memory, not the server's: V8's young generation back to the kernel when idle (ADR 0017).
      const idle = collectWhenIdle({ log: sidecar.log, busy: () => sidecar.callsInFlight() > 0 });
      sidecar.log.info({ signal: await stopped }, 'shutting down: finishing requests in flight');
      idle.stop();
      // Not closed at once: what the calls since the operator's last round spent is counted only
      // once it has read this pod's usage again (a Job's pod often lives less than one round).
      await sidecar.drain();
      await sidecar.close();
      await endLog(sidecar.log);
      return 0;
    }
    case 'check-config': {
      const file = rest[0];
      if (!file) return usage();
      const { ConfigError, loadConfigFile } = await import('./config/load.js');
      try {
        const config = await loadConfigFile(file);
        console.log(`${file}: valid (${config.providers.length} providers, ${config.mcp.backends.length} MCP backends)`);
        return 0;
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        for (const issue of err.issues) console.error(`${file}: ${issue.path || '<root>'}: ${issue.message}`);
        return 1;
      }
    }
    case 'probe': {
      const { readEnv } = await import('./env.js');
      const env = readEnv();
      const { values } = parseArgs({ args: rest, options: { socket: { type: 'string', default: env.AIRLOCK_SOCKET } } });
      return probe(values.socket!);
    }
    case 'firewall': {
      const { runFirewall } = await import('./firewall/index.js');
      return runFirewall(rest);
    }
    case 'stdio-host': {
      // The default is the injection's path, not AIRLOCK_STDIO_HOST: that variable tells the sidecar
      // where to connect, and reading it here would load env.ts and zod (injection passes --socket).
      const { values } = parseArgs({ args: rest, options: { socket: { type: 'string', default: DEFAULT_STDIO_HOST } } });
      const [{ startStdioHost }, { createLogger, endLog }, { SecretRegistry }] = await Promise.all([import('./stdio-host/host.js'), import('./log/logger.js'), import('./log/redact.js')]);
      // The secret env values of the servers running now, scrubbed from every line as in the sidecar (ADR 0010).
      const secrets = new SecretRegistry();
      const log = createLogger({ level: 'info', component: 'airlock-tools', secrets });
      const stopped = stopSignal();
      const host = await startStdioHost({ socketPath: values.socket!, logger: log, secrets });
      log.info({ signal: await stopped }, 'shutting down: ending stdio servers');
      await host.close();
      await endLog(log);
      return 0;
    }
    case undefined:
    case '-h':
    case '--help':
      console.log(await usageText());
      return command === undefined ? 2 : 0;
    default:
      return usage();
  }
}

/** Resolves with the name of the first SIGTERM or SIGINT received from now on. */
function stopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      process.off('SIGTERM', stop).off('SIGINT', stop);
      resolve(signal);
    };
    process.once('SIGTERM', stop).once('SIGINT', stop);
  });
}

async function usage(): Promise<number> {
  console.error(await usageText());
  return 2;
}

/** GET /readyz over the socket: 0 when ready, 1 otherwise (the startupProbe retries). */
function probe(socketPath: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ socketPath, path: '/readyz', method: 'GET', timeout: 2_000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200 ? 0 : 1);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => {
      console.error(`probe: ${socketPath}: ${err.message}`);
      resolve(1);
    });
    req.end();
  });
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
