import { z } from 'zod';

/**
 * Identifiers that become MQTT topic levels (device ids, rule ids). They must never carry MQTT
 * wildcards (`+`, `#`), level separators (`/`), a leading `$` (broker-internal topics) or control
 * characters, so an id cannot widen what a topic or ACL check matches.
 */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const ID_MAX_LENGTH = 64;

export const idRule =
  'must be 1-64 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit';

/** Names that MQTT logins use for principals other than devices (see mqtt-users.ts). */
export const RESERVED_IDS: readonly string[] = ['control-plane', 'subscriber'];

export function isValidId(id: string): boolean {
  return ID_PATTERN.test(id) && !RESERVED_IDS.includes(id);
}

const idSchema = (what: string) =>
  z
    .string()
    .regex(ID_PATTERN, `${what} ${idRule}`)
    .refine(
      (id) => !RESERVED_IDS.includes(id),
      `${what} must not be one of ${RESERVED_IDS.join(', ')}`,
    );

export const deviceIdSchema = idSchema('device id');
export const ruleIdSchema = idSchema('rule id');
