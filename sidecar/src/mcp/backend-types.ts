/** The shapes a backend shows the gateway: its state, its admin status, and what it needs. */
import type { AnswerBudget } from '../upstream/answer-budget.js';
import type { Logger } from 'pino';
import type { RequestOptions } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { Implementation, RequestId } from '@modelcontextprotocol/sdk/types.js';
import type { McpBackendConfig } from '../config/index.js';
import type { BackendTuning } from './backoff.js';
import type { DownstreamSession } from './upstream.js';
import type { BackendConnection } from './backend-connection.js';
import type { ActiveTransport } from './transports.js';
import type { CounterMetric } from '../telemetry/cells.js';

/** Where a backend is in its lifecycle. */
export type BackendState = 'connecting' | 'ready' | 'failed' | 'stopped';

/** A backend's state as the admin view shows it. */
export interface BackendStatus {
  name: string;
  prefix: string;
  transport: McpBackendConfig['transport'];
  /** The transport in use: `sse` when streamable-http fell back. */
  activeTransport?: ActiveTransport | undefined;
  state: BackendState;
  /** When the backend entered its state (ISO 8601). */
  since: string;
  /** Consecutive failed attempts. */
  failures: number;
  lastError?: string | undefined;
  nextRetryAt?: string | undefined;
  pid?: number | undefined;
  server?: Implementation | undefined;
  /** Upstream sessions open for downstream sessions. */
  sessions: number;
}

/** Per-request options passed through from the client's request. */
export interface ForwardOptions {
  signal?: AbortSignal | undefined;
  onprogress?: RequestOptions['onprogress'];
  /** The downstream session the request came from: its own upstream session serves it. */
  session?: DownstreamSession | undefined;
  /** The client's id of the request, so the backend's requests meanwhile go back related to it. */
  requestId?: RequestId | undefined;
}


/** Where secret values are registered so the process-wide logger scrubs them too. */
export interface SecretSink {
  set(owner: string, values: Iterable<string>): void;
}

/** What a backend needs from the gateway. */
export interface BackendDeps {
  logger: Logger;
  tuning: BackendTuning;
  /** Called whenever the state or the catalog changed. */
  onChange: (backend: BackendConnection) => void;
  secrets?: SecretSink | undefined;
  /** Every open downstream session, for what a shared client sends to all of them. */
  sessions: () => Iterable<DownstreamSession>;
  /**
   * Whether the backend has an approved tool, prompt or resource now (Aggregate.exposedBackends):
   * what it sends reaches clients only then.
   */
  exposed: () => boolean;
  /** The stdio host's socket: stdio servers start in the airlock-tools container (see transports.ts). */
  stdioHost?: string | undefined;
  /** The sidecar's bound on answers held at once: a message being read from the backend counts against it. */
  answers?: AnswerBudget | undefined;
  /** Counts list re-reads held back by `tuning.listRereadMinMs` (telemetry/metrics.ts names it). */
  rereadsHeld?: CounterMetric<'backend' | 'list'> | undefined;
}
