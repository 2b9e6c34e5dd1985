import { describe, expect, it } from 'vitest';
import type { AgentConfig } from '../config.js';
import type { InstalledEngine } from '../update/state.js';
import { runnerRunArgs } from './run-args.js';

const runner: AgentConfig['runner'] = {
  bin: 'facefleet-runner',
  backend: 'opencv',
  model: 'blazeface',
  bootstrapModel: 'boot.onnx',
  source: 'cams.txt',
  loop: true,
  pace: true,
  configFile: '/etc/facefleet/deepstream.txt',
  statsIntervalS: 2,
  extraArgs: ['--max-fps', '15'],
};
const engine = (backend: 'tensorrt' | 'opencv', dlaCore?: number | null): InstalledEngine => ({
  ref: { id: 'e1', sha256: 'ab', backend, model: 'detectnet_v2' },
  path: '/data/engines/e1.plan',
  format: 'plan',
  ...(dlaCore !== undefined ? { dlaCore } : {}),
});

describe('runner run arguments', () => {
  it('a TensorRT plan built for a DLA core starts the runner on that core', () => {
    expect(runnerRunArgs(engine('tensorrt', 1), runner)).toEqual([
      'run',
      '--backend',
      'tensorrt',
      '--decoder',
      'detectnet_v2',
      '--model',
      '/data/engines/e1.plan',
      '--dla-core',
      '1',
      '--source',
      'cams.txt',
      '--loop',
      '--pace',
      '--stats-interval',
      '2',
      '--config',
      '/etc/facefleet/deepstream.txt',
      '--max-fps',
      '15',
    ]);
  });

  it('no DLA core (GPU plan, or not TensorRT): no --dla-core', () => {
    for (const e of [engine('tensorrt'), engine('tensorrt', null), engine('opencv', 0)]) {
      expect(runnerRunArgs(e, runner)).not.toContain('--dla-core');
    }
  });

  it('cameras: one --source ID=SRC each; one source: the plain --source of camera "0"; a config file alone: none', () => {
    const sources = (args: string[]) =>
      args.flatMap((a, i) => (args[i - 1] === '--source' ? [a] : []));
    const { source: _, ...noSource } = runner;
    const cameras = [
      { id: 'door', source: 'rtsp://10.0.0.5/s1' },
      { id: 'yard', source: '/dev/video1' },
    ];
    expect(sources(runnerRunArgs(engine('opencv'), noSource, cameras))).toEqual([
      'door=rtsp://10.0.0.5/s1',
      'yard=/dev/video1',
    ]);
    expect(sources(runnerRunArgs(engine('opencv'), runner))).toEqual(['cams.txt']);
    const args = runnerRunArgs(engine('opencv'), noSource);
    expect(args).not.toContain('--source');
    expect(args).toContain('--config');
  });
});
