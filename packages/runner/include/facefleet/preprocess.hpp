// Frame -> network input blob (resize or letterbox, colour order, DeepStream scale/offsets, layout).
#pragma once

#include <opencv2/core.hpp>

#include <cstdint>
#include <memory>
#include <vector>

#include "facefleet/geometry.hpp"
#include "facefleet/preprocess_plan.hpp"
#include "facefleet/tensor.hpp"

namespace facefleet {

class Preprocessor {
 public:
  explicit Preprocessor(const InputSpec& spec) : spec_(spec) {}
  // `bgr` is an 8-bit BGR frame (as OpenCV decodes it); fills `blob` with spec.elementCount() floats.
  FrameTransform run(const cv::Mat& bgr, std::vector<float>& blob);
  // run() in two halves, so a frame can wait for inference as 8-bit pixels (a quarter of the
  // floats): stage() resizes/letterboxes into the network's size and channel order, H×W×3
  // interleaved 8-bit, into `staged` (stagedSize() bytes); toBlob() applies scale, offsets and
  // layout, writing input().elementCount() floats. stage + toBlob give exactly run()'s floats.
  FrameTransform stage(const cv::Mat& bgr, std::vector<std::uint8_t>& staged);
  void toBlob(const std::uint8_t* staged, float* blob);
  std::size_t stagedSize() const { return static_cast<std::size_t>(spec_.width) * spec_.height * 3; }
  const InputSpec& spec() const { return spec_; }

 private:
  InputSpec spec_;
  std::unique_ptr<PreprocessPlan> plan_;  // for the last frame size seen
  cv::Mat canvas_, resized_, planes_[3];
  std::vector<std::uint8_t> staged_;  // run()'s
};

}  // namespace facefleet
