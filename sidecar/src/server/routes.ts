/** The routes of one API on the agent-facing app, sharing that API's error shape. */
import type { AppOptions } from './app.js';
import type { ErrorHandler, Handler, Router } from './http/router.js';

export class Routes {
  constructor(
    private readonly router: Router,
    readonly options: AppOptions,
    private readonly onError: ErrorHandler,
  ) {}

  /** Adds a route whose refusals are answered in this API's shape; `body: false` skips reading a body. */
  add(methods: string | readonly string[], path: string, handler: Handler, body?: boolean): void {
    this.router.add(methods, path, handler, body === undefined ? { onError: this.onError } : { onError: this.onError, body });
  }
}
