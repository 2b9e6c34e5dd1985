#!/usr/bin/env node
// Writes a DetectNet_v2-shaped ONNX model with FaceNet's exact tensor names and shapes, for tests
// and benchmarks where NVIDIA's FaceNet weights cannot be used:
//   input  input_1              float Nx3x416x736
//   output output_bbox/BiasAdd  float Nx4x26x46
//   output output_cov/Sigmoid   float Nx1x26x46
// N is a symbolic (dynamic) batch dimension named "N" by default, or a fixed size with --batch K.
// Trunk: a small ResNet18-like stack down to stride 16 (7x7/2 conv, 3x3/2 max pool, then residual
// blocks and stride-2 convs), with batch norm already folded into conv weights and biases, ReLU,
// residual Adds; 1x1 head convs; Sigmoid on coverage. Weights are seeded and deterministic.
//
// The ONNX protobuf is written directly (field numbers from onnx/onnx.proto, proto2, IR version 7,
// opset 11), with no dependencies, so OpenCV 4.6's importer loads it: no Identity nodes, no
// initializers listed as graph inputs, node names equal to their output names (OpenCV names layers
// after them, and the runner fetches outputs by those names).
//
// Usage: node tools/gen-detectnet-onnx.mjs OUT.onnx [--seed N] [--width 24] [--batch dynamic|K]
//        [--input 736x416]   (other sizes, multiples of 16, give small models for soak tests)
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

// ---- protobuf wire format -------------------------------------------------------------------
function varint(n) {
  let v = BigInt(n);
  if (v < 0n) v += 1n << 64n; // two's complement for negative int64
  const out = [];
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) b |= 0x80;
    out.push(b);
  } while (v > 0n);
  return Buffer.from(out);
}
const key = (field, wire) => varint((field << 3) | wire);
const fVarint = (field, n) => Buffer.concat([key(field, 0), varint(n)]);
const fBytes = (field, buf) => Buffer.concat([key(field, 2), varint(buf.length), buf]);
const fString = (field, s) => fBytes(field, Buffer.from(s, 'utf8'));
const msg = (...parts) => Buffer.concat(parts.flat());

// ---- ONNX messages (onnx.proto field numbers) -------------------------------------------------
const FLOAT = 1; // TensorProto.DataType.FLOAT
const AttrType = { FLOAT: 1, INT: 2, INTS: 7 };
const attrInt = (name, i) => msg(fString(1, name), fVarint(20, AttrType.INT), fVarint(3, i));
const attrInts = (name, ints) =>
  msg(
    fString(1, name),
    fVarint(20, AttrType.INTS),
    ints.map((i) => fVarint(8, i)),
  );
const node = (opType, inputs, output, attrs = []) =>
  msg(
    inputs.map((n) => fString(1, n)),
    fString(2, output),
    fString(3, output),
    fString(4, opType),
    attrs.map((a) => fBytes(5, a)),
  );
const tensor = (name, dims, values) => {
  const raw = Buffer.alloc(values.length * 4);
  for (let i = 0; i < values.length; i++) raw.writeFloatLE(values[i], i * 4);
  return msg(
    dims.map((d) => fVarint(1, d)),
    fVarint(2, FLOAT),
    fString(8, name),
    fBytes(9, raw),
  );
};
// TensorShapeProto.Dimension: dim_value (1) for a number, dim_param (2) for a symbolic name.
const dimension = (d) => (typeof d === 'string' ? fString(2, d) : fVarint(1, d));
const valueInfo = (name, dims) =>
  msg(
    fString(1, name),
    fBytes(
      2,
      fBytes(1, msg(fVarint(1, FLOAT), fBytes(2, msg(dims.map((d) => fBytes(1, dimension(d))))))),
    ),
  );

// ---- deterministic weights ---------------------------------------------------------------------
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function build({ seed, width, batch, inW, inH }) {
  const rand = mulberry32(seed);
  const gauss = () => {
    const u = Math.max(rand(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
  };
  const nodes = [];
  const inits = [];
  let counter = 0;
  // Conv with BN folded in: weight ~ N(0, gain·sqrt(2/fan_in)) (He), bias small.
  const conv = (x, cin, cout, k, stride, { gain = 1, bias = 0.01, name } = {}) => {
    const id = name ?? `conv${++counter}`;
    const fanIn = cin * k * k;
    const std = gain * Math.sqrt(2 / fanIn);
    const w = Array.from({ length: cout * fanIn }, () => gauss() * std);
    const b = Array.from({ length: cout }, () => bias + 0.01 * gauss());
    inits.push(tensor(`${id}.weight`, [cout, cin, k, k], w), tensor(`${id}.bias`, [cout], b));
    const pad = (k - 1) >> 1;
    nodes.push(
      node('Conv', [x, `${id}.weight`, `${id}.bias`], id, [
        attrInts('kernel_shape', [k, k]),
        attrInts('strides', [stride, stride]),
        attrInts('pads', [pad, pad, pad, pad]),
        attrInts('dilations', [1, 1]),
        attrInt('group', 1),
      ]),
    );
    return id;
  };
  const relu = (x) => {
    const id = `${x}_relu`;
    nodes.push(node('Relu', [x], id));
    return id;
  };
  const block = (x, c) => {
    const a = relu(conv(x, c, c, 3, 1));
    const b = conv(a, c, c, 3, 1, { gain: 0.5 });
    const sum = `add${++counter}`;
    nodes.push(node('Add', [x, b], sum));
    return relu(sum);
  };

  const c1 = width,
    c2 = width * 2,
    c3 = width * 4;
  let x = relu(conv('input_1', 3, c1, 7, 2)); // stride 2
  nodes.push(
    node('MaxPool', [x], 'pool1', [
      attrInts('kernel_shape', [3, 3]),
      attrInts('strides', [2, 2]),
      attrInts('pads', [1, 1, 1, 1]),
    ]),
  ); // stride 4
  x = block('pool1', c1);
  x = block(relu(conv(x, c1, c2, 3, 2)), c2); // stride 8
  x = block(relu(conv(x, c2, c3, 3, 2)), c3); // stride 16: 26x46
  conv(x, c3, 4, 1, 1, { gain: 0.3, bias: 0.8, name: 'output_bbox/BiasAdd' });
  conv(x, c3, 1, 1, 1, { gain: 4, bias: -0.5, name: 'output_cov/BiasAdd' });
  nodes.push(node('Sigmoid', ['output_cov/BiasAdd'], 'output_cov/Sigmoid'));

  const graph = msg(
    nodes.map((n) => fBytes(1, n)),
    fString(2, 'detectnet_v2_facenet_shaped'),
    inits.map((t) => fBytes(5, t)),
    fBytes(11, valueInfo('input_1', [batch, 3, inH, inW])),
    fBytes(12, valueInfo('output_bbox/BiasAdd', [batch, 4, inH / 16, inW / 16])),
    fBytes(12, valueInfo('output_cov/Sigmoid', [batch, 1, inH / 16, inW / 16])),
  );
  return msg(
    fVarint(1, 7), // ir_version
    fString(2, 'facefleet gen-detectnet-onnx'),
    fString(3, '0.1.0'),
    fString(
      6,
      `DetectNet_v2-shaped test model with FaceNet tensor names; seed ${seed}; not trained`,
    ),
    fBytes(7, graph),
    fBytes(8, msg(fVarint(2, 11))), // opset_import { domain "" version 11 }
  );
}

// ---- main ----------------------------------------------------------------------------------------
const args = process.argv.slice(2);
const out = args.find((a) => !a.startsWith('--'));
const optText = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const opt = (name, dflt) => Number(optText(name, dflt));
const usage =
  'usage: node tools/gen-detectnet-onnx.mjs OUT.onnx [--seed N] [--width 24] [--batch dynamic|K] [--input 736x416]';
if (!out) {
  console.error(usage);
  process.exit(2);
}
const batchText = optText('batch', 'dynamic');
const batch = batchText === 'dynamic' ? 'N' : Number(batchText);
if (batch !== 'N' && !(Number.isInteger(batch) && batch >= 1)) {
  console.error(`--batch: '${batchText}' is neither 'dynamic' nor a positive integer\n${usage}`);
  process.exit(2);
}
const inputText = optText('input', '736x416');
const [inW, inH] = inputText.split('x').map(Number);
if (!(inW > 0 && inH > 0 && inW % 16 === 0 && inH % 16 === 0)) {
  console.error(`--input: '${inputText}' is not WxH with both multiples of 16\n${usage}`);
  process.exit(2);
}
const model = build({ seed: opt('seed', 20240601), width: opt('width', 24), batch, inW, inH });
mkdirSync(dirname(out), { recursive: true });
const tmp = `${out}.tmp-${process.pid}`;
writeFileSync(tmp, model);
renameSync(tmp, out);
console.error(`gen-detectnet-onnx: wrote ${out} (${model.length} bytes)`);
