// What a backend hands a decoder: named float tensors, and what a model wants as input.
// Pure data: no OpenCV or TensorRT types, so decoders are testable on raw arrays.
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <vector>

namespace facefleet {

// Non-owning view of one output tensor; valid until the backend's next infer().
// A backend's outputs always lead with the batch dimension: shape[0] == the batch infer() ran.
struct TensorView {
  std::string name;
  std::vector<int> shape;  // batch first, then the model's per-frame dimensions
  const float* data = nullptr;

  std::size_t count() const {
    std::size_t n = 1;
    for (int d : shape) n *= static_cast<std::size_t>(d > 0 ? d : 1);
    return n;
  }
};

// Frame b's slice of a batched output: the same rank with a leading dimension of 1, data advanced
// by b frames (b·count()/shape[0] floats). Requires 0 <= b < shape[0]; a rank-0 view is returned
// unchanged for b == 0.
inline TensorView frameSlice(const TensorView& t, int b) {
  if (t.shape.empty()) return t;
  const int batch = t.shape[0] > 0 ? t.shape[0] : 1;
  const std::size_t perFrame = t.count() / static_cast<std::size_t>(batch);
  TensorView v{t.name, t.shape, t.data + perFrame * static_cast<std::size_t>(b)};
  v.shape[0] = 1;
  return v;
}

// frameSlice() over every output of one infer() call, into `out` (reused between frames).
inline void frameSlices(const std::vector<TensorView>& outputs, int b, std::vector<TensorView>& out) {
  out.resize(outputs.size());
  for (std::size_t i = 0; i < outputs.size(); ++i) out[i] = frameSlice(outputs[i], b);
}

enum class Layout { NCHW, NHWC };

// How a frame becomes the network input. DeepStream's formula: y = netScaleFactor * (x - offset[c]).
struct InputSpec {
  std::string name;  // input tensor name, empty = the model's only input
  int width = 0;
  int height = 0;
  int channels = 3;
  Layout layout = Layout::NCHW;
  float netScaleFactor = 1.0f;
  std::array<float, 3> offsets{0.0f, 0.0f, 0.0f};
  bool rgb = true;         // channel order fed to the network (DeepStream model-color-format 0 = RGB)
  bool letterbox = false;  // false: plain resize to width×height; true: keep aspect, pad centred

  std::size_t elementCount() const {
    return static_cast<std::size_t>(width) * height * channels;
  }
};

}  // namespace facefleet
