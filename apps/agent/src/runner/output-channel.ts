import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RunnerOutputOptions {
  /** Bytes the runner wrote; the buffer is reused after the call returns. */
  onData: (chunk: Buffer) => void;
  /**
   * A read less than this many ms after the one before pauses the socket for as long, so lines
   * collect; a writer slower than that is read line by line. 0: never pause.
   */
  batchMs: number;
}

export interface RunnerOutput {
  /** The runner's stdout: hand it to spawn() (stdio[1]), then close it here with destroy(). */
  writer: Socket;
  /** Settles once every process that held the writer closed it and every byte was delivered. */
  ended: Promise<void>;
  /** Stops reading and closes both ends (a runner that was never started). */
  destroy(): void;
}

/**
 * The runner's stdout, read in batches. The runner flushes every line (500 a second on an AGX
 * Xavier); read as the child's stdout stream (`stdio: 'pipe'`), each line cost the agent an
 * event-loop wakeup, two read() calls and Node's stream machinery, which was most of the agent's
 * CPU (`pnpm bench agent`). Here the agent makes the Unix socket pair itself, so it can read its
 * end with the socket `onread` option (one reused buffer, no stream) and pause it, which in that
 * mode stops reading until resumed. It pauses for `batchMs` after a read that came less than
 * `batchMs` after the previous one: the kernel collects the lines meanwhile. At 500 frames/s and
 * 25 ms that is ~40 wakeups a second instead of 500; a camera at 30 frames/s, or a quiet runner,
 * is read line by line as before.
 *
 * The pair is made by listening on a socket file in a new private directory (mkdtemp: mode 0700,
 * so only the agent's own user can connect), connecting to it and accepting; the file and its
 * directory are gone before the runner starts.
 */
export async function openRunnerOutput(options: RunnerOutputOptions): Promise<RunnerOutput> {
  const dir = mkdtempSync(join(tmpdir(), 'facefleet-runner-'));
  const path = join(dir, 'stdout.sock');
  const server = createServer({ pauseOnConnect: true });
  let resumeTimer: NodeJS.Timeout | undefined;
  let lastReadAt = Number.NEGATIVE_INFINITY;
  let reader: Socket | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const accepted = new Promise<Socket>((resolve, reject) => {
      server.once('connection', resolve);
      server.once('error', reject); // accept() failing (out of descriptors)
    });
    const buffer = Buffer.allocUnsafe(64 * 1024);
    const socket: Socket = connect({
      path,
      onread: {
        buffer,
        callback: (n: number) => {
          options.onData(buffer.subarray(0, n));
          const now = performance.now();
          const sincePrevious = now - lastReadAt;
          lastReadAt = now;
          if (sincePrevious >= options.batchMs || socket.destroyed) return true;
          resumeTimer = setTimeout(() => socket.resume(), options.batchMs);
          return false; // pauses: the kernel keeps what the runner writes until the timer
        },
      },
    });
    reader = socket;
    const connected = new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const [writer] = await Promise.all([accepted, connected]);
    const ended = new Promise<void>((resolve) => {
      socket.once('close', () => {
        clearTimeout(resumeTimer);
        resolve();
      });
    });
    // a reset by a killed runner ends the output like EOF does ('close' follows)
    socket.on('error', () => {});
    return {
      writer,
      ended,
      destroy() {
        clearTimeout(resumeTimer);
        socket.destroy();
        writer.destroy();
      },
    };
  } catch (err) {
    clearTimeout(resumeTimer);
    reader?.destroy();
    throw err;
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
