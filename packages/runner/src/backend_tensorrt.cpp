// TensorRT backend: deserializes an engine built by trtexec (on the device it runs on) and runs it
// on the GPU. Compiled against the TensorRT headers of every JetPack release in CI (see
// cmake/TensorRtMatrix.cmake) with -Werror, deprecations included, and run there against a test
// double (tests/trt_double); on a Jetson it links the real libnvinfer (FACEFLEET_TENSORRT=AUTO|ON).
//
// API facts relied on (NvInferRuntime.h of each release, ../shared/third_party/tensorrt):
//  - TensorRT < 8.5: I/O by binding index (getNbBindings, bindingIsInput, getBindingDimensions),
//    dynamic input dims through setBindingDimensions, execution with enqueueV2(bindings, stream);
//    implicit-batch engines (UFF/etlt DetectNet_v2 through tao-converter) need enqueue(batch, ...).
//  - TensorRT >= 8.5: the named-tensor API (getNbIOTensors, getIOTensorName, getTensorIOMode,
//    getTensorShape, setInputShape, setTensorAddress, enqueueV3) exists and every binding-index call
//    is deprecated (8.5, 8.6) or gone (10, 11); so is enqueue(batch, ...), which is why this backend
//    refuses implicit-batch engines there (hasImplicitBatchDimension is itself deprecated in 10 and
//    gone in 11, where implicit batch no longer exists).
//  - Objects are released with delete (destroy() deprecated in 8.0, removed in 10.0).
#include <NvInfer.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "facefleet/backend.hpp"
#include "facefleet/errors.hpp"

#if NV_TENSORRT_MAJOR > 8 || (NV_TENSORRT_MAJOR == 8 && NV_TENSORRT_MINOR >= 5)
#define FACEFLEET_TRT_NAMED_TENSORS 1
#else
#define FACEFLEET_TRT_NAMED_TENSORS 0
#endif

namespace facefleet {
namespace {

// Warnings and errors go to stderr; the last error is kept so a failed call can say why.
class Logger final : public nvinfer1::ILogger {
 public:
  void log(Severity severity, const char* msg) noexcept override {
    if (severity > Severity::kWARNING) return;
    std::fprintf(stderr, "[tensorrt] %s\n", msg);
    if (severity > Severity::kERROR) return;
    try {
      std::lock_guard<std::mutex> lock(m_);
      lastError_ = msg;
    } catch (...) {  // log() must not throw; losing the text only loses detail
    }
  }
  // ": <last error>" (and forgets it), or "" when TensorRT reported none.
  std::string takeLastError() {
    std::lock_guard<std::mutex> lock(m_);
    std::string e;
    e.swap(lastError_);
    return e.empty() ? e : ": " + e;
  }

 private:
  std::mutex m_;
  std::string lastError_;
};

void check(cudaError_t e, const char* what, ErrorCode code) {
  if (e != cudaSuccess) throw RunnerError(code, std::string(what) + ": " + cudaGetErrorString(e));
}

std::vector<int> toVector(const nvinfer1::Dims& d) { return std::vector<int>(d.d, d.d + d.nbDims); }

std::string dimsText(const std::vector<int>& d) {
  std::string s;
  for (int x : d) s += (s.empty() ? "" : "x") + std::to_string(x);
  return s;
}

std::string versionText() {
  return std::to_string(NV_TENSORRT_MAJOR) + "." + std::to_string(NV_TENSORRT_MINOR) + "." +
         std::to_string(NV_TENSORRT_PATCH);
}

class TensorRtBackend final : public Backend {
 public:
  explicit TensorRtBackend(const BackendConfig& cfg) : input_(cfg.input) {
    std::ifstream f(cfg.modelPath, std::ios::binary);
    if (!f) throw RunnerError(ErrorCode::ModelLoad, "engine file '" + cfg.modelPath + "' cannot be read");
    const std::vector<char> plan((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    runtime_.reset(nvinfer1::createInferRuntime(logger_));
    if (!runtime_)
      throw RunnerError(ErrorCode::ModelLoad,
                        "createInferRuntime failed (TensorRT " + versionText() + ")" + logger_.takeLastError());
    // An engine built for a DLA (trtexec --useDLACore=N) deserializes only once the runtime has a
    // DLA core; TensorRT ignores setDLACore on a device without DLA, so that is checked here.
    if (cfg.dlaCore >= 0) {
      const int cores = runtime_->getNbDLACores();
      if (cfg.dlaCore >= cores)
        throw RunnerError(ErrorCode::ModelLoad, "--dla-core " + std::to_string(cfg.dlaCore) + ": this device has " +
                                                    std::to_string(cores) + " DLA core" + (cores == 1 ? "" : "s"));
      runtime_->setDLACore(cfg.dlaCore);
    }
    engine_.reset(runtime_->deserializeCudaEngine(plan.data(), plan.size()));
    if (!engine_)
      throw RunnerError(ErrorCode::ModelLoad, "cannot deserialize '" + cfg.modelPath +
                                                  "' (engines only run on the GPU and TensorRT version that built "
                                                  "them; this is TensorRT " + versionText() + ")" +
                                                  logger_.takeLastError());
    context_.reset(engine_->createExecutionContext());
    if (!context_) throw RunnerError(ErrorCode::ModelLoad, "createExecutionContext failed");
    check(cudaStreamCreate(&stream_), "cudaStreamCreate", ErrorCode::ModelLoad);
    collectTensors();
    for (auto& t : tensors_) {
      if (t.input) {
        const std::size_t expect = input_.elementCount();
        if (t.count != expect)
          throw RunnerError(ErrorCode::ModelLoad, "engine input '" + t.name + "' is " + dimsText(t.shape) +
                                                      ", the configured input has " + std::to_string(expect) +
                                                      " values (" + std::to_string(input_.channels) + "x" +
                                                      std::to_string(input_.height) + "x" +
                                                      std::to_string(input_.width) + ")");
      }
      check(cudaMalloc(&t.device, t.count * sizeof(float)), "cudaMalloc", ErrorCode::ModelLoad);
      if (!t.input) t.host.resize(t.count);
    }
    bindAddresses();
    for (const auto& wanted : cfg.outputNames) {
      bool found = false;
      for (const auto& t : tensors_) found = found || (!t.input && t.name == wanted);
      if (!found) throw RunnerError(ErrorCode::ModelLoad, "output-blob-names: '" + wanted + "' is not an engine output");
    }
    for (const auto& t : tensors_) {
      if (t.input) continue;
      if (!cfg.outputNames.empty() &&
          std::find(cfg.outputNames.begin(), cfg.outputNames.end(), t.name) == cfg.outputNames.end())
        continue;
      views_.push_back(TensorView{t.name, t.shape, t.host.data()});
    }
  }

  ~TensorRtBackend() override {
    for (auto& t : tensors_)
      if (t.device) cudaFree(t.device);
    if (stream_) cudaStreamDestroy(stream_);
    context_.reset();
    engine_.reset();
    runtime_.reset();
  }

  const char* name() const override { return "tensorrt"; }

  const std::vector<TensorView>& infer(const float* input) override {
    for (auto& t : tensors_)
      if (t.input)
        check(cudaMemcpyAsync(t.device, input, t.count * sizeof(float), cudaMemcpyHostToDevice, stream_),
              "cudaMemcpyAsync (input)", ErrorCode::Runtime);
    bool ok = false;
#if FACEFLEET_TRT_NAMED_TENSORS
    ok = context_->enqueueV3(stream_);
#else
    std::vector<void*> bindings(tensors_.size());
    for (const auto& t : tensors_) bindings[t.index] = t.device;
    ok = implicitBatch_ ? context_->enqueue(1, bindings.data(), stream_, nullptr)
                        : context_->enqueueV2(bindings.data(), stream_, nullptr);
#endif
    if (!ok) throw RunnerError(ErrorCode::Runtime, "TensorRT enqueue failed" + logger_.takeLastError());
    for (auto& t : tensors_)
      if (!t.input)
        check(cudaMemcpyAsync(t.host.data(), t.device, t.count * sizeof(float), cudaMemcpyDeviceToHost, stream_),
              "cudaMemcpyAsync (output)", ErrorCode::Runtime);
    check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize", ErrorCode::Runtime);
    return views_;
  }

 private:
  struct Tensor {
    std::string name;
    int index = 0;  // binding index (TensorRT < 8.5)
    bool input = false;
    std::vector<int> shape;
    std::size_t count = 0;
    void* device = nullptr;
    std::vector<float> host;
  };

  // Dynamic input dimensions (-1) are fixed to the configured input: batch 1, C,H,W or H,W,C.
  nvinfer1::Dims concreteInputDims(nvinfer1::Dims d) const {
    const int chw[3] = {input_.channels, input_.height, input_.width};
    const int hwc[3] = {input_.height, input_.width, input_.channels};
    const int* want = input_.layout == Layout::NCHW ? chw : hwc;
    const int offset = d.nbDims - 3;
    for (int i = 0; i < d.nbDims; ++i)
      if (d.d[i] < 0) d.d[i] = i < offset ? 1 : want[i - offset];
    return d;
  }

  static std::size_t countOf(const std::vector<int>& shape) {
    std::size_t n = 1;
    for (int x : shape) n *= static_cast<std::size_t>(x > 0 ? x : 1);
    return n;
  }

  void collectTensors() {
#if FACEFLEET_TRT_NAMED_TENSORS
#if NV_TENSORRT_MAJOR < 10
    if (engine_->hasImplicitBatchDimension())
      throw RunnerError(ErrorCode::ModelLoad,
                        "the engine has an implicit batch dimension, which TensorRT " + versionText() +
                            " runs only through deprecated calls; rebuild it with explicit batch (from ONNX)");
#endif
    const int n = engine_->getNbIOTensors();
    for (int i = 0; i < n; ++i) {
      Tensor t;
      t.name = engine_->getIOTensorName(i);
      t.index = i;
      t.input = engine_->getTensorIOMode(t.name.c_str()) == nvinfer1::TensorIOMode::kINPUT;
      if (engine_->getTensorDataType(t.name.c_str()) != nvinfer1::DataType::kFLOAT)
        throw RunnerError(ErrorCode::ModelLoad, "engine tensor '" + t.name + "' is not float32 (build with float I/O)");
      if (t.input) {
        const nvinfer1::Dims d = concreteInputDims(engine_->getTensorShape(t.name.c_str()));
        if (!context_->setInputShape(t.name.c_str(), d))
          throw RunnerError(ErrorCode::ModelLoad,
                            "engine rejects input shape for '" + t.name + "'" + logger_.takeLastError());
      }
      tensors_.push_back(t);
    }
    for (auto& t : tensors_) {
      t.shape = toVector(context_->getTensorShape(t.name.c_str()));
      t.count = countOf(t.shape);
    }
    // Addresses are set after allocation, in bindAddresses().
#else
    implicitBatch_ = engine_->hasImplicitBatchDimension();
    const int n = engine_->getNbBindings();
    for (int i = 0; i < n; ++i) {
      Tensor t;
      t.name = engine_->getBindingName(i);
      t.index = i;
      t.input = engine_->bindingIsInput(i);
      if (engine_->getBindingDataType(i) != nvinfer1::DataType::kFLOAT)
        throw RunnerError(ErrorCode::ModelLoad, "engine binding '" + t.name + "' is not float32 (build with float I/O)");
      if (t.input && !implicitBatch_) {
        const nvinfer1::Dims d = concreteInputDims(engine_->getBindingDimensions(i));
        if (!context_->setBindingDimensions(i, d))
          throw RunnerError(ErrorCode::ModelLoad, "engine rejects input shape for '" + t.name + "'");
      }
      tensors_.push_back(t);
    }
    for (auto& t : tensors_) {
      t.shape = toVector(implicitBatch_ ? engine_->getBindingDimensions(t.index) : context_->getBindingDimensions(t.index));
      t.count = countOf(t.shape);
    }
#endif
  }

  // The named-tensor API binds device addresses by name, once the buffers exist.
  void bindAddresses() {
#if FACEFLEET_TRT_NAMED_TENSORS
    for (const auto& t : tensors_)
      if (!context_->setTensorAddress(t.name.c_str(), t.device))
        throw RunnerError(ErrorCode::ModelLoad, "setTensorAddress failed for '" + t.name + "'" + logger_.takeLastError());
#endif
  }

  Logger logger_;
  InputSpec input_;
  std::unique_ptr<nvinfer1::IRuntime> runtime_;
  std::unique_ptr<nvinfer1::ICudaEngine> engine_;
  std::unique_ptr<nvinfer1::IExecutionContext> context_;
  cudaStream_t stream_ = nullptr;
  bool implicitBatch_ = false;
  std::vector<Tensor> tensors_;
  std::vector<TensorView> views_;
};

}  // namespace

bool tensorRtCompiledIn() { return true; }

std::unique_ptr<Backend> createTensorRtBackend(const BackendConfig& config) {
  return std::make_unique<TensorRtBackend>(config);
}

}  // namespace facefleet
