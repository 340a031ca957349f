/** The one logger: pino, JSON lines, every line scrubbed of secret values before it is written. */
import { pino, type DestinationStream, type Logger } from 'pino';
import type { SecretRegistry } from './redact.js';

export type { Logger } from 'pino';

export interface LoggerOptions {
  level: string;
  secrets: SecretRegistry;
  /** Where lines go; default stdout. Tests pass a capturing stream. */
  destination?: DestinationStream;
}

/** Creates the sidecar's logger. */
export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level,
      base: { component: 'airlock-sidecar' },
      hooks: { streamWrite: (line) => options.secrets.scrub(line) },
      // Headers are never logged: requests to providers carry keys in them.
      serializers: { req: (req: { method?: string; url?: string }) => ({ method: req.method, url: req.url }) },
    },
    options.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}
