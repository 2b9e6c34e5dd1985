/**
 * Characters a terminal acts on or that change how text reads: C0 and C1 controls (ESC starts
 * colour, title, clear-screen and cursor sequences; CR and LF fake lines), DEL, and the invisible
 * and direction-changing format characters (zero-width, bidi embeddings, overrides and isolates,
 * the byte-order mark).
 */
const UNSAFE =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
  /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]/g;

/**
 * `text` as it may reach a terminal: every unsafe character (above) written out as `\uXXXX`, so a
 * device that puts escape sequences in its status cannot retitle the operator's terminal, clear it
 * or print lines of its own.
 */
export function printable(text: string): string {
  return text.replace(UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Every string in a JSON value made printable (keys too), the rest as it is. */
export function printableDeep(value: unknown): unknown {
  if (typeof value === 'string') return printable(value);
  if (Array.isArray(value)) return value.map(printableDeep);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [printable(k), printableDeep(v)]),
    );
  }
  return value;
}
