import { handle, type LambdaEvent } from 'hono/aws-lambda';
import pino from 'pino';
import { loadConfig } from './config.js';
import { createServerlessApp } from './serverless.js';

/**
 * AWS Lambda entry (API Gateway HTTP API, payload format 2.0, or a function URL): the HTTP API of
 * the control plane. Configured like the server, from FACEFLEET_* environment variables
 * (FACEFLEET_STORE=postgres://…, FACEFLEET_BROKER=mqtts://…, FACEFLEET_INGEST_HTTP_SECRET, …; see
 * infra/serverless/README.md). The app is built on the first invocation and reused while AWS keeps
 * the process.
 */
type Handler = ReturnType<typeof handle>;

/** A Lambda handler that builds its app on the first invocation (again, if that build failed). */
export function createLambdaHandler(build: () => Promise<Handler>) {
  let ready: Promise<Handler> | undefined;
  return async (event: LambdaEvent, context?: Parameters<Handler>[1]) => {
    ready ??= build().catch((err: unknown) => {
      ready = undefined;
      throw err;
    });
    return (await ready)(event, context);
  };
}

export const handler = createLambdaHandler(async () => {
  const config = loadConfig({ argv: [] });
  const log = pino({ level: config.logLevel });
  const { app } = await createServerlessApp({ config, log });
  return handle(app);
});
