// Inference backends behind one interface, chosen by name.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "facefleet/tensor.hpp"

namespace facefleet {

struct BackendConfig {
  std::string modelPath;
  InputSpec input;                       // shape and layout of the blob passed to infer()
  std::vector<std::string> outputNames;  // explicit output tensors; empty = all model outputs
  int threads = 0;                       // CPU backends: worker threads, 0 = library default
  int dlaCore = -1;  // TensorRT: the DLA core for engines built with trtexec --useDLACore (-1: GPU)
  int maxBatch = 1;                      // the largest batch infer() will be called with
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const = 0;
  // Runs `batch` frames at once. `input` holds batch × input.elementCount() floats: frame after
  // frame, each laid out as BackendConfig::input says. 1 <= batch <= maxBatch(), else
  // RunnerError(Runtime). Every returned view leads with the batch dimension (shape[0] == batch);
  // frameSlice(view, b) / frameSlices() give frame b's part. The views stay valid until the next
  // infer() call. Throws RunnerError(Runtime) on failure.
  virtual const std::vector<TensorView>& infer(const float* input, int batch) = 0;
  // The largest batch this backend runs in one call: BackendConfig::maxBatch when the model allows
  // it, else less (1 for a model whose graph fixes its batch). Callers split larger sets of frames.
  virtual int maxBatch() const = 0;

  // Pipelining: submit(input, batch) starts an infer() and returns without waiting for it;
  // collect() waits for the oldest batch submitted and not yet collected and returns its outputs,
  // which stay valid until inFlight() more batches have been submitted after it. `input` may be
  // reused as soon as submit() returns. At most inFlight() batches are submitted and not collected (RunnerError
  // Runtime otherwise). The default keeps one in flight and runs infer() in submit(); the TensorRT
  // backend keeps two, so one batch's copies overlap the other's inference.
  virtual int inFlight() const { return 1; }
  virtual void submit(const float* input, int batch);
  virtual const std::vector<TensorView>& collect();

  // Throws RunnerError(BadArgs) for an unknown or not-compiled-in backend, RunnerError(ModelLoad)
  // when the model cannot be loaded or does not fit the input spec.
  static std::unique_ptr<Backend> create(const std::string& name, const BackendConfig& config);

 private:
  const std::vector<TensorView>* submitted_ = nullptr;  // the default submit()'s outputs
};

std::string backendUsage();

// Per-backend factories (backend_opencv.cpp, backend_tensorrt.cpp). The TensorRT pair is defined
// by whichever of backend_tensorrt.cpp (TensorRT or its test double) and backend_tensorrt_absent.cpp
// (throws BadArgs: not compiled in) the executable links; facefleet_runner_core contains neither.
std::unique_ptr<Backend> createOpenCvBackend(const BackendConfig& config);
std::unique_ptr<Backend> createTensorRtBackend(const BackendConfig& config);
bool tensorRtCompiledIn();

}  // namespace facefleet
