import { randomBytes } from 'node:crypto';
import type { EngineRow, Store } from '@facefleet/store';
import type { BlobStore } from '../engines/blob-store.js';
import type { FleetKey } from '../engines/fleet-key.js';
import { ServiceError } from '../errors.js';

/** What an upload says of its engine (validated by the API). */
export interface EngineUpload {
  id?: string | undefined;
  name: string;
  model: string;
  backend: string;
  format: string;
  deviceClass: string;
  trtVersion?: string | undefined;
  precision: string;
  inputDims: number[];
}

export interface EngineServiceDeps {
  store: Store;
  blobs: BlobStore;
  fleetKey: FleetKey;
  maxBytes: number;
}

/** Engines: stored by content (blob store), described and signed with the fleet key (database). */
export function createEngineService(deps: EngineServiceDeps) {
  const { store, blobs, fleetKey } = deps;
  return {
    async find(id: string): Promise<EngineRow> {
      const row = await store.engines.get(id);
      if (!row) throw new ServiceError('not_found', `no engine ${id}`);
      return row;
    },

    /** Streams the engine into the blob store, signs its manifest and stores it. */
    async upload(meta: EngineUpload, body: AsyncIterable<Uint8Array>): Promise<EngineRow> {
      if (meta.backend === 'tensorrt' && meta.format === 'plan' && !meta.trtVersion) {
        throw new ServiceError(
          'invalid',
          'a TensorRT plan needs its TensorRT version',
          'trtVersion',
          'required for a TensorRT plan',
        );
      }
      const id = meta.id ?? `eng-${randomBytes(6).toString('hex')}`;
      if (await store.engines.exists(id)) {
        throw new ServiceError('conflict', `engine ${id} exists`, 'id', 'already exists');
      }
      const { sha256, size } = await blobs.put(body, deps.maxBytes);
      const trtVersion = meta.trtVersion ?? null;
      const signature = fleetKey.signManifest({
        sha256,
        size,
        deviceClass: meta.deviceClass as never,
        trtVersion,
        backend: meta.backend as never,
        model: meta.model as never,
        format: meta.format as never,
        calibration: null,
      });
      const createdAt = Date.now();
      const row = await store.engines.insert({
        id,
        name: meta.name,
        model: meta.model,
        backend: meta.backend,
        format: meta.format,
        deviceClass: meta.deviceClass,
        trtVersion,
        precision: meta.precision,
        inputDims: JSON.stringify(meta.inputDims),
        sha256,
        size,
        signature,
        createdAt,
        // Until signatures bind versions (the tls branch), upload time orders engines, as migration 0003 does.
        version: createdAt,
      });
      // Two uploads of one id at once: the second finds the first's row.
      if (!row) throw new ServiceError('conflict', `engine ${id} exists`, 'id', 'already exists');
      return row;
    },
  };
}
export type EngineService = ReturnType<typeof createEngineService>;
