import type { AgentConfig, CameraConfig } from '../config.js';
import type { InstalledEngine } from '../update/state.js';

/**
 * `facefleet-runner run`'s arguments for the engine that runs: its backend, decoder and file, the
 * DLA core a TensorRT plan was built for (`--dla-core`: a DLA plan deserialised for the GPU fails),
 * then the configured cameras, pacing, stats interval, deepstream-app config and extra arguments.
 * `cameras` (the config's list) gives one `--source ID=SRC` each; without it, the one camera of
 * `r.source` keeps the plain `--source SRC` it always had (camera "0"), and a deepstream-app config
 * without either names the cameras itself.
 */
export function runnerRunArgs(
  engine: InstalledEngine,
  r: AgentConfig['runner'],
  cameras: CameraConfig[] | null = null,
): string[] {
  return [
    'run',
    '--backend',
    engine.ref.backend,
    '--decoder',
    engine.ref.model,
    '--model',
    engine.path,
    ...(engine.dlaCore != null && engine.ref.backend === 'tensorrt'
      ? ['--dla-core', String(engine.dlaCore)]
      : []),
    ...(cameras
      ? cameras.flatMap((c) => ['--source', `${c.id}=${c.source}`])
      : r.source !== undefined
        ? ['--source', r.source]
        : []),
    ...(r.loop ? ['--loop'] : []),
    ...(r.pace ? ['--pace'] : []),
    '--stats-interval',
    String(r.statsIntervalS),
    ...(r.configFile ? ['--config', r.configFile] : []),
    ...r.extraArgs,
  ];
}
