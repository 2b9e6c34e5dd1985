import type { AgentConfig } from '../config.js';
import type { InstalledEngine } from '../update/state.js';

/**
 * `facefleet-runner run`'s arguments for the engine that runs: its backend, decoder and file, the
 * DLA core a TensorRT plan was built for (`--dla-core`: a DLA plan deserialised for the GPU fails),
 * then the configured source, pacing, stats interval, deepstream-app config and extra arguments.
 */
export function runnerRunArgs(engine: InstalledEngine, r: AgentConfig['runner']): string[] {
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
    '--source',
    r.source,
    ...(r.loop ? ['--loop'] : []),
    ...(r.pace ? ['--pace'] : []),
    '--stats-interval',
    String(r.statsIntervalS),
    ...(r.configFile ? ['--config', r.configFile] : []),
    ...r.extraArgs,
  ];
}
