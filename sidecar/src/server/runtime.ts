/**
 * Everything built from one config: providers with their keys, clients, breakers and limits,
 * and the model catalog. A reload builds a new Runtime and swaps it in; requests in flight keep
 * the one they started with, whose clients close once those requests finish.
 */
import { DEFAULT_BASE_URLS, type ProviderConfig, type SidecarConfig } from '../config/schema.js';
import { ConfigError } from '../config/load.js';
import { readBoundFile, sendableTo, type BoundFile } from '../config/origin-file.js';
import { SealError } from '../config/seal.js';
import type { SecretRegistry } from '../log/redact.js';
import { adapterFor } from '../providers/index.js';
import { CircuitBreaker } from '../router/breaker.js';
import { KeyPool } from '../router/key-pool.js';
import { Limiter } from '../router/limits.js';
import { ModelCatalog } from '../router/models.js';
import type { ProviderRuntime } from '../router/router.js';
import { Semaphore } from '../router/semaphore.js';
import type { AnswerBudget } from '../upstream/answer-budget.js';
import { ProviderClient } from '../upstream/client.js';

/** Consecutive failures that open a provider's circuit, and how long it stays open. */
const BREAKER = { threshold: 5, cooldownMs: 30_000 };

export class Runtime {
  private constructor(
    readonly config: SidecarConfig,
    readonly providers: ProviderRuntime[],
    readonly catalog: ModelCatalog<ProviderRuntime>,
    /** Key files of each provider, for the watcher. */
    readonly keyFiles: string[],
    /** The sandbox-wide limits; its counts carry over reloads. */
    readonly limiter: Limiter,
  ) {}

  /**
   * Builds a runtime, reading every key file. Providers whose config is unchanged from
   * `previous` are carried over whole, so key states and breakers survive a reload.
   * @throws {ConfigError} when a key file cannot be read.
   */
  static async create(config: SidecarConfig, secrets: SecretRegistry, answers: AnswerBudget, previous?: Runtime): Promise<Runtime> {
    const providers = await Promise.all(
      config.providers.map(async (provider) => {
        const kept = previous?.providers.find((p) => sameConfig(p.config, provider));
        if (kept) return kept;
        const keys = await readKeys(provider);
        secrets.set(`provider/${provider.name}`, keys.values);
        return buildProvider(provider, keys, answers);
      }),
    );
    const keyFiles = config.providers.flatMap((p) => p.apiKeys.map((k) => k.file));
    const limiter = previous?.limiter ?? new Limiter(config.limits, undefined, true);
    limiter.update(config.limits);
    return new Runtime(config, providers, new ModelCatalog(config, providers), keyFiles, limiter);
  }

  /** Re-reads every provider's key files (a Secret changed); keys whose value is unchanged keep their state. */
  async reloadKeys(secrets: SecretRegistry): Promise<void> {
    for (const provider of this.providers) {
      const keys = await readKeys(provider.config);
      secrets.set(`provider/${provider.config.name}`, keys.values);
      provider.keys.replace(keys.values, keys.withheld);
    }
  }

  /** Closes the clients of providers that `next` does not carry over. */
  async retire(next: Runtime | undefined): Promise<void> {
    await Promise.all(this.providers.filter((p) => !next?.providers.includes(p)).map((p) => p.client.close()));
  }
}

function buildProvider(config: ProviderConfig, keys: Keys, answers: AnswerBudget): ProviderRuntime {
  return {
    config,
    baseURL: baseURLOf(config),
    adapter: adapterFor(config.type),
    keys: new KeyPool(keys.values, undefined, keys.withheld),
    breaker: new CircuitBreaker(BREAKER),
    slots: config.limits?.maxConcurrent ? new Semaphore(config.limits.maxConcurrent) : undefined,
    limiter: new Limiter({ requestsPerMinute: config.limits?.requestsPerMinute, tokensPerMinute: config.limits?.tokensPerMinute }),
    client: new ProviderClient({ name: config.name, timeouts: config.timeouts, maxResponseBytes: MAX_ANSWER_BYTES, answers }),
  };
}

/**
 * The largest whole answer read from a provider to be translated (a plain call's JSON in another
 * API than the client's) or reported (an error); past it the connection is closed and the call
 * fails once, not retried (upstream/failure.ts, 'too_large'). Whoever writes a ModelProvider picks
 * its baseURL: an answer that never ends was read until the call's total timeout, into one
 * buffer. A plain answer passed through untouched is not bound by it: past 16 MiB it is relayed
 * as it comes (relay/attempt.ts, PASS_THROUGH_HELD_BYTES; docs/adr/0026): 2,048 embeddings of
 * 3,072 dimensions are ~34 MB in base64 (the SDKs' default) and well past 100 MB as floats.
 * Streamed events are bounded on their own (16 MiB, providers/shared/framing.ts).
 */
export const MAX_ANSWER_BYTES = 64 * 1024 * 1024;

function baseURLOf(config: ProviderConfig): string {
  return (config.baseURL ?? DEFAULT_BASE_URLS[config.type]!).replace(/\/+$/, '');
}

/** A provider's key values, and which of them were accepted for another origin than its baseURL's. */
interface Keys {
  values: string[];
  withheld: boolean[];
}

/**
 * Reads a provider's key files. The operator writes next to each key the origin it accepted the
 * key for (`<file>.origin`, in the same Secret, so the kubelet swaps both at once) and marks the
 * key `requireOrigin`: a key whose recorded origin is not the baseURL's (or, required, is missing)
 * is withheld, so a config that moved the provider to another host (a config from another volume
 * than the keys, before ADR 29, or one a ConfigMap editor wrote) never gets the key meant for the
 * old one (config/origin-file.ts). Both files are read
 * from the key's resolved path (the kubelet's timestamped directory, never changed once written),
 * so a swap between the two reads cannot pair one version's key with another's origin.
 */
async function readKeys(provider: ProviderConfig): Promise<Keys> {
  const origin = new URL(baseURLOf(provider)).origin;
  const read = await Promise.all(
    provider.apiKeys.map(async ({ file, requireOrigin }, index) => {
      const fail = (code: string) => new ConfigError(file, [{ path: `providers.${provider.name}.apiKeys.${index}`, message: `key file ${file} cannot be used (${code})` }]);
      let bound: BoundFile;
      try {
        bound = await readBoundFile(file);
      } catch (err) {
        throw fail(err instanceof SealError ? err.message : ((err as NodeJS.ErrnoException).code ?? 'unreadable'));
      }
      const value = bound.text.trim();
      if (!value) throw fail('EMPTY');
      return { value, withheld: !sendableTo(bound, requireOrigin, origin) };
    }),
  );
  return { values: read.map((k) => k.value), withheld: read.map((k) => k.withheld) };
}

function sameConfig(a: ProviderConfig, b: ProviderConfig): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
