/** The HTTP layer shared by the sidecar's servers and the operator's (`@airlock/sidecar/http`): see ADR 0024. */
export { HttpApp, JSON_UTF8, PLAIN_ANSWERS, plainError, type HttpAppOptions } from './app.js';
export { bodyTooLarge, HttpError, readBody } from './read-body.js';
export { writeJson } from './reply.js';
export { BadTarget, queryObject, Router, splitTarget, type ErrorHandler, type Handler, type HttpRequest, type Route, type RouteOptions } from './router.js';
