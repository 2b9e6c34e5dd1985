import { z } from 'zod';
import { sha256Schema, timestampSchema } from './common.js';
import { deviceClassSchema } from './device-classes.js';
import { deviceIdSchema } from './ids.js';
import { RUNNER_BACKENDS, RUNNER_MODELS } from './runner-output.js';

export const ENGINE_FORMATS = ['plan', 'onnx'] as const;

/**
 * A download path on the control plane: relative to its base URL (`/api/v1/…`), never an absolute
 * URL or a scheme-relative `//host/…`, so a device's credentials only ever go to the control plane
 * it was installed with.
 */
export const controlPlanePathSchema = z
  .string()
  .min(1)
  .max(2048)
  .regex(/^\/(?![/\\])[^\s]*$/, 'must be a path on the control plane (/api/v1/…), not a URL');

/** An engine as the control plane offers it to devices: what to download and how to check it. */
export const engineManifestSchema = z.strictObject({
  id: z.string().min(1).max(128),
  name: z.string().min(1).max(128),
  sha256: sha256Schema,
  size: z.int().positive(),
  /**
   * Higher for a later upload. A device does not go from an engine to one of a lower version unless
   * its desired state carries a rollback signed by the fleet key (`Desired.rollback`).
   */
  version: z.int().min(0),
  /** Download path on the control plane (relative to its base URL), fetched with the device token. */
  url: controlPlanePathSchema,
  /** Ed25519 signature (base64) over `engineSigningPayload(manifest)`. */
  signature: z.string().min(1).max(256),
  deviceClass: deviceClassSchema,
  /** TensorRT version the plan was built with (`8.5.2`); null for ONNX models on CPU devices. */
  trtVersion: z.string().max(32).nullable(),
  backend: z.enum(RUNNER_BACKENDS),
  model: z.enum(RUNNER_MODELS),
  /**
   * `plan`: a serialized TensorRT engine, loaded as is. `onnx`: an ONNX model — loaded directly by the
   * opencv backend, or built into a plan on the device with trtexec for the tensorrt backend.
   */
  format: z.enum(ENGINE_FORMATS),
  /** INT8 calibration cache for an on-device trtexec build of an `onnx` artifact; null otherwise. */
  calibration: z
    .strictObject({
      url: controlPlanePathSchema,
      sha256: sha256Schema,
      size: z.int().positive(),
    })
    .nullable(),
  /**
   * The DLA core a TensorRT engine was built for (`trtexec --useDLACore=N --allowGPUFallback`):
   * the runner gets `--dla-core N`. Absent or null: the GPU. Only classes with DLA (DLA_CORES).
   */
  dlaCore: z.int().min(0).max(15).nullable().optional(),
});
export type EngineManifest = z.infer<typeof engineManifestSchema>;

/**
 * The exact bytes an engine signature covers: the engine's id and version, its digest and every
 * field a device acts on (v2; v1 covered neither id nor version, so an old signed engine could be
 * replayed under another id). The download path is not covered: it is always a path on the
 * control plane (`controlPlanePathSchema`), and what comes back is checked against the signed
 * sha256 and size. A DLA core is a line of its own after the others, only when there is one.
 */
export function engineSigningPayload(
  m: Omit<EngineManifest, 'signature' | 'url' | 'name'>,
): Buffer {
  return Buffer.from(
    ['facefleet-engine-v2', m.id, String(m.version), ...signedFields(m)].join('\n'),
  );
}

/**
 * The first signing payload (v1: neither id nor version), which engines uploaded by earlier
 * versions carry: only to recognise those signatures and sign the engines again under v2.
 */
export function legacyEngineSigningPayload(
  m: Omit<EngineManifest, 'signature' | 'url' | 'name' | 'id' | 'version'>,
): Buffer {
  return Buffer.from(['facefleet-engine-v1', ...signedFields(m)].join('\n'));
}

/** The fields of a manifest both signing payloads cover, one a line, in order. */
function signedFields(m: Omit<EngineManifest, 'signature' | 'url' | 'name' | 'id' | 'version'>) {
  return [
    m.sha256,
    String(m.size),
    m.deviceClass,
    m.trtVersion ?? '-',
    m.backend,
    m.model,
    m.format,
    m.calibration?.sha256 ?? '-',
    ...(m.dlaCore != null ? [`dla-core ${m.dlaCore}`] : []),
  ];
}

/**
 * The bytes a rollback signature covers: this device, this desired revision, going to this engine
 * of this version. Signed by the control plane (fleet key) when it asks a device for an engine
 * older than the one it runs; bound to the revision, so an old rollback replayed later (revisions
 * only grow) is not one.
 */
export function rollbackSigningPayload(r: {
  deviceId: string;
  rev: number;
  engineId: string;
  version: number;
}): Buffer {
  return Buffer.from(
    ['facefleet-rollback-v1', r.deviceId, String(r.rev), r.engineId, String(r.version)].join('\n'),
    'utf8',
  );
}

/** `devices/{id}/desired`, retained, control plane → agent: what the device should run. */
export const desiredSchema = z.strictObject({
  v: z.literal(1),
  deviceId: deviceIdSchema,
  /** Revision, increasing per device; the agent answers with it in `reported.rev`. */
  rev: z.int().min(0),
  ts: timestampSchema,
  engine: engineManifestSchema.nullable(),
  /**
   * Present when the control plane asks for an engine older (lower version) than the device's:
   * an Ed25519 signature (base64) over `rollbackSigningPayload`. Without it a device refuses to
   * go back.
   */
  rollback: z.string().min(1).max(256).nullable().optional(),
  rolloutId: z.string().min(1).max(128).nullable(),
  healthGate: z.strictObject({
    /** Seconds the new engine must run healthy before it is reported applied. */
    holdS: z.number().min(0).max(3600),
    /**
     * New FPS must be at least this share of the previous engine's: inference FPS against inference
     * FPS, end-to-end FPS against the lower of the previous engine's and what the cameras deliver.
     */
    minFpsRatio: z.number().min(0).max(10),
    /**
     * Most AP points (0–100) the new engine may lose against the current one on the device's golden
     * set before the update fails with `accuracy_regression`. Absent from older control planes: 1.
     */
    apTolerance: z.number().min(0).max(100).optional(),
  }),
});
export type Desired = z.infer<typeof desiredSchema>;
