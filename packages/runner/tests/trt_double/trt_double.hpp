// The TensorRT test double (a fake libnvinfer, tests/trt_double/fake_nvinfer.cpp, compiled against
// each TensorRT header set) and its "engine" files. No TensorRT or CUDA headers here: tests that
// write engines and check results include only this.
//
// An engine file of the double is text, one item per line:
//   facefleet-trt-double-engine 1
//   tensorrt 8.5.3                 the TensorRT version that "built" it (must equal the library's)
//   onnx /abs/path/model.onnx      the ONNX twin the double runs on the CPU with OpenCV DNN
//   dla-core -1                    N >= 0: built for DLA core N (trtexec --useDLACore=N)
//   implicit-batch 0               1: an implicit-batch engine (TensorRT < 10; dims exclude batch)
//   profile 1 1 4                  batch min, opt, max of the optimization profile (explicit batch,
//                                  with -1 as the batch dim) or max batch size (implicit: "profile 1 1 N")
//   input input_1 -1x3x416x736     tensors in I/O order: inputs, then outputs; -1 = dynamic batch
//   output output_bbox/BiasAdd -1x4x26x46
//
// Preconditions the double enforces, each failing the call that breaks it as TensorRT fails it
// (an error through the ILogger, then nullptr or false):
//  - a DLA engine deserializes only after IRuntime::setDLACore(core < getNbDLACores());
//  - an engine whose "tensorrt" line is not the library's own version is refused;
//  - enqueue: every dynamic input's shape set (setInputShape / setBindingDimensions), within the
//    profile; every I/O tensor's address set, in memory the GPU can address, large enough;
//  - with the fake CUDA runtime, outputs exist only after the stream is synchronized.
#pragma once

#include <string>
#include <vector>

namespace facefleet {
namespace trtdouble {

struct TensorSpec {
  std::string name;
  bool input = false;
  std::vector<int> dims;  // -1 = the dynamic batch dimension (explicit batch only)
};

struct EngineSpec {
  std::string tensorrtVersion;  // "8.5.3"
  std::string onnxPath;
  int dlaCore = -1;
  bool implicitBatch = false;
  int batchMin = 1, batchOpt = 1, batchMax = 1;
  std::vector<TensorSpec> tensors;
};

std::string engineText(const EngineSpec& spec);
// Throws std::invalid_argument naming the line and what is wrong with it.
EngineSpec parseEngine(const std::string& text);

// The TensorRT version the linked double was compiled against ("8.5.3"), as an engine claims it.
std::string libraryVersion();
// Whether that version has the named-tensor API (8.5+) and implicit-batch engines (< 10).
bool namedTensorApi();
bool implicitBatchEngines();

// How many enqueue calls the double accepted and refused since the last reset (tests use this to
// tell "TensorRT refused the call" from "the backend never made it").
struct Calls {
  long enqueued = 0;
  long refused = 0;
  long inferences = 0;  // batch items the ONNX twin actually ran
};
Calls calls();
void resetCalls();

}  // namespace trtdouble
}  // namespace facefleet
