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

  // Throws RunnerError(BadArgs) for an unknown or not-compiled-in backend, RunnerError(ModelLoad)
  // when the model cannot be loaded or does not fit the input spec.
  static std::unique_ptr<Backend> create(const std::string& name, const BackendConfig& config);
};

std::string backendUsage();
bool tensorRtCompiledIn();

// Per-backend factories (backend_opencv.cpp, backend_tensorrt.cpp).
std::unique_ptr<Backend> createOpenCvBackend(const BackendConfig& config);
#ifdef FACEFLEET_HAVE_TENSORRT
std::unique_ptr<Backend> createTensorRtBackend(const BackendConfig& config);
#endif

}  // namespace facefleet
