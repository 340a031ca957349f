/**
 * fastify's schema compilers, replaced. The sidecar's routes declare no JSON schema (bodies are
 * parsed raw and checked with zod, in the client's error shape), yet fastify's default schema
 * controller loads ajv, ajv-formats and fast-json-stringify at start (~240 modules) for the
 * compilers it would build. With compilers of its own it loads none of them; a route that did
 * declare a schema fails at registration, saying why, instead of going unvalidated.
 */
import type { FastifyServerOptions } from 'fastify';

const refuse = (what: string) => () => () => {
  throw new Error(`the sidecar's routes declare no JSON schema (${what} compilers are not loaded): validate with zod in the handler`);
};

/** The `schemaController` option of every fastify instance of the sidecar. */
export const noSchemaCompilers: NonNullable<FastifyServerOptions['schemaController']> = {
  compilersFactory: { buildValidator: refuse('validator'), buildSerializer: refuse('serializer') },
};
