/** Refusals made before the relay starts, in the error shape of the API the client speaks. */
import type { FastifyError, FastifyReply } from 'fastify';
import { AdapterError, type ProviderError } from '../providers/types.js';
import { ModelNotFoundError } from '../router/models.js';
import { BadRequest, frameworkError } from './body.js';
import type { Ingress } from './ingress.js';

/** Sends a refusal made before routing in the ingress's error shape. */
export function refuse(reply: FastifyReply, ingress: Ingress, error: ProviderError): FastifyReply {
  return reply.code(error.status).type('application/json').send(ingress.errorBody(error));
}

/** Maps what a handler throws before the relay starts to the ingress's error shape. */
export function errorHandlerFor(ingress: Ingress) {
  return (err: FastifyError | Error, _request: unknown, reply: FastifyReply) => {
    if (err instanceof BadRequest || err instanceof AdapterError) return refuse(reply, ingress, err.error);
    if (err instanceof ModelNotFoundError) {
      return refuse(reply, ingress, { status: 404, type: 'invalid_request_error', message: err.message, code: 'model_not_found', param: 'model' });
    }
    const error = frameworkError(err as FastifyError);
    if (error.status >= 500) reply.log.error({ err }, 'unhandled error');
    return refuse(reply, ingress, error);
  };
}

