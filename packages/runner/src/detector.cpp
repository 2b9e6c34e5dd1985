#include "facefleet/detector.hpp"

#include <algorithm>
#include <chrono>

#include "facefleet/errors.hpp"

namespace facefleet {
namespace {

double msSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

Decoder decoderFor(const RunnerConfig& cfg) {
  try {
    return Decoder::create(cfg.decoder);
  } catch (const std::invalid_argument& e) {
    throw RunnerError(ErrorCode::BadArgs, std::string("--decoder: ") + e.what());
  }
}

}  // namespace

std::unique_ptr<Detector> Detector::create(const RunnerConfig& config, int maxBatch) {
  if (maxBatch < 1) throw RunnerError(ErrorCode::BadArgs, "batch size " + std::to_string(maxBatch) + " is < 1");
  return std::unique_ptr<Detector>(new Detector(config, decoderFor(config), maxBatch));
}

Detector::Detector(const RunnerConfig& cfg, Decoder decoder, int maxBatch)
    : decoder_(std::move(decoder)),
      input_(cfg.inputSpec(decoder_)),
      modelPath_(cfg.modelPath()),
      clusterer_(cfg.cluster),
      pre_(input_) {
  if (modelPath_.empty()) throw RunnerError(ErrorCode::BadArgs, "--model: required");
  decodeOptions_ = cfg.decodeOptions(decoder_);
  BackendConfig bc;
  bc.modelPath = modelPath_;
  bc.input = input_;
  bc.outputNames = cfg.outputBlobNames;  // explicit only; decoders match by name among all outputs
  bc.threads = cfg.threads;
  bc.maxBatch = maxBatch;
  bc.dlaCore = cfg.dlaCore();
  if (bc.dlaCore >= 0 && cfg.backend != "tensorrt")
    throw RunnerError(ErrorCode::BadArgs, "--dla-core / enable-dla: only the tensorrt backend runs on a DLA core (backend " +
                                              cfg.backend + ")");
  backend_ = Backend::create(cfg.backend, bc);
  // Decode once on the load-time outputs' shapes: a model whose outputs the decoder cannot read is a
  // model_load error now rather than a runtime error on the first frame.
  try {
    std::vector<float> zeros(input_.elementCount(), 0.0f);
    frameSlices(backend_->infer(zeros.data(), 1), 0, slices_);
    postprocess(slices_, resizeTransform(input_.width, input_.height, input_.width, input_.height));
  } catch (const std::runtime_error& e) {
    if (auto* re = dynamic_cast<const RunnerError*>(&e); re && re->code() != ErrorCode::Runtime) throw;
    throw RunnerError(ErrorCode::ModelLoad, "decoder " + decoder_.name + " cannot use the outputs of " + modelPath_ +
                                                ": " + e.what());
  }
}

Boxes Detector::postprocess(const std::vector<TensorView>& outputs, const FrameTransform& t) {
  boxes_.clear();
  decoder_.decode(outputs, NetworkInfo{input_.width, input_.height}, decodeOptions_, boxes_);
  clusterer_.run(boxes_);
  Boxes out;
  out.reserve(boxes_.size());
  for (const Box& b : boxes_) out.push_back(toSource(b, t));
  return out;
}

Boxes Detector::postprocessChecked(const std::vector<TensorView>& outputs, const FrameTransform& t) {
  try {
    return postprocess(outputs, t);
  } catch (const RunnerError&) {
    throw;
  } catch (const std::runtime_error& e) {
    throw RunnerError(ErrorCode::Runtime, std::string("decode: ") + e.what());
  }
}

Boxes Detector::detect(const std::vector<float>& blob, const FrameTransform& t, double* inferMs, double* postMs) {
  auto t0 = std::chrono::steady_clock::now();
  const auto& outputs = backend_->infer(blob.data(), 1);
  if (inferMs) *inferMs = msSince(t0);
  t0 = std::chrono::steady_clock::now();
  frameSlices(outputs, 0, slices_);
  Boxes out = postprocessChecked(slices_, t);
  if (postMs) *postMs = msSince(t0);
  return out;
}

void Detector::detectBatch(const float* blob, const std::vector<FrameTransform>& transforms, std::vector<Boxes>& out,
                           BatchTiming* timing) {
  const int frames = static_cast<int>(transforms.size());
  const int step = backend_->maxBatch();
  const std::size_t perFrame = input_.elementCount();
  out.resize(transforms.size());
  if (timing) {
    timing->callMs.clear();
    timing->callFrames.clear();
    timing->inferMs.assign(transforms.size(), 0.0);
    timing->postMs.assign(transforms.size(), 0.0);
  }
  for (int first = 0; first < frames; first += step) {
    const int n = std::min(step, frames - first);
    auto t0 = std::chrono::steady_clock::now();
    const auto& outputs = backend_->infer(blob + perFrame * static_cast<std::size_t>(first), n);
    if (timing) {
      const double ms = msSince(t0);
      timing->callMs.push_back(ms);
      timing->callFrames.push_back(n);
      for (int b = 0; b < n; ++b) timing->inferMs[first + b] = ms;
    }
    for (int b = 0; b < n; ++b) {
      t0 = std::chrono::steady_clock::now();
      frameSlices(outputs, b, slices_);
      out[first + b] = postprocessChecked(slices_, transforms[first + b]);
      if (timing) timing->postMs[first + b] = msSince(t0);
    }
  }
}

Boxes Detector::detectFrame(const cv::Mat& bgr) {
  const FrameTransform t = pre_.run(bgr, blob_);
  return detect(blob_, t, nullptr, nullptr);
}

}  // namespace facefleet
