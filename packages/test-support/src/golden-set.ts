import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Test data for the accuracy gate: a small golden set (images and KITTI labels) from Debian's
 * opencv-doc samples, and a BlazeFace model degraded on purpose.
 */

const SAMPLES = '/usr/share/doc/opencv-doc/examples/data';

/**
 * The images of the golden set and their faces (left, top, right, bottom in image pixels): messi5.jpg
 * with its one face, labelled by hand (the runner's own eval test uses the same label), and sample
 * images with no face at all (an empty label file each), on which a detector should find nothing.
 */
export const GOLDEN_IMAGES: { file: string; faces: [number, number, number, number][] }[] = [
  { file: 'messi5.jpg', faces: [[221, 96, 257, 132]] },
  { file: 'fruits.jpg', faces: [] },
  { file: 'building.jpg', faces: [] },
  { file: 'home.jpg', faces: [] },
];

/** Writes the golden set under `dir` (`images/`, `labels/`); returns both folders. */
export function writeGoldenSet(dir: string): { images: string; labels: string } {
  const images = join(dir, 'images');
  const labels = join(dir, 'labels');
  mkdirSync(images, { recursive: true });
  mkdirSync(labels, { recursive: true });
  for (const { file, faces } of GOLDEN_IMAGES) {
    copyFileSync(join(SAMPLES, file), join(images, file));
    const stem = file.replace(/\.[^.]+$/, '');
    // KITTI: type truncated occluded alpha left top right bottom h w l x y z rotation_y
    const lines = faces.map(
      ([l, t, r, b]) => `face 0.00 0 0.00 ${l} ${t} ${r} ${b} 0 0 0 0 0 0 0\n`,
    );
    writeFileSync(join(labels, `${stem}.txt`), lines.join(''));
  }
  return { images, labels };
}

// --- a minimal protobuf editor, enough to add one node to an ONNX graph ----------------------------

interface Field {
  no: number;
  wire: number;
  /** varint value, or the bytes of a length-delimited / fixed field */
  value: bigint | Buffer;
}

function readVarint(buf: Buffer, at: number): [bigint, number] {
  let result = 0n;
  let shift = 0n;
  let i = at;
  for (;;) {
    const b = buf[i++];
    if (b === undefined) throw new Error('truncated protobuf varint');
    result |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) return [result, i];
    shift += 7n;
  }
}

function varint(n: bigint | number): Buffer {
  let v = BigInt(n);
  const out: number[] = [];
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) b |= 0x80;
    out.push(b);
  } while (v > 0n);
  return Buffer.from(out);
}

function parse(buf: Buffer): Field[] {
  const fields: Field[] = [];
  let i = 0;
  while (i < buf.length) {
    const [key, next] = readVarint(buf, i);
    i = next;
    const no = Number(key >> 3n);
    const wire = Number(key & 7n);
    if (wire === 0) {
      const [v, n] = readVarint(buf, i);
      fields.push({ no, wire, value: v });
      i = n;
    } else if (wire === 2) {
      const [len, n] = readVarint(buf, i);
      fields.push({ no, wire, value: buf.subarray(n, n + Number(len)) });
      i = n + Number(len);
    } else if (wire === 5 || wire === 1) {
      const size = wire === 5 ? 4 : 8;
      fields.push({ no, wire, value: buf.subarray(i, i + size) });
      i += size;
    } else {
      throw new Error(`protobuf wire type ${wire} not supported`);
    }
  }
  return fields;
}

function serialize(fields: Field[]): Buffer {
  return Buffer.concat(
    fields.flatMap((f) => {
      const key = varint((f.no << 3) | f.wire);
      if (f.wire === 0) return [key, varint(f.value as bigint)];
      if (f.wire === 2) return [key, varint((f.value as Buffer).length), f.value as Buffer];
      return [key, f.value as Buffer];
    }),
  );
}

const bytes = (no: number, value: Buffer | string): Field => ({
  no,
  wire: 2,
  value: typeof value === 'string' ? Buffer.from(value, 'utf8') : value,
});
const str = (f: Field) => (f.value as Buffer).toString('utf8');
const sub = (f: Field, no: number) => parse(f.value as Buffer).filter((x) => x.no === no);

/** The last dimension of a graph output (ValueInfoProto → TypeProto → tensor_type → shape). */
function lastDim(valueInfo: Field): bigint | undefined {
  const tensor = sub(valueInfo, 2).flatMap((t) => sub(t, 1));
  const dims = tensor.flatMap((t) => sub(t, 2)).flatMap((s) => sub(s, 1));
  const last = dims.at(-1);
  const value = last ? parse(last.value as Buffer).find((d) => d.no === 1) : undefined;
  return value?.value as bigint | undefined;
}

/**
 * A copy of the BlazeFace ONNX model whose score outputs (the N×1 logits, before the runner's
 * sigmoid) are lowered by `shift`: an engine that loads, runs as fast and finds faces only where it
 * is very sure, i.e. an update that a health gate passes and an accuracy gate must not. Adds one
 * `Add` node per score output: the node that produced it now writes `<name>_raw`.
 */
export function writeDegradedBlazeface(src: string, dest: string, shift = -6): void {
  const model = parse(readFileSync(src));
  const graphField = model.find((f) => f.no === 7);
  if (!graphField) throw new Error(`${src}: no graph in the ONNX model`);
  const graph = parse(graphField.value as Buffer);
  const scores = graph
    .filter((f) => f.no === 12 && lastDim(f) === 1n)
    .map((f) => str(sub(f, 1)[0]!));
  if (scores.length === 0) throw new Error(`${src}: no N×1 score output`);
  const shiftBytes = Buffer.alloc(4);
  shiftBytes.writeFloatLE(shift);
  const edited = graph.map((f) => {
    if (f.no !== 1) return f;
    const node = parse(f.value as Buffer);
    const renamed = node.map((n) =>
      n.no === 2 && scores.includes(str(n)) ? bytes(2, `${str(n)}_raw`) : n,
    );
    return bytes(1, serialize(renamed));
  });
  for (const name of scores) {
    // TensorProto: data_type FLOAT (2 = 1), name (8), raw_data (9); a scalar broadcasts
    edited.push(
      bytes(
        5,
        serialize([{ no: 2, wire: 0, value: 1n }, bytes(8, `${name}_shift`), bytes(9, shiftBytes)]),
      ),
    );
    // NodeProto: input (1), output (2), name (3), op_type (4)
    edited.push(
      bytes(
        1,
        serialize([
          bytes(1, `${name}_raw`),
          bytes(1, `${name}_shift`),
          bytes(2, name),
          bytes(3, `degrade_${name}`),
          bytes(4, 'Add'),
        ]),
      ),
    );
  }
  const out = model.map((f) => (f.no === 7 ? bytes(7, serialize(edited)) : f));
  writeFileSync(dest, serialize(out));
}
