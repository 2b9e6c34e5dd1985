import { randomBytes } from 'node:crypto';
import { type DeviceClass, dlaCores } from '@facefleet/protocol';
import type { EngineRow, Store } from '@facefleet/store';
import type { Logger } from 'pino';
import type { BlobStore } from '../engines/blob-store.js';
import type { FleetKey } from '../engines/fleet-key.js';
import { engineManifest } from '../engines/manifest.js';
import { EngineStoreError, ServiceError } from '../errors.js';

/** What an upload says of its engine (validated by the API). */
export interface EngineUpload {
  id?: string | undefined;
  name: string;
  model: string;
  backend: string;
  format: string;
  deviceClass: string;
  trtVersion?: string | undefined;
  /** The DLA core a TensorRT engine is built for; absent: the GPU. */
  dlaCore?: number | undefined;
  precision: string;
  inputDims: number[];
}

export interface EngineServiceDeps {
  store: Store;
  blobs: BlobStore;
  fleetKey: FleetKey;
  /** The largest engine file. */
  maxBytes: number;
  /** All engine files together (a blob shared by several engines counted once). */
  quotaBytes: number;
  log: Logger;
}

/**
 * Engines: stored by content (blob store), described and signed with the fleet key (database).
 * Each upload gets the next version (higher than every engine's before it), signed with its id and
 * digest: a device refuses to go to a lower version unless a rollback is asked for.
 */
export function createEngineService(deps: EngineServiceDeps) {
  const { store, blobs, fleetKey } = deps;
  async function find(id: string): Promise<EngineRow> {
    const row = await store.engines.get(id);
    if (!row) throw new ServiceError('not_found', `no engine ${id}`);
    return row;
  }
  return {
    find,

    /** Bytes stored and the quota, for the API and the check below. */
    async usage(): Promise<{ usedBytes: number; quotaBytes: number }> {
      return { usedBytes: await store.engines.totalBytes(), quotaBytes: deps.quotaBytes };
    },

    /**
     * Streams the engine into the blob store, signs its manifest and stores it. Refused with
     * EngineStoreError('too_large') past the per-engine limit or the quota of all engines.
     */
    async upload(
      meta: EngineUpload,
      body: AsyncIterable<Uint8Array>,
      declaredBytes?: number,
    ): Promise<EngineRow> {
      if (meta.backend === 'tensorrt' && meta.format === 'plan' && !meta.trtVersion) {
        throw new ServiceError(
          'invalid',
          'a TensorRT plan needs its TensorRT version',
          'trtVersion',
          'required for a TensorRT plan',
        );
      }
      if (meta.dlaCore !== undefined) {
        const cores = dlaCores(meta.deviceClass as DeviceClass);
        if (meta.backend !== 'tensorrt') {
          throw new ServiceError('invalid', 'a DLA core needs the tensorrt backend', 'dlaCore');
        }
        if (meta.dlaCore >= cores) {
          throw new ServiceError(
            'invalid',
            cores === 0
              ? `${meta.deviceClass} has no DLA (deep-learning accelerator): build the engine for the GPU`
              : `${meta.deviceClass} has ${cores} DLA cores (0–${cores - 1})`,
            'dlaCore',
          );
        }
      }
      const id = meta.id ?? `eng-${randomBytes(6).toString('hex')}`;
      if (await store.engines.exists(id)) {
        throw new ServiceError('conflict', `engine ${id} exists`, 'id', 'already exists');
      }
      const room = deps.quotaBytes - (await store.engines.totalBytes());
      const overQuota = () =>
        new EngineStoreError(
          'too_large',
          `engine storage quota of ${deps.quotaBytes} bytes reached (${Math.max(0, room)} bytes left): delete engines no longer used`,
        );
      if (declaredBytes !== undefined && declaredBytes > room) throw overQuota();
      const limit = Math.min(deps.maxBytes, Math.max(0, room));
      let stored: { sha256: string; size: number };
      try {
        stored = await blobs.put(body, limit);
      } catch (err) {
        if (err instanceof EngineStoreError && err.code === 'too_large' && limit < deps.maxBytes) {
          throw overQuota();
        }
        throw err;
      }
      const { sha256, size } = stored;
      const trtVersion = meta.trtVersion ?? null;
      const version = (await store.engines.maxVersion()) + 1;
      const signature = fleetKey.signManifest({
        id,
        version,
        sha256,
        size,
        deviceClass: meta.deviceClass as never,
        trtVersion,
        backend: meta.backend as never,
        model: meta.model as never,
        format: meta.format as never,
        calibration: null,
        dlaCore: meta.dlaCore ?? null,
      });
      const row = await store.engines.insert({
        id,
        name: meta.name,
        model: meta.model,
        backend: meta.backend,
        format: meta.format,
        deviceClass: meta.deviceClass,
        trtVersion,
        dlaCore: meta.dlaCore ?? null,
        precision: meta.precision,
        inputDims: JSON.stringify(meta.inputDims),
        sha256,
        size,
        signature,
        createdAt: Date.now(),
        version,
      });
      // Two uploads of one id at once: the second finds the first's row.
      if (!row) throw new ServiceError('conflict', `engine ${id} exists`, 'id', 'already exists');
      return row;
    },

    /**
     * Deletes an engine nothing needs any more (no rollout under way installs it or reverts to it,
     * no device runs it), and its file when no other engine shares it.
     */
    async remove(id: string): Promise<void> {
      const row = await find(id);
      const users = await store.engines.users(id);
      if (users.rollouts.length > 0 || users.devices.length > 0) {
        const what = [
          ...(users.rollouts.length > 0 ? [`rollouts ${users.rollouts.join(', ')}`] : []),
          ...(users.devices.length > 0 ? [`devices ${users.devices.join(', ')}`] : []),
        ].join('; ');
        throw new ServiceError('conflict', `engine ${id} is still used by ${what}`, 'id', 'in use');
      }
      if (!(await store.engines.delete(id))) throw new ServiceError('not_found', `no engine ${id}`);
      if ((await store.engines.countBySha256(row.sha256)) === 0) await blobs.remove(row.sha256);
    },

    /**
     * Signs again, under the current signing payload, every engine whose signature is this key's
     * under the first one (engines uploaded before ids and versions were signed). Signatures that
     * verify under neither are left alone and reported: a row changed behind the server's back is
     * never signed. Run at start; idempotent.
     */
    async migrateSignatures(): Promise<{ resigned: number; invalid: string[] }> {
      const resign: { id: string; signature: string }[] = [];
      const invalid: string[] = [];
      for (const row of await store.engines.list()) {
        const m = engineManifest(row);
        if (fleetKey.verifyManifest(m)) continue;
        if (fleetKey.verifyLegacyManifest(m)) {
          resign.push({ id: row.id, signature: fleetKey.signManifest(m) });
        } else invalid.push(row.id);
      }
      if (resign.length > 0) await store.engines.setSignatures(resign);
      if (invalid.length > 0) {
        deps.log.error(
          { engines: invalid },
          'engines whose signature does not verify with the fleet key: devices will refuse them',
        );
      }
      return { resigned: resign.length, invalid };
    },
  };
}
export type EngineService = ReturnType<typeof createEngineService>;
