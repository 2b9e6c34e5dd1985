import { fieldIssues } from '@facefleet/protocol';
import type { MiddlewareHandler } from 'hono';
import type { InferInput } from 'hono/validator';
import type { z } from 'zod';
import { ApiError } from '../errors.js';
import type { Env } from './http.js';

/**
 * Request validation as Hono middleware, with the zod schemas: the handler reads the parsed value
 * with `c.req.valid('json' | 'query')`, the route's type carries the schema's input (so the typed
 * client `hc` knows what to send), and the OpenAPI document reads the schema off the middleware
 * (`validatedInput`), so what is documented is what is checked.
 */

const INPUT = Symbol('facefleet.input');

export interface ValidatedInput {
  target: 'json' | 'query';
  schema: z.ZodType;
}

/** The schema a validator checks, or undefined for any other handler. */
export function validatedInput(handler: unknown): ValidatedInput | undefined {
  return (handler as { [INPUT]?: ValidatedInput })[INPUT];
}

function invalid(where: string, error: z.ZodError): ApiError {
  const issues = fieldIssues(error);
  return new ApiError(
    'invalid_request',
    `invalid ${where}: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
    { details: issues },
  );
}

function mark<M>(middleware: M, input: ValidatedInput): M {
  return Object.assign(middleware as object, { [INPUT]: input }) as M;
}

/** Parses and validates the JSON body; a 400 naming every wrong field otherwise. */
export function jsonBody<S extends z.ZodType>(
  schema: S,
): MiddlewareHandler<Env, string, { in: { json: z.input<S> }; out: { json: z.output<S> } }> {
  return mark(
    async (c, next) => {
      let data: unknown;
      try {
        data = await c.req.json();
      } catch (err) {
        throw new ApiError('invalid_request', `body: not JSON (${(err as Error).message})`, {
          details: [{ path: '(body)', message: 'not JSON' }],
        });
      }
      const result = schema.safeParse(data);
      if (!result.success) throw invalid('body', result.error);
      c.req.addValidatedData('json', result.data as object);
      await next();
    },
    { target: 'json', schema },
  );
}

/** Validates the query string. */
export function query<S extends z.ZodObject>(
  schema: S,
): MiddlewareHandler<
  Env,
  string,
  { in: { query: InferInput<z.input<S>, 'query'> }; out: { query: z.output<S> } }
> {
  return mark(
    async (c, next) => {
      const result = schema.safeParse(c.req.query());
      if (!result.success) throw invalid('query', result.error);
      c.req.addValidatedData('query', result.data as object);
      await next();
    },
    { target: 'query', schema },
  );
}
