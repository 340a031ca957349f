/**
 * The one HTTP client: an undici Agent per provider, created when the config is loaded and
 * reused for every call (connection pooling, no per-request client). Timeouts map onto undici's:
 * connectMs → connect.timeout, firstByteMs → headersTimeout, idleMs → bodyTimeout.
 */
import { Agent, type Dispatcher } from 'undici';
import type { ProviderConfig } from '../config/schema.js';
import type { UpstreamRequest } from '../providers/types.js';
import { classifyError } from './failure.js';

export interface UpstreamResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Dispatcher.ResponseData['body'];
}

export class ProviderClient {
  private readonly agent: Agent;

  constructor(private readonly config: ProviderConfig) {
    this.agent = new Agent({
      connect: { timeout: config.timeouts.connectMs },
      headersTimeout: config.timeouts.firstByteMs,
      bodyTimeout: config.timeouts.idleMs,
      keepAliveTimeout: 30_000,
      connections: 256,
      pipelining: 1,
    });
  }

  /** Sends the request; resolves once response headers arrive. Errors are classified UpstreamFailures. */
  async send(request: UpstreamRequest, signal: AbortSignal): Promise<UpstreamResponse> {
    const { origin, path } = this.split(request.url);
    try {
      const response = await this.agent.request({
        origin,
        path,
        method: request.method,
        headers: request.headers,
        body: request.body,
        signal,
      });
      return { status: response.statusCode, headers: response.headers, body: response.body };
    } catch (err) {
      throw classifyError(signal.aborted ? signal.reason ?? err : err, this.config.name, 'headers');
    }
  }

  private lastURL = '';
  private lastSplit = { origin: '', path: '' };

  /** Origin and path of `url`; a provider's calls go to one or two URLs, so the last one is kept. */
  private split(url: string): { origin: string; path: string } {
    if (url !== this.lastURL) {
      const parsed = new URL(url);
      this.lastSplit = { origin: parsed.origin, path: parsed.pathname + parsed.search };
      this.lastURL = url;
    }
    return this.lastSplit;
  }

  /** Closes idle connections once in-flight requests finish (used when a reload replaces the provider). */
  close(): Promise<void> {
    return this.agent.close();
  }
}
