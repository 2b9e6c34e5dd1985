import type { ApiError } from '../errors.js';

/**
 * The HTTP API's types for clients (`@facefleet/control-plane/api-type`): the CLI and the
 * dashboard build Hono's typed client with `hc<AppType>(url)`. Types only: this module compiles
 * to an empty one, so importing it (with `import type`) brings no server code into a client.
 */
export type { AppType } from './app.js';

/** Every error answer's body: `{ error: { code, message, details } }`. */
export type ApiErrorBody = ApiError['body'];
