// What a backend hands a decoder: named float tensors, and what a model wants as input.
// Pure data: no OpenCV or TensorRT types, so decoders are testable on raw arrays.
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <vector>

namespace facefleet {

// Non-owning view of one output tensor; valid until the backend's next infer().
struct TensorView {
  std::string name;
  std::vector<int> shape;  // as the model reports it, batch dimension included if present
  const float* data = nullptr;

  std::size_t count() const {
    std::size_t n = 1;
    for (int d : shape) n *= static_cast<std::size_t>(d > 0 ? d : 1);
    return n;
  }
};

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
