#!/usr/bin/env node
/**
 * Replays recorded real runner output at a fixed frame rate, for the agent benchmark: the CPU
 * runner cannot reach an AGX Xavier's 500 frames/s here. Takes the runner's argv (ignored) and
 * reads FACEFLEET_REPLAY_FILE (JSON lines recorded from facefleet-runner) and FACEFLEET_REPLAY_FPS.
 * Timestamps, indices and the pid are rewritten; everything else is the recorded bytes' content.
 * Like the runner (emitLine: fwrite, fflush), every line is its own write, at its frame's time (to
 * the millisecond), so the agent wakes up for lines as it would on a device.
 */
import { readFileSync } from 'node:fs';

const file = process.env.FACEFLEET_REPLAY_FILE;
const fps = Number(process.env.FACEFLEET_REPLAY_FPS ?? '500');
if (!file || !(fps > 0)) {
  process.stderr.write(
    'replay-runner: FACEFLEET_REPLAY_FILE and FACEFLEET_REPLAY_FPS > 0 are required\n',
  );
  process.exit(2);
}
const lines = readFileSync(file, 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((l) => JSON.parse(l) as Record<string, unknown>);
const hello = lines.find((l) => l.type === 'hello');
const frames = lines.filter((l) => l.type === 'frame');
const stats = lines.find((l) => l.type === 'stats');
if (!hello || frames.length === 0) {
  process.stderr.write('replay-runner: the recording needs a hello and frames\n');
  process.exit(2);
}
process.stdout.write(`${JSON.stringify({ ...hello, pid: process.pid, ts: Date.now() })}\n`);

const TICK_MS = 1;
const start = Date.now();
let sent = 0;
let lastStats = start;
let statsFrames = 0;
const timer = setInterval(() => {
  const now = Date.now();
  const due = Math.floor(((now - start) * fps) / 1000);
  while (sent < due) {
    const f = frames[sent % frames.length];
    process.stdout.write(`${JSON.stringify({ ...f, index: sent, ts: now })}\n`);
    sent += 1;
    statsFrames += 1;
  }
  if (stats && now - lastStats >= 1000) {
    const windowS = (now - lastStats) / 1000;
    process.stdout.write(
      `${JSON.stringify({ ...stats, ts: now, frames: statsFrames, fps: statsFrames / windowS, dropped: 0, windowS })}\n`,
    );
    lastStats = now;
    statsFrames = 0;
  }
}, TICK_MS);
const stop = () => {
  clearInterval(timer);
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
