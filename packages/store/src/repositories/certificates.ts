import { and, eq, isNull } from 'drizzle-orm';
import type { Dialect } from '../dialect.js';
import type { DeviceCertificateRow } from '../schema/rows.js';
import { first } from './util.js';

/**
 * Device certificates: which client certificates (by the sha256 of their DER) log which device in
 * over TLS, and which were revoked. A certificate the fleet CA signed still needs its row here.
 */
export function certificateRepository({ db, t }: Dialect) {
  const c = t.deviceCertificates;
  return {
    /** Enrolls a certificate; undefined when that certificate is enrolled already. */
    async insert(
      row: Omit<DeviceCertificateRow, 'revokedAt'>,
    ): Promise<DeviceCertificateRow | undefined> {
      return first(
        await db
          .insert(c)
          .values({ ...row, revokedAt: null })
          .onConflictDoNothing()
          .returning(),
      );
    },
    async get(fingerprint: string): Promise<DeviceCertificateRow | undefined> {
      return first(await db.select().from(c).where(eq(c.fingerprint, fingerprint)).limit(1));
    },
    /** A device's certificates, revoked ones too, oldest first. */
    async ofDevice(deviceId: string): Promise<DeviceCertificateRow[]> {
      return db
        .select()
        .from(c)
        .where(eq(c.deviceId, deviceId))
        .orderBy(c.createdAt, c.fingerprint);
    },
    /** Marks it revoked; the row, or undefined when it was not enrolled for that device or revoked already. */
    async revoke(
      deviceId: string,
      fingerprint: string,
      at: number,
    ): Promise<DeviceCertificateRow | undefined> {
      return first(
        await db
          .update(c)
          .set({ revokedAt: at })
          .where(and(eq(c.fingerprint, fingerprint), eq(c.deviceId, deviceId), isNull(c.revokedAt)))
          .returning(),
      );
    },
    /** Removes every certificate of a deleted device. */
    async deleteOfDevice(deviceId: string): Promise<void> {
      await db.delete(c).where(eq(c.deviceId, deviceId));
    },
  };
}
export type CertificateRepository = ReturnType<typeof certificateRepository>;
