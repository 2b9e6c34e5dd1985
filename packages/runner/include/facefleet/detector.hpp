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
  // `maxBatch`: the most frames detectBatch() will be given at once (the backend may run fewer per
  // inference call; see maxBatch()).
  static std::unique_ptr<Detector> create(const RunnerConfig& config, int maxBatch = 1);

  const InputSpec& input() const { return input_; }
  const Decoder& decoder() const { return decoder_; }
  const std::string& modelPath() const { return modelPath_; }
  const ClusterParams& cluster() const { return clusterer_.params(); }
  Backend& backend() { return *backend_; }
  // Frames per inference call: the backend's maxBatch() (1 where the model fixes its batch).
  int maxBatch() const { return backend_->maxBatch(); }

  // Inference, then decode + cluster + map to source pixels. Times in milliseconds.
  Boxes detect(const std::vector<float>& blob, const FrameTransform& transform, double* inferMs, double* postMs);

  struct BatchTiming {
    std::vector<double> callMs;   // each inference call: ceil(frames / maxBatch()) of them
    std::vector<double> inferMs;  // per frame: the time of the inference call that ran it
    std::vector<double> postMs;   // per frame: decode + cluster + map
    std::vector<int> callFrames;  // frames in each inference call
  };
  // `transforms.size()` frames at once: `blob` holds them frame after frame (each
  // input().elementCount() floats). Inference runs in batches of up to maxBatch() frames; decode,
  // clustering and mapping run per frame. out[f] = frame f's boxes in its source pixels.
  void detectBatch(const float* blob, const std::vector<FrameTransform>& transforms, std::vector<Boxes>& out,
                   BatchTiming* timing);

  // Decode + cluster + map on one frame's outputs (leading dimension 1; the "post" stage alone).
  Boxes postprocess(const std::vector<TensorView>& outputs, const FrameTransform& transform);
  // Every stage on one frame (tests, eval).
  Boxes detectFrame(const cv::Mat& bgr);

 private:
  Detector(const RunnerConfig& config, Decoder decoder, int maxBatch);
  Boxes postprocessChecked(const std::vector<TensorView>& outputs, const FrameTransform& transform);

  Decoder decoder_;
  InputSpec input_;
  std::string modelPath_;
  DecodeOptions decodeOptions_;
  std::unique_ptr<Backend> backend_;
  Clusterer clusterer_;
  Preprocessor pre_;
  std::vector<float> blob_;
  Boxes boxes_;
  std::vector<TensorView> slices_;
};

}  // namespace facefleet
