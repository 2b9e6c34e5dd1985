// OpenCV DNN backend: ONNX on the CPU. OpenCV 4.6 rejects ONNX files with Identity nodes on weights;
// ONNX written directly (tools/gen-detectnet-onnx.mjs, the BlazeFace Barracuda exports) loads.
#include <opencv2/core.hpp>
#include <opencv2/dnn.hpp>

#include <algorithm>
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
    if (input_.layout == Layout::NCHW) dims_ = {1, input_.channels, input_.height, input_.width};
    else dims_ = {1, input_.height, input_.width, input_.channels};
    // One forward pass now, so a model that does not accept this input fails at load time.
    try {
      std::vector<float> zeros(input_.elementCount(), 0.0f);
      infer(zeros.data());
    } catch (const RunnerError& e) {
      throw RunnerError(ErrorCode::ModelLoad,
                        "model '" + cfg.modelPath + "' does not accept the configured input: " + e.what());
    }
  }

  const char* name() const override { return "opencv"; }

  const std::vector<TensorView>& infer(const float* input) override {
    try {
      cv::Mat blob(4, dims_.data(), CV_32F, const_cast<float*>(input));
      net_.setInput(blob);
      net_.forward(outs_, outNames_);
    } catch (const cv::Exception& e) {
      std::string shape;
      for (int d : dims_) shape += (shape.empty() ? "" : "x") + std::to_string(d);
      throw RunnerError(ErrorCode::Runtime, "OpenCV DNN forward failed for input " + shape + ": " + e.what());
    }
    views_.resize(outs_.size());
    for (std::size_t i = 0; i < outs_.size(); ++i) {
      cv::Mat& m = outs_[i];
      if (m.type() != CV_32F || !m.isContinuous()) m = m.clone(), m.convertTo(m, CV_32F);
      views_[i].name = outNames_[i];
      views_[i].shape.assign(m.size.p, m.size.p + m.dims);
      views_[i].data = m.ptr<float>();
    }
    return views_;
  }

 private:
  InputSpec input_;
  cv::dnn::Net net_;
  std::vector<int> dims_;
  std::vector<std::string> outNames_;
  std::vector<cv::Mat> outs_;
  std::vector<TensorView> views_;
};

}  // namespace

std::unique_ptr<Backend> createOpenCvBackend(const BackendConfig& config) {
  return std::make_unique<OpenCvBackend>(config);
}

}  // namespace facefleet
