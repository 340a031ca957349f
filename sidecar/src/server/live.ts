/**
 * The live configuration: the current Runtime, swapped on reload. A new config that fails to
 * parse or validate is refused, logged with every error, reported on /readyz, and the last good
 * runtime keeps serving.
 */
import { createHash } from 'node:crypto';
import { ConfigError, parseConfig } from '../config/load.js';
import { SealError, sealChecker } from '../config/seal.js';
import type { SidecarConfig } from '../config/schema.js';
import { watchFiles, type FileWatcher } from '../config/watch.js';
import { readText } from '../fs-async.js';
import type { Logger } from '../log/logger.js';
import type { SecretRegistry } from '../log/redact.js';
import type { Metrics } from '../telemetry/metrics.js';
import { Runtime } from './runtime.js';
import { AnswerBudget } from '../upstream/answer-budget.js';
import { DEFAULT_ANSWER_BYTES_IN_FLIGHT } from '../config/schema.js';

export interface LiveStatus {
  /** sha256 of the config text in use. */
  configHash: string | undefined;
  /** The errors of the last config that was refused, if the file still holds it. */
  rejected: { hash: string; errors: { path: string; message: string }[] } | undefined;
}

export class LiveConfig {
  private runtime: Runtime | undefined;
  private hash: string | undefined;
  private rejected: LiveStatus['rejected'];
  private watcher: FileWatcher | undefined;
  private keyWatcher: FileWatcher | undefined;
  private chain: Promise<void> = Promise.resolve();
  /** Whether the config refused last was refused for its seal (ADR 30) or a read that failed, not for its text. */
  private unsealed = false;
  private readonly listeners: ((config: SidecarConfig) => void)[] = [];
  /** Answers held at once across every provider's client, whichever config they came from (upstream/answer-budget.ts). */
  readonly answers = new AnswerBudget(DEFAULT_ANSWER_BYTES_IN_FLIGHT);

  constructor(
    private readonly path: string,
    private readonly deps: { log: Logger; secrets: SecretRegistry; metrics: Metrics },
  ) {}

  /** The runtime in use. Throws before the first successful load. */
  get current(): Runtime {
    if (!this.runtime) throw new Error('config not loaded');
    return this.runtime;
  }

  get loaded(): boolean {
    return this.runtime !== undefined;
  }

  status(): LiveStatus {
    return { configHash: this.hash, rejected: this.rejected };
  }

  /** Registers a callback for every applied config (the MCP gateway reloads through it). */
  onApply(listener: (config: SidecarConfig) => void): void {
    this.listeners.push(listener);
  }

  /** Loads the config for the first time; throws ConfigError when it is invalid. */
  async start(): Promise<void> {
    await this.reload(true);
    this.watcher = watchFiles([this.path], () => void this.enqueue(() => this.reload(false)));
    this.watchKeys();
  }

  /** Re-reads the config file and the key files now (what the watchers do on a change). */
  async check(): Promise<void> {
    await this.enqueue(() => this.reload(false));
    await this.enqueue(() => this.reloadKeys());
  }

  async close(): Promise<void> {
    this.watcher?.close();
    this.keyWatcher?.close();
    await this.chain;
    await this.runtime?.retire(undefined);
  }

  private enqueue(task: () => Promise<void>): Promise<void> {
    this.chain = this.chain.then(task, task);
    return this.chain;
  }

  private async reload(initial: boolean): Promise<void> {
    const { log, metrics, secrets } = this.deps;
    let text: string;
    try {
      text = await readText(this.path);
    } catch (err) {
      if (initial) throw new ConfigError(this.path, [{ path: '', message: `cannot read: ${(err as NodeJS.ErrnoException).code}` }]);
      log.error({ file: this.path, code: (err as NodeJS.ErrnoException).code }, 'config file unreadable; keeping the last good config');
      return;
    }
    let hash = sha256(text);
    // The file holds the config in use again: nothing is refused any more.
    if (hash === this.hash) {
      this.rejected = undefined;
      return;
    }
    // A text refused for its seal (or unreadable then) is looked at again each time: the same text may come sealed.
    if (hash === this.rejected?.hash && !this.unsealed) return;
    this.unsealed = false;
    try {
      // Where seals are required, the text used is the one the seal vouches for, read again
      // through the volume version the seal is in (the first read only tells a change apart).
      const seal = sealChecker();
      if (seal) {
        text = await seal.read(this.path).then(
          (bytes) => bytes.toString('utf8'),
          (err: unknown) => {
            // Not the text's fault (its seal, or a volume swapped away while read): looked at again.
            this.unsealed = true;
            throw asConfigError(this.path, err);
          },
        );
        hash = sha256(text);
        if (hash === this.hash) {
          this.rejected = undefined;
          return;
        }
      }
      const config = await parseConfig(text, this.path);
      const next = await Runtime.create(config, secrets, this.answers, this.runtime);
      this.answers.maxBytes = config.listen.maxAnswerBytesInFlight;
      const previous = this.runtime;
      this.runtime = next;
      this.hash = hash;
      this.rejected = undefined;
      metrics.configReloads.inc({ result: 'applied' });
      if (!initial) {
        log.info({ configHash: hash }, 'config reloaded');
        this.watchKeys();
      }
      for (const listener of this.listeners) listener(config);
      // Requests in flight on the old runtime keep their clients until they finish.
      void previous?.retire(next);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      if (initial) throw err;
      this.rejected = { hash, errors: err.issues };
      metrics.configReloads.inc({ result: 'rejected' });
      log.error({ file: this.path, errors: err.issues }, 'new config refused; keeping the last good config');
    }
  }

  private watchKeys(): void {
    this.keyWatcher?.close();
    const files = this.runtime?.keyFiles ?? [];
    if (files.length === 0) return;
    this.keyWatcher = watchFiles(files, () => void this.enqueue(() => this.reloadKeys()));
  }

  private async reloadKeys(): Promise<void> {
    try {
      await this.runtime?.reloadKeys(this.deps.secrets);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      this.deps.log.error({ errors: err.issues }, 'key file unreadable; keeping the keys in use');
    }
  }
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/** A config the seal does not vouch for (or that vanished between two reads) is refused as an invalid one is. */
function asConfigError(path: string, err: unknown): unknown {
  if (err instanceof SealError) return new ConfigError(path, [{ path: '', message: err.message }]);
  const code = (err as NodeJS.ErrnoException).code;
  return code === undefined ? err : new ConfigError(path, [{ path: '', message: `cannot read: ${code}` }]);
}
