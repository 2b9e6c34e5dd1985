import type { z } from 'zod';

/** One problem found in an input: where (a dotted field path) and why. */
export interface FieldIssue {
  path: string;
  message: string;
}

/** Base class of every error the protocol package throws. */
export class ProtocolError extends Error {
  override name = 'ProtocolError';
}

/** A topic string or topic filter that is not part of the facefleet contract. */
export class TopicError extends ProtocolError {
  override name = 'TopicError';
  constructor(
    readonly topic: string,
    readonly reason: string,
  ) {
    super(`invalid topic ${JSON.stringify(topic)}: ${reason}`);
  }
}

/** A payload that does not match its schema; `issues` names every wrong field. */
export class PayloadError extends ProtocolError {
  override name = 'PayloadError';
  constructor(
    readonly schemaName: string,
    readonly issues: FieldIssue[],
  ) {
    super(`invalid ${schemaName}: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
  }
}

/** Turns zod's issue list into `{ path, message }` pairs with dotted paths (`boxes.3.w`). */
export function fieldIssues(error: z.ZodError): FieldIssue[] {
  return error.issues.flatMap((issue) => {
    const base = issue.path.map(String).join('.');
    // An unrecognized key is reported by zod at the parent; name the key itself.
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({
        path: base ? `${base}.${key}` : key,
        message: 'unknown field',
      }));
    }
    return [{ path: base || '(root)', message: issue.message }];
  });
}
