import type { KeyObject } from 'node:crypto';
import { access, mkdir, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { ApFigures, Desired, EngineManifest } from '@facefleet/protocol';
import type { Logger } from 'pino';
import { AbortedError, UpdateError } from '../errors.js';
import { downloadResumable } from './download.js';
import type { EngineStore } from './engine-store.js';
import { type EvalTarget, evalArgs, type GoldenSet, runEval } from './eval-run.js';
import { fpsFigures, judgeFps, latestWindows, type StatsWindow } from './fps-gate.js';
import { buildsOnDevice, type Step, type StepKind } from './planner.js';
import type { EngineBench, InstalledEngine } from './state.js';
import { benchEngine, buildArgs, runTrtexec } from './trtexec-run.js';
import { verifyFile, verifyManifestSignature } from './verify.js';

/** What the health gate watches: the supervised runner. */
export interface GateProbe {
  /** Resolves when the runner said hello; rejects with the reason if it exits first or times out. */
  waitForHello(timeoutMs: number): Promise<void>;
  /**
   * Collects the runner's stats windows until they cover `holdMs` (the first window after a start
   * is warm-up and not counted); rejects if the runner exits or stops printing stats.
   */
  hold(holdMs: number): Promise<StatsWindow[]>;
  /** The running engine's latest stats windows, oldest first (the baseline for the next one). */
  recentWindows(): StatsWindow[];
}

export interface ExecutorDeps {
  store: EngineStore;
  dataDir: string;
  controlPlaneUrl: string;
  deviceId: string;
  token: string;
  fleetPublicKey: KeyObject;
  trtexecBin: string;
  trtexecBuildArgs: string[];
  helloTimeoutS: number;
  /** The runner binary and its nvinfer config, for `eval` on the golden set. */
  runnerBin: string;
  runnerConfigFile?: string | undefined;
  /** The device's golden set; null: no accuracy gate. */
  goldenSet: GoldenSet | null;
  evalTimeoutS: number;
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
  const url = (path: string) => new URL(path, deps.controlPlaneUrl).toString();
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
          gate: null,
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
          baseline: null,
          gate: null,
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
          manifest.dlaCore ?? null,
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
    async accuracyGate({ manifest, toleranceAp }) {
      const set = deps.goldenSet;
      if (!set) return;
      const paths = enginePaths(deps.dataDir, manifest);
      const file = buildsOnDevice(manifest) ? paths.built : await downloadedFile(paths, manifest);
      const evaluate = (target: EvalTarget, what: string) =>
        runEval(
          deps.runnerBin,
          evalArgs(target, set, deps.runnerConfigFile),
          what,
          deps.evalTimeoutS * 1000,
        );
      const mine = await evaluate(
        { path: file, backend: manifest.backend, model: manifest.model, dlaCore: manifest.dlaCore },
        `engine ${manifest.id}`,
      );
      const s = store.get();
      const cur = s.current;
      let previous: ApFigures | null;
      try {
        const theirs = await evaluate(
          { path: cur.path, backend: cur.ref.backend, model: cur.ref.model, dlaCore: cur.dlaCore },
          `engine ${cur.ref.id}`,
        );
        previous = { engineId: cur.ref.id, ap: theirs.ap, evalS: theirs.evalS };
      } catch (err) {
        // the running engine cannot be evaluated now: the AP recorded when it was applied, if any
        previous = s.accuracy?.engineId === cur.ref.id ? s.accuracy : null;
        log.warn(
          { engineId: cur.ref.id, err: (err as Error).message, recorded: previous },
          'accuracy gate: the current engine could not be evaluated',
        );
      }
      const accuracy = {
        engine: { engineId: manifest.id, ap: mine.ap, evalS: mine.evalS },
        previous,
        toleranceAp,
        apMode: set.apMode,
        iou: set.iou,
        images: mine.images,
        groundTruths: mine.groundTruths,
      };
      setUpdate({ gate: { engineId: manifest.id, fps: null, accuracy } });
      log.info({ accuracy }, 'accuracy gate: both engines evaluated on the golden set');
      if (previous && mine.ap < previous.ap - toleranceAp) {
        throw new UpdateError(
          `accuracy_regression: AP ${mine.ap.toFixed(2)} of ${manifest.id} is more than ${toleranceAp} points below ${previous.ap.toFixed(2)} of ${previous.engineId} (${set.apMode} at IoU > ${set.iou}, ${mine.images} images, ${mine.groundTruths} faces)`,
        );
      }
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
        ...(manifest.dlaCore != null ? { dlaCore: manifest.dlaCore } : {}),
      };
      setUpdate({ state: 'staged', staged });
    },
    async switch() {
      const s = store.get();
      const staged = s.update.staged;
      if (!staged) throw new UpdateError('switch: nothing staged');
      const baseline = deps.gate.recentWindows();
      log.info(
        { from: s.current.ref.id, to: staged.ref.id, baseline: fpsFigures(baseline) },
        'switching engine',
      );
      store.update((st) => ({
        ...st,
        previous: st.current,
        current: staged,
        update: { ...st.update, state: 'health_check', baseline, gateFailure: null },
      }));
    },
    async restartRunner() {
      await deps.restartRunner(`engine ${store.get().current.ref.id}`);
    },
    async healthGate({ holdS, minFpsRatio }) {
      const { baseline, engineId } = store.get().update;
      try {
        await deps.gate.waitForHello(deps.helloTimeoutS * 1000);
        if (holdS > 0) {
          const engine = fpsFigures(await deps.gate.hold(holdS * 1000));
          if (!engine) throw new UpdateError(`health gate: no runner stats in ${holdS} s`);
          // the previous engine over the same length of windows as the new one was measured
          const previous = fpsFigures(latestWindows(baseline ?? [], engine.windowS));
          const fps = { engine, previous, minRatio: minFpsRatio };
          const gate = store.get().update.gate;
          setUpdate({
            gate: {
              engineId: engineId ?? store.get().current.ref.id,
              accuracy: null,
              ...(gate ?? {}),
              fps,
            },
          });
          const verdict = judgeFps(engine, previous, minFpsRatio);
          if (!verdict.ok) throw new UpdateError(verdict.reason);
          log.info({ fps, holdS }, 'health gate passed');
        }
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
        accuracy:
          s.update.gate?.accuracy?.engine.engineId === s.current.ref.id
            ? s.update.gate.accuracy.engine
            : s.accuracy?.engineId === s.current.ref.id
              ? s.accuracy
              : null,
        update: {
          ...s.update,
          state: 'applied',
          progress: 1,
          reason: null,
          staged: null,
          stagedBench: null,
          baseline: null,
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
          baseline: null,
          gateFailure: null,
        },
      }));
      await deps.restartRunner(`rollback to ${back.ref.id}`);
    },
  };
}
