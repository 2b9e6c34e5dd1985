// The TensorRT test double: a fake libnvinfer for one TensorRT header version (compiled once per
// header set). It implements the runtime, engine and execution-context interfaces the runner's
// backend uses, over the double's own engine files (trt_double.hpp), computes outputs with the
// engine's ONNX twin on the CPU, queues that work on the fake CUDA runtime's streams, and refuses
// calls that break TensorRT's documented preconditions the way TensorRT does: an error through the
// ILogger, then nullptr or false. Any TensorRT call it does not model aborts, naming the call
// (trt_double_stubs.hpp, generated from the release's NvInferImpl.h).
#include <NvInfer.h>
#include <cuda_runtime_api.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "fake_cuda_device.hpp"
#include "trt_double_core.hpp"
#include "trt_double_stubs.hpp"

#define FACEFLEET_DOUBLE_NAMED (NV_TENSORRT_MAJOR > 8 || (NV_TENSORRT_MAJOR == 8 && NV_TENSORRT_MINOR >= 5))
#define FACEFLEET_DOUBLE_PIMPL (NV_TENSORRT_MAJOR > 8 || (NV_TENSORRT_MAJOR == 8 && NV_TENSORRT_MINOR >= 6))

namespace nvinfer1 {
namespace facefleet_double {

using facefleet::trtdouble::EngineSpec;
using facefleet::trtdouble::TensorSpec;

void unimplementedCall(const char* method) noexcept {
  std::fprintf(stderr,
               "[tensorrt double] %s is not modelled by the TensorRT test double "
               "(packages/runner/tests/trt_double/fake_nvinfer.cpp); aborting\n",
               method);
  std::abort();
}

namespace {

std::string libraryVersionText() {
  return std::to_string(NV_TENSORRT_MAJOR) + "." + std::to_string(NV_TENSORRT_MINOR) + "." +
         std::to_string(NV_TENSORRT_PATCH);
}

void logError(ILogger* logger, const std::string& message) {
  if (logger) logger->log(ILogger::Severity::kERROR, message.c_str());
}

std::string dimsText(const Dims& d) {
  std::string s;
  for (int i = 0; i < d.nbDims; ++i) s += (i ? "x" : "") + std::to_string(d.d[i]);
  return s;
}

Dims toDims(const std::vector<int>& v) {
  Dims d{};
  d.nbDims = static_cast<int32_t>(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) d.d[i] = v[i];
  return d;
}

Dims noDims() {
  Dims d{};
  d.nbDims = -1;
  return d;
}

// What an engine and its execution contexts share.
struct EngineState {
  EngineSpec spec;
  std::unique_ptr<facefleet::trtdouble::Twin> twin;
  ILogger* logger = nullptr;

  int index(const char* name) const {
    if (!name) return -1;
    for (std::size_t i = 0; i < spec.tensors.size(); ++i)
      if (spec.tensors[i].name == name) return static_cast<int>(i);
    return -1;
  }
  bool valid(int i) const { return i >= 0 && i < static_cast<int>(spec.tensors.size()); }
  bool dynamic() const { return !spec.implicitBatch && spec.tensors.front().dims[0] == -1; }
  // One batch item's dims (a leading 1) and value count.
  std::vector<int> itemDims(int i) const {
    std::vector<int> d = spec.tensors[i].dims;
    if (spec.implicitBatch) d.insert(d.begin(), 1);
    else d[0] = 1;
    return d;
  }
  std::size_t itemCount(int i) const {
    std::size_t n = 1;
    for (int x : itemDims(i)) n *= static_cast<std::size_t>(x);
    return n;
  }
  int staticBatch() const { return spec.implicitBatch ? -1 : spec.tensors.front().dims[0]; }
};

class ContextImpl final : public VExecutionContextStub {
 public:
  ContextImpl(IExecutionContext* owner, ICudaEngine* engine, std::shared_ptr<EngineState> st)
      : owner_(owner), engine_(engine), st_(std::move(st)), addresses_(st_->spec.tensors.size(), nullptr) {
    batch_ = st_->dynamic() ? -1 : st_->staticBatch();
  }

  ICudaEngine const& getEngine() const noexcept override { return *engine_; }
#if FACEFLEET_DOUBLE_PIMPL
  IExecutionContext* getPImpl() noexcept override { return owner_; }
#endif

#if FACEFLEET_DOUBLE_NAMED
  bool setInputShape(char const* tensorName, Dims const& dims) noexcept override {
    return setShape(st_->index(tensorName), dims, "IExecutionContext::setInputShape");
  }
  Dims getTensorShape(char const* tensorName) const noexcept override { return shapeOf(st_->index(tensorName)); }
  bool setTensorAddress(char const* tensorName, void* data) noexcept override {
    const int i = st_->index(tensorName);
    if (!st_->valid(i)) {
      logError(st_->logger, std::string("IExecutionContext::setTensorAddress: '") + (tensorName ? tensorName : "") +
                                "' is not an I/O tensor of this engine");
      return false;
    }
    addresses_[i] = data;
    return true;
  }
  bool enqueueV3(cudaStream_t stream) noexcept override { return submit(stream, addresses_, batch_, "enqueueV3"); }
#else
  bool setBindingDimensions(int32_t bindingIndex, Dims dimensions) noexcept override {
    if (st_->spec.implicitBatch) {
      logError(st_->logger, "IExecutionContext::setBindingDimensions: the engine has an implicit batch dimension");
      return false;
    }
    return setShape(bindingIndex, dimensions, "IExecutionContext::setBindingDimensions");
  }
  Dims getBindingDimensions(int32_t bindingIndex) const noexcept override {
    if (st_->spec.implicitBatch) return st_->valid(bindingIndex) ? toDims(st_->spec.tensors[bindingIndex].dims) : noDims();
    return shapeOf(bindingIndex);
  }
  bool allInputDimensionsSpecified() const noexcept override { return batch_ > 0 || st_->spec.implicitBatch; }
  bool enqueueV2(void* const* bindings, cudaStream_t stream, cudaEvent_t*) noexcept override {
    if (st_->spec.implicitBatch) {
      logError(st_->logger, "IExecutionContext::enqueueV2: the engine has an implicit batch dimension; use enqueue()");
      facefleet::trtdouble::countEnqueue(false);
      return false;
    }
    return submit(stream, bindingList(bindings), batch_, "enqueueV2");
  }
  bool enqueue(int32_t batchSize, void* const* bindings, cudaStream_t stream, cudaEvent_t*) noexcept override {
    if (!st_->spec.implicitBatch) {
      logError(st_->logger, "IExecutionContext::enqueue: the engine was built with explicit batch; use enqueueV2()");
      facefleet::trtdouble::countEnqueue(false);
      return false;
    }
    if (batchSize < 1 || batchSize > st_->spec.batchMax) {
      logError(st_->logger, "IExecutionContext::enqueue: batch size " + std::to_string(batchSize) +
                                " outside [1, " + std::to_string(st_->spec.batchMax) + "] (getMaxBatchSize)");
      facefleet::trtdouble::countEnqueue(false);
      return false;
    }
    return submit(stream, bindingList(bindings), batchSize, "enqueue");
  }
#endif

 private:
  std::vector<void*> bindingList(void* const* bindings) const {
    std::vector<void*> list(st_->spec.tensors.size(), nullptr);
    if (bindings)
      for (std::size_t i = 0; i < list.size(); ++i) list[i] = bindings[i];
    return list;
  }

  bool setShape(int i, const Dims& dims, const std::string& call) {
    if (!st_->valid(i) || !st_->spec.tensors[i].input) {
      logError(st_->logger, call + ": tensor " + std::to_string(i) + " is not an input of this engine");
      return false;
    }
    const auto& want = st_->spec.tensors[i].dims;
    bool ok = dims.nbDims == static_cast<int32_t>(want.size());
    for (int k = 1; ok && k < dims.nbDims; ++k) ok = dims.d[k] == want[k];
    const auto b = ok ? static_cast<int>(dims.d[0]) : -1;
    if (ok && want[0] == -1) ok = b >= st_->spec.batchMin && b <= st_->spec.batchMax;
    else if (ok) ok = b == want[0];
    if (!ok) {
      logError(st_->logger, call + ": " + dimsText(dims) + " does not fit '" + st_->spec.tensors[i].name + "' (" +
                                dimsText(toDims(want)) + ", batch " + std::to_string(st_->spec.batchMin) + ".." +
                                std::to_string(st_->spec.batchMax) + " in optimization profile 0)");
      return false;
    }
    batch_ = b;
    return true;
  }

  Dims shapeOf(int i) const {
    if (!st_->valid(i)) return noDims();
    std::vector<int> d = st_->spec.tensors[i].dims;
    if (d[0] == -1 && batch_ > 0) d[0] = batch_;  // unknown (-1) until the input shape is set
    return toDims(d);
  }

  bool refuse(const std::string& message) {
    logError(st_->logger, message);
    facefleet::trtdouble::countEnqueue(false);
    return false;
  }

  bool submit(cudaStream_t stream, const std::vector<void*>& addresses, int batch, const std::string& call) {
    const auto& tensors = st_->spec.tensors;
    if (batch < 1)
      return refuse("IExecutionContext::" + call + ": Error Code 3: API Usage Error (the shape of input '" +
                    tensors.front().name + "' is not specified; a dynamic-shape engine needs " +
#if FACEFLEET_DOUBLE_NAMED
                    "setInputShape()"
#else
                    "setBindingDimensions()"
#endif
                    " before enqueue)");
    for (std::size_t i = 0; i < tensors.size(); ++i) {
      const std::size_t bytes = static_cast<std::size_t>(batch) * st_->itemCount(static_cast<int>(i)) * sizeof(float);
      if (!addresses[i])
        return refuse("IExecutionContext::" + call + ": Error Code 3: API Usage Error (the address of " +
                      (tensors[i].input ? "input" : "output") + " tensor '" + tensors[i].name + "' is not set" +
#if FACEFLEET_DOUBLE_NAMED
                      "; call setTensorAddress() before enqueueV3()"
#else
                      " in the bindings array"
#endif
                      ")");
      std::string why;
      if (!facefleet::fakecuda::deviceAccessible(addresses[i], bytes, &why))
        return refuse("IExecutionContext::" + call + ": the address of tensor '" + tensors[i].name + "' (" +
                      std::to_string(bytes) + " bytes) is " + why + ": the GPU cannot use it");
    }
    // The GPU writes the outputs when it gets to this work: until then, host-visible (mapped)
    // output memory holds nothing usable.
    for (std::size_t i = 0; i < tensors.size(); ++i)
      if (!tensors[i].input)
        facefleet::fakecuda::poison(addresses[i], static_cast<std::size_t>(batch) * st_->itemCount(static_cast<int>(i)) *
                                                      sizeof(float));
    std::shared_ptr<EngineState> st = st_;
    const cudaError_t queued = facefleet::fakecuda::enqueue(stream, [st, addresses, batch]() -> cudaError_t {
      std::vector<std::string> names;
      std::vector<std::size_t> counts;
      for (std::size_t i = 1; i < st->spec.tensors.size(); ++i) {
        names.push_back(st->spec.tensors[i].name);
        counts.push_back(st->itemCount(static_cast<int>(i)));
      }
      const std::size_t inCount = st->itemCount(0);
      for (int b = 0; b < batch; ++b) {
        std::vector<float*> outs;
        for (std::size_t k = 0; k < names.size(); ++k) outs.push_back(static_cast<float*>(addresses[k + 1]) + b * counts[k]);
        const std::string error =
            st->twin->run(static_cast<const float*>(addresses[0]) + b * inCount, st->itemDims(0), names, counts, outs);
        if (!error.empty()) {
          logError(st->logger, "[tensorrt double] inference failed: " + error);
          return cudaErrorLaunchFailure;
        }
      }
      return cudaSuccess;
    });
    if (queued != cudaSuccess) return refuse("IExecutionContext::" + call + ": invalid CUDA stream");
    facefleet::trtdouble::countEnqueue(true);
    return true;
  }

  IExecutionContext* owner_;
  ICudaEngine* engine_;
  std::shared_ptr<EngineState> st_;
  std::vector<void*> addresses_;
  int batch_ = -1;  // the batch of the shapes set so far; -1 = not specified
};

class Context final : public IExecutionContext {
 public:
  Context(ICudaEngine* engine, std::shared_ptr<EngineState> st) : impl_(this, engine, std::move(st)) { mImpl = &impl_; }

 private:
  ContextImpl impl_;
};

class EngineImpl final : public VCudaEngineStub {
 public:
  EngineImpl(ICudaEngine* owner, std::shared_ptr<EngineState> st) : owner_(owner), st_(std::move(st)) {}

#if FACEFLEET_DOUBLE_PIMPL
  ICudaEngine* getPImpl() noexcept override { return owner_; }
#endif
#if NV_TENSORRT_MAJOR >= 10
  IExecutionContext* createExecutionContext(ExecutionContextAllocationStrategy) noexcept override {
    return new Context(owner_, st_);
  }
#else
  IExecutionContext* createExecutionContext() noexcept override { return new Context(owner_, st_); }
#endif
  int32_t getNbOptimizationProfiles() const noexcept override { return 1; }
#if NV_TENSORRT_MAJOR < 11
  bool hasImplicitBatchDimension() const noexcept override { return st_->spec.implicitBatch; }
#endif

#if FACEFLEET_DOUBLE_NAMED
  int32_t getNbIOTensors() const noexcept override { return static_cast<int32_t>(st_->spec.tensors.size()); }
  char const* getIOTensorName(int32_t index) const noexcept override {
    return st_->valid(index) ? st_->spec.tensors[index].name.c_str() : nullptr;
  }
  TensorIOMode getTensorIOMode(char const* tensorName) const noexcept override {
    const int i = st_->index(tensorName);
    if (!st_->valid(i)) return TensorIOMode::kNONE;
    return st_->spec.tensors[i].input ? TensorIOMode::kINPUT : TensorIOMode::kOUTPUT;
  }
  DataType getTensorDataType(char const*) const noexcept override { return DataType::kFLOAT; }
  Dims getTensorShape(char const* tensorName) const noexcept override {
    const int i = st_->index(tensorName);
    return st_->valid(i) ? toDims(st_->spec.tensors[i].dims) : noDims();
  }
  Dims getProfileShape(char const* tensorName, int32_t profileIndex, OptProfileSelector select) const noexcept override {
    return profileDims(st_->index(tensorName), profileIndex, select);
  }
#else
  int32_t getNbBindings() const noexcept override { return static_cast<int32_t>(st_->spec.tensors.size()); }
  int32_t getBindingIndex(char const* name) const noexcept override { return st_->index(name); }
  char const* getBindingName(int32_t i) const noexcept override {
    return st_->valid(i) ? st_->spec.tensors[i].name.c_str() : nullptr;
  }
  bool bindingIsInput(int32_t i) const noexcept override { return st_->valid(i) && st_->spec.tensors[i].input; }
  Dims getBindingDimensions(int32_t i) const noexcept override {
    return st_->valid(i) ? toDims(st_->spec.tensors[i].dims) : noDims();
  }
  DataType getBindingDataType(int32_t) const noexcept override { return DataType::kFLOAT; }
  int32_t getMaxBatchSize() const noexcept override { return st_->spec.implicitBatch ? st_->spec.batchMax : 1; }
  Dims getProfileDimensions(int32_t bindingIndex, int32_t profileIndex, OptProfileSelector select) const noexcept override {
    return profileDims(bindingIndex, profileIndex, select);
  }
#endif

 private:
  Dims profileDims(int i, int profileIndex, OptProfileSelector select) const {
    if (!st_->valid(i) || !st_->spec.tensors[i].input || profileIndex != 0 || st_->spec.implicitBatch) return noDims();
    std::vector<int> d = st_->spec.tensors[i].dims;
    if (d[0] == -1)
      d[0] = select == OptProfileSelector::kMIN ? st_->spec.batchMin
             : select == OptProfileSelector::kOPT ? st_->spec.batchOpt
                                                  : st_->spec.batchMax;
    return toDims(d);
  }

  ICudaEngine* owner_;
  std::shared_ptr<EngineState> st_;
};

class Engine final : public ICudaEngine {
 public:
  explicit Engine(std::shared_ptr<EngineState> st) : impl_(this, std::move(st)) { mImpl = &impl_; }

 private:
  EngineImpl impl_;
};

class RuntimeImpl final : public VRuntimeStub {
 public:
  RuntimeImpl(IRuntime* owner, ILogger* logger) : owner_(owner), logger_(logger) {}

  using VRuntimeStub::deserializeCudaEngine;
#if NV_TENSORRT_MAJOR >= 10
  ICudaEngine* deserializeCudaEngine(void const* blob, std::size_t size) noexcept override { return load(blob, size); }
#else
  ICudaEngine* deserializeCudaEngine(void const* blob, std::size_t size, IPluginFactory*) noexcept override {
    return load(blob, size);
  }
#endif
  // TensorRT: "if getNbDLACores() returns 0, then this function does nothing".
  void setDLACore(int32_t dlaCore) noexcept override {
    if (getNbDLACores() > 0) dlaCore_ = dlaCore;
  }
  int32_t getDLACore() const noexcept override { return dlaCore_; }
  int32_t getNbDLACores() const noexcept override { return facefleet::fakecuda::device().dlaCores; }
  ILogger* getLogger() const noexcept override { return logger_; }
#if FACEFLEET_DOUBLE_PIMPL
  IRuntime* getPImpl() noexcept override { return owner_; }
#endif

 private:
  ICudaEngine* load(void const* blob, std::size_t size) {
    auto st = std::make_shared<EngineState>();
    st->logger = logger_;
    try {
      st->spec = facefleet::trtdouble::parseEngine(std::string(static_cast<const char*>(blob), size));
    } catch (const std::invalid_argument& e) {
      logError(logger_, std::string("IRuntime::deserializeCudaEngine: Error Code 1: Serialization (") + e.what() + ")");
      return nullptr;
    }
    const EngineSpec& spec = st->spec;
    if (spec.tensorrtVersion != libraryVersionText()) {
      // TensorRT's own wording for a plan from another release.
      logError(logger_, "The engine plan file is not compatible with this version of TensorRT, expecting library version " +
                            libraryVersionText() + " got " + spec.tensorrtVersion + ", please rebuild.");
      return nullptr;
    }
    if (spec.implicitBatch && NV_TENSORRT_MAJOR >= 10) {
      logError(logger_, "IRuntime::deserializeCudaEngine: implicit-batch engines do not exist in TensorRT " +
                            libraryVersionText());
      return nullptr;
    }
    if (spec.dlaCore >= 0) {
      const int cores = getNbDLACores();
      if (cores == 0) {
        logError(logger_, "IRuntime::deserializeCudaEngine: the engine was built for DLA core " +
                              std::to_string(spec.dlaCore) + " but this device has no DLA");
        return nullptr;
      }
      if (dlaCore_ < 0 || dlaCore_ >= cores) {
        logError(logger_, "IRuntime::deserializeCudaEngine: the engine was built for DLA (trtexec --useDLACore=" +
                              std::to_string(spec.dlaCore) + "): call IRuntime::setDLACore(0.." +
                              std::to_string(cores - 1) + ") before deserializing it (DLA core now " +
                              std::to_string(dlaCore_) + ")");
        return nullptr;
      }
    }
    try {
      st->twin = std::make_unique<facefleet::trtdouble::Twin>(spec.onnxPath);
    } catch (const std::runtime_error& e) {
      logError(logger_, std::string("IRuntime::deserializeCudaEngine: ") + e.what());
      return nullptr;
    }
    return new Engine(std::move(st));
  }

  IRuntime* owner_;
  ILogger* logger_;
  int32_t dlaCore_ = -1;  // TensorRT: -1 until set
};

class Runtime final : public IRuntime {
 public:
  explicit Runtime(ILogger* logger) : impl_(this, logger) { mImpl = &impl_; }

 private:
  RuntimeImpl impl_;
};

}  // namespace
}  // namespace facefleet_double
}  // namespace nvinfer1

extern "C" void* createInferRuntime_INTERNAL(void* logger, int32_t version) noexcept {
  auto* log = static_cast<nvinfer1::ILogger*>(logger);
  if (version != NV_TENSORRT_VERSION) {
    nvinfer1::facefleet_double::logError(
        log, "createInferRuntime: the application was compiled against TensorRT headers " + std::to_string(version) +
                 ", this library is " + std::to_string(NV_TENSORRT_VERSION));
    return nullptr;
  }
  return static_cast<nvinfer1::IRuntime*>(new nvinfer1::facefleet_double::Runtime(log));
}

extern "C" int32_t getInferLibVersion() noexcept { return NV_TENSORRT_VERSION; }

namespace facefleet {
namespace trtdouble {

std::string libraryVersion() { return nvinfer1::facefleet_double::libraryVersionText(); }
bool namedTensorApi() { return FACEFLEET_DOUBLE_NAMED; }
bool implicitBatchEngines() { return NV_TENSORRT_MAJOR < 10; }

}  // namespace trtdouble
}  // namespace facefleet
