#include "facefleet/detector.hpp"

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

std::unique_ptr<Detector> Detector::create(const RunnerConfig& config) {
  return std::unique_ptr<Detector>(new Detector(config, decoderFor(config)));
}

Detector::Detector(const RunnerConfig& cfg, Decoder decoder)
    : decoder_(std::move(decoder)),
      input_(cfg.inputSpec(decoder_)),
      modelPath_(cfg.modelPath()),
      clusterer_(cfg.cluster),
      pre_(input_) {
  if (modelPath_.empty()) throw RunnerError(ErrorCode::BadArgs, "--model: required");
  decodeOptions_.threshold = cfg.threshold(decoder_);
  BackendConfig bc;
  bc.modelPath = modelPath_;
  bc.input = input_;
  bc.outputNames = cfg.outputBlobNames;  // explicit only; decoders match by name among all outputs
  bc.threads = cfg.threads;
  bc.dlaCore = cfg.dlaCore();
  if (bc.dlaCore >= 0 && cfg.backend != "tensorrt")
    throw RunnerError(ErrorCode::BadArgs, "--dla-core / enable-dla: only the tensorrt backend runs on a DLA core (backend " +
                                              cfg.backend + ")");
  backend_ = Backend::create(cfg.backend, bc);
  // Decode once on the load-time outputs' shapes: a model whose outputs the decoder cannot read is a
  // model_load error now rather than a runtime error on the first frame.
  try {
    std::vector<float> zeros(input_.elementCount(), 0.0f);
    postprocess(backend_->infer(zeros.data()), resizeTransform(input_.width, input_.height, input_.width, input_.height));
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

Boxes Detector::detect(const std::vector<float>& blob, const FrameTransform& t, double* inferMs, double* postMs) {
  auto t0 = std::chrono::steady_clock::now();
  const auto& outputs = backend_->infer(blob.data());
  if (inferMs) *inferMs = msSince(t0);
  t0 = std::chrono::steady_clock::now();
  Boxes out;
  try {
    out = postprocess(outputs, t);
  } catch (const RunnerError&) {
    throw;
  } catch (const std::runtime_error& e) {
    throw RunnerError(ErrorCode::Runtime, std::string("decode: ") + e.what());
  }
  if (postMs) *postMs = msSince(t0);
  return out;
}

Boxes Detector::detectFrame(const cv::Mat& bgr) {
  const FrameTransform t = pre_.run(bgr, blob_);
  return detect(blob_, t, nullptr, nullptr);
}

}  // namespace facefleet
