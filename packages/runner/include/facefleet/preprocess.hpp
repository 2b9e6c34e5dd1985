// Frame -> network input blob (resize or letterbox, colour order, DeepStream scale/offsets, layout).
#pragma once

#include <opencv2/core.hpp>

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
  const InputSpec& spec() const { return spec_; }

 private:
  InputSpec spec_;
  std::unique_ptr<PreprocessPlan> plan_;  // for the last frame size seen
  cv::Mat canvas_, resized_, ordered_, f32_, planes_[3];
};

}  // namespace facefleet
