// How a frame of one size becomes the network input: geometry (plain resize or letterbox), the
// resize taps and the colour/scale constants that the per-pixel maths (preprocess_pixel.hpp) reads.
// Pure code: the OpenCV preprocessing takes its geometry from here, the CUDA kernel its whole plan,
// so both place the frame identically.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "facefleet/geometry.hpp"
#include "facefleet/preprocess_pixel.hpp"
#include "facefleet/tensor.hpp"

namespace facefleet {

struct PreprocessPlan {
  pixel::Plan pixels;
  std::vector<pixel::XTap> xTaps;  // one per resized column (Linear sampling)
  std::vector<pixel::YTap> yTaps;  // one per resized row
  FrameTransform transform;        // network pixels ↔ frame pixels, as drawn
};

// Plan for a srcW×srcH 8-bit BGR frame. The spec must be 3-channel.
PreprocessPlan planPreprocess(const InputSpec& spec, int srcW, int srcH);

// The whole network input computed on the host with the shared per-pixel maths (the reference the
// CUDA kernel is held to; `out` holds spec.elementCount() floats).
void preprocessOnHost(const PreprocessPlan& plan, const std::uint8_t* bgr, std::size_t step, float* out);

}  // namespace facefleet
