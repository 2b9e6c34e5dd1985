import { describe, expect, it } from 'vitest';
import { createLineSplitter } from './line-splitter.js';

function collect(maxLineBytes?: number) {
  const lines: string[] = [];
  const tooLong: number[] = [];
  const s = createLineSplitter({
    onLine: (l) => lines.push(l),
    onTooLong: (n) => tooLong.push(n),
    ...(maxLineBytes ? { maxLineBytes } : {}),
  });
  return { s, lines, tooLong };
}

describe('createLineSplitter', () => {
  it('splits chunks into lines, however the chunks fall', () => {
    const text = '{"a":1}\n{"b":"zwei"}\r\n\nlast';
    const bytes = Buffer.from(text);
    // every way to cut the text into two chunks, and byte by byte
    const cuts = [...Array.from({ length: bytes.length + 1 }, (_, i) => [i]), 'bytes'] as const;
    for (const cut of cuts) {
      const { s, lines } = collect();
      if (cut === 'bytes') for (const b of bytes) s.push(Buffer.from([b]));
      else {
        s.push(bytes.subarray(0, cut[0]));
        s.push(bytes.subarray(cut[0]));
      }
      expect(lines, String(cut)).toEqual(['{"a":1}', '{"b":"zwei"}', '']);
      s.end();
      expect(lines, String(cut)).toEqual(['{"a":1}', '{"b":"zwei"}', '', 'last']);
    }
  });

  it('keeps multi-byte UTF-8 characters cut by a chunk boundary whole', () => {
    const bytes = Buffer.from('{"source":"Überwachung 監視 📷"}\n');
    for (let i = 1; i < bytes.length; i++) {
      const { s, lines } = collect();
      s.push(bytes.subarray(0, i));
      s.push(bytes.subarray(i));
      expect(lines).toEqual(['{"source":"Überwachung 監視 📷"}']);
    }
  });

  it('does not keep a reference to a chunk the stream may reuse', () => {
    const { s, lines } = collect();
    const chunk = Buffer.from('{"a":1}\n{"b":');
    s.push(chunk);
    chunk.fill(0x20);
    s.push(Buffer.from('2}\n'));
    expect(lines).toEqual(['{"a":1}', '{"b":2}']);
  });

  it('drops a line longer than the limit, reports its length, and goes on with the next', () => {
    const { s, lines, tooLong } = collect(16);
    s.push(Buffer.from('short\n0123456789'));
    s.push(Buffer.from('0123456789'));
    s.push(Buffer.from('0123456789\nok\n'));
    s.push(Buffer.from(`${'x'.repeat(20)}\n${'y'.repeat(16)}\n`));
    s.push(Buffer.from('z'.repeat(40)));
    s.end();
    expect(lines).toEqual(['short', 'ok', 'y'.repeat(16)]);
    expect(tooLong).toEqual([30, 20, 40]);
  });
});
