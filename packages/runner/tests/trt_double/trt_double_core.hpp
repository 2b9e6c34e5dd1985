// Version-independent parts of the TensorRT double used by fake_nvinfer.cpp: the ONNX twin that
// computes an engine's outputs on the CPU, and the call counters behind trtdouble::calls().
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "trt_double.hpp"

namespace facefleet {
namespace trtdouble {

void countEnqueue(bool accepted);

// An engine's ONNX twin on OpenCV DNN (CPU), run one batch item at a time.
class Twin {
 public:
  // Throws std::runtime_error when the model cannot be loaded.
  explicit Twin(const std::string& onnxPath);
  ~Twin();
  // `input`: one item laid out as `itemDims` (a leading 1 included). Writes output k (by name)
  // into outputs[k], which holds counts[k] floats. Returns "" or what went wrong.
  std::string run(const float* input, const std::vector<int>& itemDims, const std::vector<std::string>& names,
                  const std::vector<std::size_t>& counts, const std::vector<float*>& outputs);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace trtdouble
}  // namespace facefleet
