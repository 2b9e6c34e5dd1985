export interface LineSplitterOptions {
  /** One complete line, without its `\n` (or `\r\n`). */
  onLine: (line: string) => void;
  /** A line grew past `maxLineBytes` without a newline: its bytes are dropped up to the next one. */
  onTooLong?: (bytes: number) => void;
  maxLineBytes?: number;
}

export interface LineSplitter {
  push(chunk: Buffer): void;
  /** The stream ended: an unterminated last line is still a line. */
  end(): void;
}

/**
 * Splits a byte stream (the runner's stdout) into UTF-8 lines. It does what readline did here for
 * less: a line inside one chunk costs one string and nothing else (no per-chunk decode, no split
 * array); only a line cut by a chunk boundary is copied. `\n` never occurs inside a multi-byte
 * UTF-8 sequence, so decoding whole lines is exact. Unlike readline it bounds a line's length, so
 * a runner that never prints a newline cannot grow the agent's memory.
 */
export function createLineSplitter(options: LineSplitterOptions): LineSplitter {
  const { onLine, onTooLong } = options;
  const maxLineBytes = options.maxLineBytes ?? 1024 * 1024;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let skipping = 0; // > 0: bytes of an overlong line dropped so far

  const emit = (buf: Buffer, start: number, end: number) => {
    if (end > start && buf[end - 1] === 0x0d) end -= 1;
    onLine(buf.toString('utf8', start, end));
  };
  const tooLong = (extra: number) => {
    if (skipping === 0) skipping = pendingBytes;
    skipping += extra;
    pending = [];
    pendingBytes = 0;
  };

  return {
    push(chunk) {
      let start = 0;
      let nl = chunk.indexOf(0x0a);
      while (nl >= 0) {
        if (skipping > 0) {
          onTooLong?.(skipping + nl - start);
          skipping = 0;
        } else if (pendingBytes > 0) {
          if (pendingBytes + nl - start > maxLineBytes) {
            onTooLong?.(pendingBytes + nl - start);
          } else {
            pending.push(chunk.subarray(start, nl));
            const line = Buffer.concat(pending);
            emit(line, 0, line.length);
          }
          pending = [];
          pendingBytes = 0;
        } else if (nl - start > maxLineBytes) {
          onTooLong?.(nl - start);
        } else {
          emit(chunk, start, nl);
        }
        start = nl + 1;
        nl = chunk.indexOf(0x0a, start);
      }
      if (start >= chunk.length) return;
      const rest = chunk.length - start;
      if (skipping > 0 || pendingBytes + rest > maxLineBytes) {
        tooLong(rest);
        return;
      }
      // a copy: a view would keep the whole chunk alive until the line ends
      pending.push(Buffer.from(chunk.subarray(start)));
      pendingBytes += rest;
    },
    end() {
      if (skipping > 0) onTooLong?.(skipping);
      else if (pendingBytes > 0) {
        const line = Buffer.concat(pending);
        emit(line, 0, line.length);
      }
      pending = [];
      pendingBytes = 0;
      skipping = 0;
    },
  };
}
