import { type SQL, sql } from 'drizzle-orm';

/**
 * An aggregate read as a JS number on both stores (PostgreSQL returns count and sum of bigint as
 * text; null stays null).
 */
export function num(fragment: SQL): SQL<number> {
  return fragment.mapWith(Number) as SQL<number>;
}

/** `num` for an aggregate that is null over no rows (min, max). */
export function numOrNull(fragment: SQL): SQL<number | null> {
  return fragment.mapWith(Number) as SQL<number | null>;
}

/** A validated integer written into the SQL text (so a GROUP BY can repeat the select's expression). */
export function literal(n: number): SQL {
  if (!Number.isSafeInteger(n)) throw new RangeError(`not a safe integer: ${n}`);
  return sql.raw(String(n));
}

/** Splits long id lists: SQLite takes at most 32,766 parameters a statement, PostgreSQL 65,535. */
export function chunks<T>(items: readonly T[], size = 1000): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** The first row of a result, or undefined. */
export const first = <T>(rows: T[]): T | undefined => rows[0];
