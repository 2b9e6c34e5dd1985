// OpenCV DNN backend: ONNX on the CPU. OpenCV 4.6 rejects ONNX files with Identity nodes on weights;
// ONNX written directly (tools/gen-detectnet-onnx.mjs, the BlazeFace Barracuda exports) loads.
#include <opencv2/core.hpp>
#include <opencv2/core/utils/logger.hpp>
#include <opencv2/dnn.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>

#include "facefleet/backend.hpp"
#include "facefleet/errors.hpp"

namespace facefleet {
namespace {

class OpenCvBackend final : public Backend {
 public:
  explicit OpenCvBackend(const BackendConfig& cfg) : input_(cfg.input) {
    if (!std::ifstream(cfg.modelPath).good())
      throw RunnerError(ErrorCode::ModelLoad, "model file '" + cfg.modelPath + "' cannot be read");
    if (cfg.maxBatch < 1) throw RunnerError(ErrorCode::BadArgs, "max batch " + std::to_string(cfg.maxBatch) + " is < 1");
    try {
      if (cfg.threads > 0) cv::setNumThreads(cfg.threads);
      net_ = cv::dnn::readNetFromONNX(cfg.modelPath);
      net_.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
      net_.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
    } catch (const cv::Exception& e) {
      throw RunnerError(ErrorCode::ModelLoad, "OpenCV DNN cannot load '" + cfg.modelPath + "': " + e.what());
    }
    if (net_.empty()) throw RunnerError(ErrorCode::ModelLoad, "OpenCV DNN loaded an empty network from " + cfg.modelPath);
    const auto available = net_.getUnconnectedOutLayersNames();
    outNames_ = available;
    if (!cfg.outputNames.empty()) {
      for (const auto& n : cfg.outputNames) {
        if (std::find(available.begin(), available.end(), n) == available.end()) {
          std::string list;
          for (const auto& a : available) list += (list.empty() ? "" : ", ") + a;
          throw RunnerError(ErrorCode::ModelLoad, "output-blob-names: '" + n + "' is not an output of " +
                                                      cfg.modelPath + " (outputs: " + list + ")");
        }
      }
      outNames_ = cfg.outputNames;
    }
    // One forward pass now, so a model that does not accept this input fails at load time.
    try {
      std::vector<float> zeros(input_.elementCount(), 0.0f);
      infer(zeros.data(), 1);
    } catch (const RunnerError& e) {
      throw RunnerError(ErrorCode::ModelLoad,
                        "model '" + cfg.modelPath + "' does not accept the configured input: " + e.what());
    }
    if (cfg.maxBatch > 1) {
      std::string why;
      maxBatch_ = cfg.maxBatch;
      // The probe's failure is an answer, not an error: keep OpenCV from logging it as one.
      const auto level = cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_SILENT);
      const bool batched = batchWorks(why);
      cv::utils::logging::setLogLevel(level);
      while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
      if (!batched) {
        maxBatch_ = 1;
        std::fprintf(stderr,
                     "facefleet-runner: warning: %s does not run batched in OpenCV DNN (%s); frames are inferred "
                     "one at a time\n",
                     cfg.modelPath.c_str(), why.c_str());
      }
    }
  }

  const char* name() const override { return "opencv"; }
  int maxBatch() const override { return maxBatch_; }

  const std::vector<TensorView>& infer(const float* input, int batch) override {
    if (batch < 1 || batch > maxBatch_)
      throw RunnerError(ErrorCode::Runtime, "batch " + std::to_string(batch) + " outside 1.." + std::to_string(maxBatch_));
    std::vector<int> dims = input_.layout == Layout::NCHW
                                ? std::vector<int>{batch, input_.channels, input_.height, input_.width}
                                : std::vector<int>{batch, input_.height, input_.width, input_.channels};
    try {
      cv::Mat blob(4, dims.data(), CV_32F, const_cast<float*>(input));
      net_.setInput(blob);
      net_.forward(outs_, outNames_);
    } catch (const cv::Exception& e) {
      std::string shape;
      for (int d : dims) shape += (shape.empty() ? "" : "x") + std::to_string(d);
      throw RunnerError(ErrorCode::Runtime, "OpenCV DNN forward failed for input " + shape + ": " + e.what());
    }
    views_.resize(outs_.size());
    for (std::size_t i = 0; i < outs_.size(); ++i) {
      cv::Mat& m = outs_[i];
      if (m.type() != CV_32F || !m.isContinuous()) m = m.clone(), m.convertTo(m, CV_32F);
      views_[i].name = outNames_[i];
      views_[i].shape.assign(m.size.p, m.size.p + m.dims);
      views_[i].data = m.ptr<float>();
      // Models whose outputs have no batch dimension (rank 1, or a graph that squeezes it) get one,
      // so every caller can rely on shape[0] == batch.
      if (batch == 1 && (views_[i].shape.empty() || views_[i].shape[0] != 1)) views_[i].shape.insert(views_[i].shape.begin(), 1);
    }
    return views_;
  }

 private:
  // A model runs batched when a batch of two distinct frames gives, frame by frame, the outputs of
  // two single-frame runs, and a batch of maxBatch_ gives outputs that lead with maxBatch_. Graphs
  // that fix the batch (a Reshape to a constant 1×N shape, as some exporters write) fail here.
  bool batchWorks(std::string& why) {
    const std::size_t n = input_.elementCount();
    std::vector<float> two(2 * n);
    for (std::size_t k = 0; k < n; ++k) {
      two[k] = static_cast<float>(k % 251) / 251.0f;
      two[n + k] = static_cast<float>((k * 7 + 3) % 127) / 127.0f - 0.5f;
    }
    std::vector<std::vector<float>> single[2];
    try {
      for (int f = 0; f < 2; ++f) {
        for (const TensorView& v : infer(two.data() + f * n, 1)) single[f].emplace_back(v.data, v.data + v.count());
      }
      const auto& outs = infer(two.data(), 2);
      for (std::size_t i = 0; i < outs.size(); ++i) {
        if (outs[i].shape.empty() || outs[i].shape[0] != 2) {
          why = "output " + outs[i].name + " does not lead with the batch";
          return false;
        }
        for (int f = 0; f < 2; ++f) {
          const TensorView s = frameSlice(outs[i], f);
          const auto& ref = single[f][i];
          if (s.count() != ref.size()) {
            why = "output " + outs[i].name + " changes size with the batch";
            return false;
          }
          for (std::size_t k = 0; k < ref.size(); ++k) {
            if (std::fabs(s.data[k] - ref[k]) > 1e-4f * (1.0f + std::fabs(ref[k]))) {
              why = "output " + outs[i].name + " of frame " + std::to_string(f) + " differs from a single-frame run";
              return false;
            }
          }
        }
      }
      if (maxBatch_ > 2) {
        std::vector<float> zeros(static_cast<std::size_t>(maxBatch_) * n, 0.0f);
        for (const TensorView& v : infer(zeros.data(), maxBatch_)) {
          if (v.shape.empty() || v.shape[0] != maxBatch_) {
            why = "output " + v.name + " does not lead with a batch of " + std::to_string(maxBatch_);
            return false;
          }
        }
      }
    } catch (const RunnerError& e) {
      why = e.what();
      return false;
    }
    return true;
  }

  InputSpec input_;
  int maxBatch_ = 1;
  cv::dnn::Net net_;
  std::vector<std::string> outNames_;
  std::vector<cv::Mat> outs_;
  std::vector<TensorView> views_;
};

}  // namespace

std::unique_ptr<Backend> createOpenCvBackend(const BackendConfig& config) {
  return std::make_unique<OpenCvBackend>(config);
}

}  // namespace facefleet
