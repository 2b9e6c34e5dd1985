// One face detector: backend + decoder + clustering, plus the preprocessing the decoder's model needs.
#pragma once

#include <opencv2/core.hpp>

#include <memory>
#include <string>
#include <vector>

#include "facefleet/backend.hpp"
#include "facefleet/cluster.hpp"
#include "facefleet/config.hpp"
#include "facefleet/decode.hpp"
#include "facefleet/preprocess.hpp"

namespace facefleet {

class Detector {
 public:
  // Throws RunnerError: BadArgs (unknown decoder/backend), ModelLoad (model unreadable or unfit).
  static std::unique_ptr<Detector> create(const RunnerConfig& config);

  const InputSpec& input() const { return input_; }
  const Decoder& decoder() const { return decoder_; }
  const std::string& modelPath() const { return modelPath_; }
  const ClusterParams& cluster() const { return clusterer_.params(); }
  Backend& backend() { return *backend_; }

  // Inference, then decode + cluster + map to source pixels. Times in milliseconds.
  Boxes detect(const std::vector<float>& blob, const FrameTransform& transform, double* inferMs, double* postMs);
  // Decode + cluster + map on outputs already computed (the "post" stage alone).
  Boxes postprocess(const std::vector<TensorView>& outputs, const FrameTransform& transform);
  // Every stage on one frame (tests, eval).
  Boxes detectFrame(const cv::Mat& bgr);

 private:
  Detector(const RunnerConfig& config, Decoder decoder);

  Decoder decoder_;
  InputSpec input_;
  std::string modelPath_;
  DecodeOptions decodeOptions_;
  std::unique_ptr<Backend> backend_;
  Clusterer clusterer_;
  Preprocessor pre_;
  std::vector<float> blob_;
  Boxes boxes_;
};

}  // namespace facefleet
