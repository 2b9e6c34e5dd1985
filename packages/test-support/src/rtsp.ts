import { python3Bin, requireBuilt, rtspServerScript } from './paths.js';
import { type RunningProcess, startProcess } from './process.js';

export interface RtspServerOptions {
  /** Default 0: a free port (`port` says which); pass the old one to bring a camera back. */
  port?: number;
  /** Frames per second of the test pattern (default 15). */
  fps?: number;
}

export interface RtspServer {
  /** `rtsp://127.0.0.1:PORT/cam`. */
  url: string;
  port: number;
  process: RunningProcess;
}

/**
 * A live RTSP camera on loopback: the runner's own test server (GStreamer's RTSP server from
 * Debian's gir1.2-gst-rtsp-server-1.0, driven by python3-gi) serving a moving test pattern as
 * Motion-JPEG. Resolves once it listens. Kill its `process` to take the camera away, and start
 * another on the same `port` to bring it back.
 */
export async function startRtspServer(options: RtspServerOptions = {}): Promise<RtspServer> {
  requireBuilt(python3Bin, rtspServerScript);
  const proc = startProcess(
    python3Bin,
    [rtspServerScript, '--port', String(options.port ?? 0), '--fps', String(options.fps ?? 15)],
    { name: 'rtsp-server' },
  );
  let ready: string;
  try {
    ready = await proc.waitForLine(/^READY rtsp:\/\//);
  } catch (err) {
    await proc.kill();
    throw err;
  }
  const url = ready.slice('READY '.length);
  return { url, port: Number(new URL(url).port), process: proc };
}
