#include "trt_double_core.hpp"

#include <opencv2/core.hpp>
#include <opencv2/dnn.hpp>

#include <atomic>
#include <cstring>
#include <sstream>
#include <stdexcept>

namespace facefleet {
namespace trtdouble {
namespace {

std::atomic<long> enqueued{0}, refused{0}, inferences{0};

std::string dimsText(const std::vector<int>& dims) {
  std::string s;
  for (int d : dims) s += (s.empty() ? "" : "x") + std::to_string(d);
  return s;
}

std::vector<int> parseDims(const std::string& text, const std::string& where) {
  std::vector<int> dims;
  std::istringstream in(text);
  std::string part;
  while (std::getline(in, part, 'x')) {
    try {
      std::size_t used = 0;
      const int d = std::stoi(part, &used);
      if (used != part.size() || d == 0 || d < -1) throw std::invalid_argument(part);
      dims.push_back(d);
    } catch (const std::exception&) {
      throw std::invalid_argument(where + ": '" + text + "' is not a shape like -1x3x416x736");
    }
  }
  if (dims.empty() || dims.size() > 8) throw std::invalid_argument(where + ": '" + text + "' has no or too many dimensions");
  return dims;
}

}  // namespace

std::string engineText(const EngineSpec& spec) {
  std::ostringstream out;
  out << "facefleet-trt-double-engine 1\n"
      << "tensorrt " << spec.tensorrtVersion << "\n"
      << "onnx " << spec.onnxPath << "\n"
      << "dla-core " << spec.dlaCore << "\n"
      << "implicit-batch " << (spec.implicitBatch ? 1 : 0) << "\n"
      << "profile " << spec.batchMin << " " << spec.batchOpt << " " << spec.batchMax << "\n";
  for (const auto& t : spec.tensors) out << (t.input ? "input " : "output ") << t.name << " " << dimsText(t.dims) << "\n";
  return out.str();
}

EngineSpec parseEngine(const std::string& text) {
  EngineSpec spec;
  std::istringstream in(text);
  std::string line;
  int lineNo = 0;
  bool header = false, sawProfile = false;
  while (std::getline(in, line)) {
    ++lineNo;
    const std::string where = "engine line " + std::to_string(lineNo);
    if (line.empty()) continue;
    std::istringstream words(line);
    std::string key;
    words >> key;
    if (!header) {
      std::string version;
      words >> version;
      if (key != "facefleet-trt-double-engine" || version != "1")
        throw std::invalid_argument(where + ": not a facefleet TensorRT double engine (no 'facefleet-trt-double-engine 1')");
      header = true;
      continue;
    }
    if (key == "tensorrt") {
      words >> spec.tensorrtVersion;
    } else if (key == "onnx") {
      std::getline(words >> std::ws, spec.onnxPath);
    } else if (key == "dla-core") {
      if (!(words >> spec.dlaCore) || spec.dlaCore < -1) throw std::invalid_argument(where + ": dla-core must be -1 or a core index");
    } else if (key == "implicit-batch") {
      int v = 0;
      if (!(words >> v) || (v != 0 && v != 1)) throw std::invalid_argument(where + ": implicit-batch must be 0 or 1");
      spec.implicitBatch = v == 1;
    } else if (key == "profile") {
      if (!(words >> spec.batchMin >> spec.batchOpt >> spec.batchMax) || spec.batchMin < 1 ||
          spec.batchOpt < spec.batchMin || spec.batchMax < spec.batchOpt)
        throw std::invalid_argument(where + ": profile needs 1 <= min <= opt <= max");
      sawProfile = true;
    } else if (key == "input" || key == "output") {
      TensorSpec t;
      std::string dims;
      t.input = key == "input";
      if (!(words >> t.name >> dims)) throw std::invalid_argument(where + ": expected '" + key + " NAME DIMS'");
      t.dims = parseDims(dims, where);
      for (std::size_t i = 1; i < t.dims.size(); ++i)
        if (t.dims[i] < 0) throw std::invalid_argument(where + ": only the batch dimension may be dynamic (-1)");
      if (t.input && !spec.tensors.empty() && !spec.tensors.back().input)
        throw std::invalid_argument(where + ": inputs come before outputs");
      spec.tensors.push_back(t);
    } else {
      throw std::invalid_argument(where + ": unknown key '" + key + "'");
    }
  }
  if (!header) throw std::invalid_argument("engine: empty or not a facefleet TensorRT double engine");
  if (spec.tensorrtVersion.empty()) throw std::invalid_argument("engine: no 'tensorrt' line");
  if (spec.onnxPath.empty()) throw std::invalid_argument("engine: no 'onnx' line");
  if (!sawProfile) throw std::invalid_argument("engine: no 'profile' line");
  int inputs = 0, outputs = 0;
  for (const auto& t : spec.tensors) {
    (t.input ? inputs : outputs) += 1;
    const bool dynamic = t.dims[0] == -1;
    if (spec.implicitBatch && dynamic) throw std::invalid_argument("engine: implicit-batch tensors have no batch dimension");
  }
  if (inputs != 1 || outputs < 1) throw std::invalid_argument("engine: the double models one input and at least one output");
  return spec;
}

void countEnqueue(bool accepted) { ++(accepted ? enqueued : refused); }

Calls calls() { return Calls{enqueued.load(), refused.load(), inferences.load()}; }

void resetCalls() {
  enqueued = 0;
  refused = 0;
  inferences = 0;
}

struct Twin::Impl {
  cv::dnn::Net net;
};

Twin::Twin(const std::string& onnxPath) : impl_(new Impl) {
  try {
    impl_->net = cv::dnn::readNetFromONNX(onnxPath);
  } catch (const cv::Exception& e) {
    throw std::runtime_error("ONNX twin '" + onnxPath + "' cannot be loaded: " + e.what());
  }
  if (impl_->net.empty()) throw std::runtime_error("ONNX twin '" + onnxPath + "' is empty");
  impl_->net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
  impl_->net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
}

Twin::~Twin() = default;

std::string Twin::run(const float* input, const std::vector<int>& itemDims, const std::vector<std::string>& names,
                      const std::vector<std::size_t>& counts, const std::vector<float*>& outputs) {
  std::vector<cv::Mat> outs;
  try {
    cv::Mat blob(static_cast<int>(itemDims.size()), itemDims.data(), CV_32F, const_cast<float*>(input));
    impl_->net.setInput(blob);
    impl_->net.forward(outs, names);
  } catch (const cv::Exception& e) {
    return std::string("ONNX twin forward failed: ") + e.what();
  }
  for (std::size_t k = 0; k < names.size(); ++k) {
    cv::Mat m = outs[k].isContinuous() ? outs[k] : outs[k].clone();
    if (m.type() != CV_32F || m.total() != counts[k])
      return "ONNX twin output '" + names[k] + "' has " + std::to_string(m.total()) + " values, the engine declares " +
             std::to_string(counts[k]);
    std::memcpy(outputs[k], m.ptr<float>(), counts[k] * sizeof(float));
  }
  ++inferences;
  return "";
}

}  // namespace trtdouble
}  // namespace facefleet
