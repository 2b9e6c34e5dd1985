import type { TestProject } from 'vitest/node';
import { type Postgres, startPostgres } from './postgres.js';

/**
 * vitest globalSetup: one throwaway PostgreSQL cluster for the whole run (tests make their own
 * databases in it: see `postgresDatabase`). A failure to start is handed to the tests, which then
 * fail with the reason; it never makes them skip.
 */
export default async function setup(project: TestProject) {
  let pg: Postgres | undefined;
  try {
    pg = await startPostgres();
    project.provide('postgresUrl', pg.url);
  } catch (err) {
    project.provide('postgresUrl', `error:${(err as Error).message}`);
  }
  return () => pg?.close();
}
