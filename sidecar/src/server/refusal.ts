/** Refusals made before the relay starts, in the error shape of the API the client speaks. */
import type { ServerResponse } from 'node:http';
import type { Logger } from '../log/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import { AdapterError, type ProviderError } from '../providers/types.js';
import { ModelNotFoundError } from '../router/models.js';
import { BadRequest, frameworkError } from './body.js';
import { JSON_UTF8 } from './http/app.js';
import { writeJson } from './http/reply.js';
import type { ErrorHandler } from './http/router.js';
import type { Ingress } from './ingress.js';

/** Sends a refusal made before routing in the ingress's error shape. */
export function refuse(res: ServerResponse, ingress: Ingress, error: ProviderError, headers?: Record<string, string>): void {
  writeJson(res, error.status, ingress.errorBody(error), headers ? { ...JSON_UTF8, ...headers } : JSON_UTF8);
}

/**
 * Maps what a handler (or the body read before it) throws before the relay starts to the ingress's
 * error shape, counted by status (a misconfigured or probing agent shows on /metrics).
 */
export function errorHandlerFor(ingress: Ingress, log: Logger, metrics?: Metrics): ErrorHandler {
  const answer = (res: ServerResponse, error: ProviderError) => {
    metrics?.requestRefusals.inc({ api: ingress.name, status: String(error.status) });
    refuse(res, ingress, error);
  };
  return (err, _request, res) => {
    if (err instanceof BadRequest || err instanceof AdapterError) return answer(res, err.error);
    if (err instanceof ModelNotFoundError) {
      return answer(res, { status: 404, type: 'invalid_request_error', message: err.message, code: 'model_not_found', param: 'model' });
    }
    const error = frameworkError(err);
    if (error.status >= 500) log.error({ err }, 'unhandled error');
    return answer(res, error);
  };
}
