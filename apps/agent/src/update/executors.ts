import type { KeyObject } from 'node:crypto';
import { access, mkdir, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Desired, EngineManifest } from '@facefleet/protocol';
import type { Logger } from 'pino';
import { AbortedError, UpdateError, VerifyError } from '../errors.js';
import { downloadResumable } from './download.js';
import type { EngineStore } from './engine-store.js';
import { buildsOnDevice, type Step, type StepKind } from './planner.js';
import type { EngineBench, InstalledEngine } from './state.js';
import { benchEngine, buildArgs, runTrtexec } from './trtexec-run.js';
import { verifyFile, verifyManifestSignature, verifyRollback } from './verify.js';

/** What the health gate watches: the supervised runner. */
export interface GateProbe {
  /** Resolves when the runner said hello; rejects with the reason if it exits first or times out. */
  waitForHello(timeoutMs: number): Promise<void>;
  /**
   * Watches the runner for `holdMs`: rejects if it exits; resolves with the frames per second it
   * produced from its first frame on.
   */
  hold(holdMs: number): Promise<number>;
  /** FPS of the engine running now (the baseline for the next one); null when unknown. */
  currentFps(): number | null;
}

export interface ExecutorDeps {
  store: EngineStore;
  dataDir: string;
  controlPlaneUrl: string;
  deviceId: string;
  token: string;
  /** The CA an https:// control plane's certificate is checked against; default: the system's. */
  ca?: Buffer | undefined;
  fleetPublicKey: KeyObject;
  trtexecBin: string;
  trtexecBuildArgs: string[];
  helloTimeoutS: number;
  restartRunner: (reason: string) => Promise<void>;
  gate: GateProbe;
  log: Logger;
  /** The desired state being applied (its rev and rollout are recorded with each step). */
  desired: () => Desired | null;
}

export type Executors = { [K in StepKind]: (step: Extract<Step, { kind: K }>) => Promise<void> };

/** Where an update's files live under the data dir. */
export function enginePaths(
  dataDir: string,
  m: Pick<EngineManifest, 'id' | 'sha256' | 'format' | 'backend'>,
) {
  const key = `${m.id}-${m.sha256.slice(0, 16)}`;
  const downloads = join(dataDir, 'downloads');
  const runsPlan = m.backend === 'tensorrt';
  return {
    partial: join(downloads, `${key}.${m.format}.part`),
    calibration: join(downloads, `${key}.calib`),
    built: join(downloads, `${key}.plan`),
    /** the engine as the runner loads it */
    final: join(dataDir, 'engines', key, runsPlan ? 'model.plan' : 'model.onnx'),
  };
}

const PROGRESS_STEPS = 4; // report download progress at 25 % steps

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

/**
 * Where the downloaded engine is now: the partial file, unless `stage` already moved it to its
 * final place and the agent was killed before that was recorded (the persisted state then still
 * says `verifying`, and the steps from verify on run again on the file where it is).
 */
async function downloadedFile(
  paths: ReturnType<typeof enginePaths>,
  m: EngineManifest,
): Promise<string> {
  // a build on the device leaves the download where it is: the final file is the built plan
  if (buildsOnDevice(m) || (await exists(paths.partial))) return paths.partial;
  return (await exists(paths.final)) ? paths.final : paths.partial;
}

/**
 * The function that performs each step kind. Every step persists its outcome (and queues a report)
 * through the engine store before it returns, so a restart resumes from the right place.
 */
export function createExecutors(deps: ExecutorDeps): Executors {
  const { store, log } = deps;
  const origin = new URL(deps.controlPlaneUrl).origin;
  /**
   * A download path of a manifest on the control plane. The protocol takes only paths there
   * (`controlPlanePathSchema`); this keeps the device's credentials from going anywhere else
   * should something else ever slip through.
   */
  const url = (path: string) => {
    const resolved = new URL(path, deps.controlPlaneUrl);
    if (resolved.origin !== origin) {
      throw new VerifyError(`download ${path}: not on the control plane ${origin}: refused`);
    }
    return resolved.toString();
  };
  const rev = () => deps.desired()?.rev ?? store.get().update.rev;

  const setUpdate = (patch: Partial<ReturnType<EngineStore['get']>['update']>) =>
    store.update((s) => ({ ...s, update: { ...s.update, ...patch } }));

  return {
    async reject({ manifest, reason }) {
      log.warn({ engineId: manifest.id, reason }, 'engine update rejected');
      store.update((s) => ({
        ...s,
        update: {
          ...s.update,
          rev: rev(),
          engineId: manifest.id,
          rolloutId: deps.desired()?.rolloutId ?? null,
          state: 'failed',
          progress: null,
          reason,
          target: manifest,
          staged: null,
          stagedBench: null,
        },
      }));
    },
    async acknowledge() {
      const d = deps.desired();
      store.update((s) => ({
        ...s,
        update: {
          ...s.update,
          rev: rev(),
          rolloutId: d?.rolloutId ?? s.update.rolloutId,
          ...(d?.engine
            ? { engineId: d.engine.id, state: 'applied' as const, progress: 1, reason: null }
            : {}),
        },
      }));
    },
    async begin({ manifest }) {
      log.info({ engineId: manifest.id, rev: rev() }, 'engine update started');
      store.update((s) => ({
        ...s,
        update: {
          rev: rev(),
          engineId: manifest.id,
          rolloutId: deps.desired()?.rolloutId ?? null,
          state: 'downloading',
          progress: 0,
          reason: null,
          target: manifest,
          staged: null,
          stagedBench: null,
          baselineFps: null,
          gateFailure: null,
        },
      }));
    },
    async download({ manifest }) {
      const paths = enginePaths(deps.dataDir, manifest);
      let reported = Math.floor((store.get().update.progress ?? 0) * PROGRESS_STEPS);
      await downloadResumable({
        url: url(manifest.url),
        deviceId: deps.deviceId,
        token: deps.token,
        ca: deps.ca,
        dest: paths.partial,
        expectedSize: manifest.size,
        onProgress: (bytes) => {
          const step = Math.floor((bytes / manifest.size) * PROGRESS_STEPS);
          if (step > reported && step < PROGRESS_STEPS) {
            reported = step;
            setUpdate({ progress: step / PROGRESS_STEPS });
          }
        },
      });
      if (manifest.calibration) {
        await downloadResumable({
          url: url(manifest.calibration.url),
          deviceId: deps.deviceId,
          token: deps.token,
          ca: deps.ca,
          dest: paths.calibration,
          expectedSize: manifest.calibration.size,
        });
      }
      setUpdate({ state: 'verifying', progress: 1 });
    },
    async verify({ manifest }) {
      const paths = enginePaths(deps.dataDir, manifest);
      const file = await downloadedFile(paths, manifest);
      try {
        // the signature first: it vouches for the sha256 and size the file is checked against
        verifyManifestSignature(manifest, deps.fleetPublicKey);
        // going back to a lower version: only with a rollback the control plane signed
        const desired = deps.desired();
        if (manifest.version < (store.get().current.version ?? 0)) {
          if (!desired || desired.engine?.id !== manifest.id) {
            throw new VerifyError(`engine ${manifest.id}: no longer desired`);
          }
          verifyRollback(desired, deps.deviceId, deps.fleetPublicKey);
        }
        await verifyFile(file, manifest, `engine ${manifest.id}`);
        if (manifest.calibration) {
          await verifyFile(
            paths.calibration,
            manifest.calibration,
            `calibration cache of ${manifest.id}`,
          );
        }
      } catch (err) {
        // a bad download is not kept: the next attempt starts clean
        await rm(file, { force: true });
        await rm(paths.calibration, { force: true });
        throw err;
      }
    },
    async build({ manifest }) {
      const paths = enginePaths(deps.dataDir, manifest);
      log.info({ engineId: manifest.id }, 'building TensorRT engine on the device');
      await runTrtexec(
        deps.trtexecBin,
        buildArgs(
          paths.partial,
          manifest.calibration ? paths.calibration : null,
          paths.built,
          deps.trtexecBuildArgs,
        ),
      );
    },
    async bench({ manifest }) {
      const paths = enginePaths(deps.dataDir, manifest);
      const plan = manifest.format === 'onnx' ? paths.built : await downloadedFile(paths, manifest);
      const bench: EngineBench = await benchEngine(deps.trtexecBin, manifest.id, plan);
      log.info({ engineId: manifest.id, bench }, 'trtexec measured the engine');
      setUpdate({ stagedBench: bench });
    },
    async stage({ manifest }) {
      const paths = enginePaths(deps.dataDir, manifest);
      const from = buildsOnDevice(manifest) ? paths.built : await downloadedFile(paths, manifest);
      if (from !== paths.final) {
        await mkdir(dirname(paths.final), { recursive: true });
        await rename(from, paths.final);
      }
      const staged: InstalledEngine = {
        ref: {
          id: manifest.id,
          sha256: manifest.sha256,
          backend: manifest.backend,
          model: manifest.model,
        },
        path: paths.final,
        format: manifest.backend === 'tensorrt' ? 'plan' : 'onnx',
        version: manifest.version,
      };
      setUpdate({ state: 'staged', staged });
    },
    async switch() {
      const s = store.get();
      const staged = s.update.staged;
      if (!staged) throw new UpdateError('switch: nothing staged');
      const baselineFps = deps.gate.currentFps();
      log.info({ from: s.current.ref.id, to: staged.ref.id, baselineFps }, 'switching engine');
      store.update((st) => ({
        ...st,
        previous: st.current,
        current: staged,
        update: { ...st.update, state: 'health_check', baselineFps, gateFailure: null },
      }));
    },
    async restartRunner() {
      await deps.restartRunner(`engine ${store.get().current.ref.id}`);
    },
    async healthGate({ holdS, minFpsRatio }) {
      const baseline = store.get().update.baselineFps;
      try {
        await deps.gate.waitForHello(deps.helloTimeoutS * 1000);
        const fps = await deps.gate.hold(holdS * 1000);
        if (baseline !== null && baseline > 0 && fps < minFpsRatio * baseline) {
          throw new UpdateError(
            `health gate: ${fps.toFixed(1)} FPS is below ${minFpsRatio} × ${baseline.toFixed(1)} FPS of the previous engine`,
          );
        }
        log.info({ fps, baseline, holdS }, 'health gate passed');
      } catch (err) {
        if (err instanceof AbortedError) throw err; // shutting down: the gate runs again after restart
        const reason = (err as Error).message;
        log.warn({ reason }, 'health gate failed');
        setUpdate({ gateFailure: reason });
        throw err;
      }
    },
    async commit() {
      log.info({ engineId: store.get().current.ref.id }, 'engine update applied');
      store.update((s) => ({
        ...s,
        bench: s.update.stagedBench ?? (s.bench?.engineId === s.current.ref.id ? s.bench : null),
        update: {
          ...s.update,
          state: 'applied',
          progress: 1,
          reason: null,
          staged: null,
          stagedBench: null,
          gateFailure: null,
        },
      }));
    },
    async rollback({ reason }) {
      const s = store.get();
      const back = s.previous;
      if (!back) throw new UpdateError('rollback: no previous engine');
      log.warn({ from: s.current.ref.id, to: back.ref.id, reason }, 'rolling back engine');
      store.update((st) => ({
        ...st,
        current: back,
        previous: st.current, // the failed engine stays on disk
        update: {
          ...st.update,
          state: 'rolled_back',
          progress: null,
          reason,
          staged: null,
          stagedBench: null,
          gateFailure: null,
        },
      }));
      await deps.restartRunner(`rollback to ${back.ref.id}`);
    },
  };
}
