import type { EngineManifest } from '@facefleet/protocol';
import type { EngineRow } from '@facefleet/store';

/** The manifest devices receive in `desired`, built from a stored engine. */
export function engineManifest(row: EngineRow): EngineManifest {
  return {
    id: row.id,
    name: row.name,
    sha256: row.sha256,
    size: row.size,
    version: row.version,
    url: `/api/v1/engines/${encodeURIComponent(row.id)}/blob`,
    signature: row.signature,
    deviceClass: row.deviceClass as EngineManifest['deviceClass'],
    trtVersion: row.trtVersion,
    backend: row.backend as EngineManifest['backend'],
    model: row.model as EngineManifest['model'],
    format: row.format as EngineManifest['format'],
    calibration: null,
    ...(row.dlaCore !== null ? { dlaCore: row.dlaCore } : {}),
  };
}
