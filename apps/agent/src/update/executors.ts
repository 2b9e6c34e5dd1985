import type { KeyObject } from 'node:crypto';
import { access, copyFile, mkdir, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { ApFigures, Desired, EngineManifest, UpdateGate } from '@facefleet/protocol';
import type { Logger } from 'pino';
import { AbortedError, UpdateError, VerifyError } from '../errors.js';
import { downloadResumable } from './download.js';
import type { EngineStore } from './engine-store.js';
import { type EvalTarget, evalArgs, type GoldenSet, judgeAccuracy, runEval } from './eval-run.js';
import { fpsFigures, judgeFps, latestWindows, type StatsWindow } from './fps-gate.js';
import { buildsOnDevice, type Step, type StepKind } from './planner.js';
import type { EngineBench, InstalledEngine, RebuildRecord } from './state.js';
import { benchEngine, buildArgs, runTrtexec } from './trtexec-run.js';
import { verifyFile, verifyManifestSignature, verifyRollback } from './verify.js';

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
  /** The CA an https:// control plane's certificate is checked against; default: the system's. */
  ca?: Buffer | undefined;
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
  /** The device's TensorRT version (recorded with each plan it builds); null where there is none. */
  trtVersion: string | null;
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
    /** an on-device build's ONNX model and calibration cache, kept beside the plan to rebuild it */
    source: join(dataDir, 'engines', key, 'source.onnx'),
    sourceCalibration: join(dataDir, 'engines', key, 'source.calib'),
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
  const setRebuild = (patch: Partial<RebuildRecord>) =>
    store.update((s) => ({ ...s, rebuild: { ...(s.rebuild as RebuildRecord), ...patch } }));

  /**
   * The FPS half of a health gate: hello, then the runner's stats windows over the hold, judged
   * against the same length of the previous windows. Null when the hold is 0 (hello only).
   */
  async function measureFps(
    holdS: number,
    minFpsRatio: number,
    baseline: StatsWindow[] | null,
  ): Promise<{ figures: NonNullable<UpdateGate['fps']>; failure: string | null } | null> {
    await deps.gate.waitForHello(deps.helloTimeoutS * 1000);
    if (holdS <= 0) return null;
    const engine = fpsFigures(await deps.gate.hold(holdS * 1000));
    if (!engine) throw new UpdateError(`health gate: no runner stats in ${holdS} s`);
    // the previous engine over the same length of windows as the new one was measured
    const previous = fpsFigures(latestWindows(baseline ?? [], engine.windowS));
    const verdict = judgeFps(engine, previous, minFpsRatio);
    return {
      figures: { engine, previous, minRatio: minFpsRatio },
      failure: verdict.ok ? null : verdict.reason,
    };
  }

  /** The accuracy gate's eval of one engine on the golden set. */
  const evaluate = (set: GoldenSet, target: EvalTarget, what: string) =>
    runEval(
      deps.runnerBin,
      evalArgs(target, set, deps.runnerConfigFile),
      what,
      deps.evalTimeoutS * 1000,
    );

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
      const mine = await evaluate(
        set,
        { path: file, backend: manifest.backend, model: manifest.model, dlaCore: manifest.dlaCore },
        `engine ${manifest.id}`,
      );
      const s = store.get();
      const cur = s.current;
      let previous: ApFigures | null;
      try {
        const theirs = await evaluate(
          set,
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
      const { accuracy, regressed } = judgeAccuracy(manifest.id, mine, previous, toleranceAp, set);
      setUpdate({ gate: { engineId: manifest.id, fps: null, accuracy } });
      log.info({ accuracy }, 'accuracy gate: both engines evaluated on the golden set');
      if (previous && regressed) {
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
      // the ONNX model (and calibration cache) a plan was built from is kept, to rebuild the plan
      // when a TensorRT upgrade makes it unrunnable
      const builtFrom = buildsOnDevice(manifest)
        ? {
            onnx: paths.source,
            calibration: manifest.calibration ? paths.sourceCalibration : null,
          }
        : null;
      if (builtFrom) {
        await copyFile(paths.partial, builtFrom.onnx);
        if (builtFrom.calibration) await copyFile(paths.calibration, builtFrom.calibration);
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
        ...(manifest.dlaCore != null ? { dlaCore: manifest.dlaCore } : {}),
        ...(manifest.backend === 'tensorrt'
          ? {
              trtVersion: buildsOnDevice(manifest) ? deps.trtVersion : manifest.trtVersion,
              builtFrom,
            }
          : {}),
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
        const fps = await measureFps(holdS, minFpsRatio, baseline);
        if (fps) {
          const gate = store.get().update.gate;
          setUpdate({
            gate: {
              engineId: engineId ?? store.get().current.ref.id,
              accuracy: null,
              ...(gate ?? {}),
              fps: fps.figures,
            },
          });
          if (fps.failure) throw new UpdateError(fps.failure);
          log.info({ fps: fps.figures, holdS }, 'health gate passed');
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
    async unrunnable({ fromTrt, toTrt }) {
      const id = store.get().current.ref.id;
      const reason = `engine ${id} is a plan built with TensorRT ${fromTrt}, this device has ${toTrt}: it cannot run, and no ONNX model was kept to rebuild it from`;
      log.error({ engineId: id, fromTrt, toTrt }, reason);
      store.update((s) => ({
        ...s,
        rebuild: {
          state: 'unrunnable',
          engineId: id,
          fromTrt,
          toTrt,
          reason,
          gate: null,
          from: null,
          baseline: null,
        },
      }));
    },
    async rebuild({ fromTrt, toTrt, toleranceAp }) {
      const s = store.get();
      const cur = s.current;
      const src = cur.builtFrom;
      const base = { engineId: cur.ref.id, fromTrt, toTrt, from: null, baseline: null };
      log.warn(
        { engineId: cur.ref.id, fromTrt, toTrt },
        'TensorRT changed under the current plan: rebuilding it from its ONNX model',
      );
      try {
        if (!src) throw new UpdateError(`engine ${cur.ref.id} has no ONNX model kept`);
        const plan = join(dirname(cur.path), `model-trt${toTrt}.plan`);
        await runTrtexec(
          deps.trtexecBin,
          buildArgs(src.onnx, src.calibration, plan, deps.trtexecBuildArgs, cur.dlaCore ?? null),
        );
        const bench = await benchEngine(deps.trtexecBin, cur.ref.id, plan);
        let accuracy: UpdateGate['accuracy'] = null;
        const set = deps.goldenSet;
        if (set) {
          const mine = await evaluate(
            set,
            { path: plan, backend: cur.ref.backend, model: cur.ref.model, dlaCore: cur.dlaCore },
            `engine ${cur.ref.id} rebuilt for TensorRT ${toTrt}`,
          );
          // the plan of before cannot run any more: the AP recorded for it is the reference
          const previous = s.accuracy?.engineId === cur.ref.id ? s.accuracy : null;
          const judged = judgeAccuracy(cur.ref.id, mine, previous, toleranceAp, set);
          accuracy = judged.accuracy;
          if (previous && judged.regressed) {
            throw new UpdateError(
              `accuracy_regression: AP ${mine.ap.toFixed(2)} of ${cur.ref.id} rebuilt for TensorRT ${toTrt} is more than ${toleranceAp} points below ${previous.ap.toFixed(2)} recorded with TensorRT ${fromTrt}`,
            );
          }
        }
        // one transaction: the new plan becomes current, the old one is kept to go back to
        const baseline = deps.gate.recentWindows();
        store.update((st) => ({
          ...st,
          current: { ...cur, path: plan, trtVersion: toTrt },
          bench,
          rebuild: {
            ...base,
            state: 'rebuilding',
            reason: null,
            gate: { engineId: cur.ref.id, fps: null, accuracy },
            from: cur,
            baseline,
          },
        }));
      } catch (err) {
        const reason = `rebuild for TensorRT ${toTrt}: ${(err as Error).message}`.slice(0, 1024);
        store.update((st) => ({
          ...st,
          rebuild: { ...base, state: 'failed', reason, gate: st.rebuild?.gate ?? null },
        }));
        throw err;
      }
    },
    async rebuildGate({ holdS, minFpsRatio }) {
      const r = store.get().rebuild;
      if (r?.state !== 'rebuilding') throw new UpdateError('rebuildGate: no rebuild under way');
      try {
        const fps = await measureFps(holdS, minFpsRatio, r.baseline);
        if (fps)
          setRebuild({
            gate: { ...(r.gate ?? { engineId: r.engineId, accuracy: null }), fps: fps.figures },
          });
        if (fps?.failure) throw new UpdateError(fps.failure);
      } catch (err) {
        if (err instanceof AbortedError) throw err; // shutting down: the gate runs again after restart
        // nothing half-switched: the plan of before is current again, the rebuild reported failed
        const reason = `rebuild for TensorRT ${r.toTrt}: ${(err as Error).message}`.slice(0, 1024);
        store.update((st) => ({
          ...st,
          current: r.from ?? st.current,
          rebuild: {
            ...(st.rebuild as RebuildRecord),
            state: 'failed',
            reason,
            from: null,
            baseline: null,
          },
        }));
        await deps.restartRunner(`rebuild failed: back to the plan of TensorRT ${r.fromTrt}`);
        throw err;
      }
    },
    async rebuildCommit() {
      const r = store.get().rebuild;
      if (!r) return;
      log.info({ engineId: r.engineId, fromTrt: r.fromTrt, toTrt: r.toTrt }, 'engine rebuilt');
      store.update((st) => ({
        ...st,
        accuracy: r.gate?.accuracy?.engine ?? st.accuracy,
        rebuild: { ...r, state: 'rebuilt', reason: null, from: null, baseline: null },
      }));
    },
  };
}
