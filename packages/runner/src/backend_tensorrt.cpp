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
#include <cstring>
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

// Host and device addresses of one tensor's memory in one slot. Zero-copy (integrated GPU): one
// mapped allocation, `device` its device view. Discrete GPU: pinned host memory and device memory.
struct Buffer {
  void* host = nullptr;
  void* device = nullptr;
};

class TensorRtBackend final : public Backend {
 public:
  explicit TensorRtBackend(const BackendConfig& cfg) : input_(cfg.input), maxBatch_(std::max(1, cfg.maxBatch)) {
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
    if (!context_) throw RunnerError(ErrorCode::ModelLoad, "createExecutionContext failed" + logger_.takeLastError());
    chooseMemory();
    collectTensors();
    limitBatch();
    setBatch(1, ErrorCode::ModelLoad);
    for (const auto& t : tensors_) {
      if (!t.input) continue;
      const std::size_t expect = input_.elementCount();
      if (t.itemCount != expect)
        throw RunnerError(ErrorCode::ModelLoad, "engine input '" + t.name + "' is " + dimsText(t.shape) +
                                                    ", the configured input has " + std::to_string(expect) +
                                                    " values (" + std::to_string(input_.channels) + "x" +
                                                    std::to_string(input_.height) + "x" +
                                                    std::to_string(input_.width) + ")");
    }
    for (const auto& wanted : cfg.outputNames) {
      bool found = false;
      for (const auto& t : tensors_) found = found || (!t.input && t.name == wanted);
      if (!found) throw RunnerError(ErrorCode::ModelLoad, "output-blob-names: '" + wanted + "' is not an engine output");
    }
    for (std::size_t i = 0; i < tensors_.size(); ++i)
      if (!tensors_[i].input && (cfg.outputNames.empty() || std::find(cfg.outputNames.begin(), cfg.outputNames.end(),
                                                                      tensors_[i].name) != cfg.outputNames.end()))
        viewed_.push_back(i);
    check(cudaStreamCreate(&compute_), "cudaStreamCreate", ErrorCode::ModelLoad);
    if (!zeroCopy_) check(cudaStreamCreate(&copy_), "cudaStreamCreate", ErrorCode::ModelLoad);
    for (Slot& slot : slots_) allocate(slot);
  }

  ~TensorRtBackend() override {
    // Queued work finishes before its memory goes (cudaStreamDestroy waits for it).
    if (copy_) cudaStreamDestroy(copy_);
    if (compute_) cudaStreamDestroy(compute_);
    for (Slot& slot : slots_) {
      for (Buffer& b : slot.buffers) {
        if (b.host) cudaFreeHost(b.host);
        if (!zeroCopy_ && b.device) cudaFree(b.device);
      }
      if (slot.copied) cudaEventDestroy(slot.copied);
      if (slot.done) cudaEventDestroy(slot.done);
    }
    context_.reset();
    engine_.reset();
    runtime_.reset();
  }

  const char* name() const override { return "tensorrt"; }

  const std::vector<TensorView>& infer(const float* input, int batch) override {
    submit(input, batch);
    return collect();
  }

  int maxBatch() const override { return maxBatch_; }
  int inFlight() const override { return kSlots; }

  // Zero-copy: the input goes straight into mapped memory the GPU reads; outputs are written into
  // mapped memory the host reads after the slot's event. Discrete: input into pinned memory, copied
  // to the device on the copy stream (overlapping the other slot's inference), inference on the
  // compute stream once the copy's event fired, outputs copied back to pinned memory.
  void submit(const float* input, int batch) override {
    if (pending_ == kSlots)
      throw RunnerError(ErrorCode::Runtime, "tensorrt backend: " + std::to_string(kSlots) + " batches already in flight");
    if (batch < 1 || batch > maxBatch_)
      throw RunnerError(ErrorCode::Runtime, "tensorrt backend: batch " + std::to_string(batch) + " outside 1.." +
                                                std::to_string(maxBatch_));
    Slot& slot = slots_[next_];
    setBatch(batch, ErrorCode::Runtime);
    const std::size_t inBytes = bytesOf(inputIndex_, batch);
    std::memcpy(slot.buffers[inputIndex_].host, input, inBytes);
    if (!zeroCopy_) {
      check(cudaMemcpyAsync(slot.buffers[inputIndex_].device, slot.buffers[inputIndex_].host, inBytes,
                            cudaMemcpyHostToDevice, copy_),
            "cudaMemcpyAsync (input)", ErrorCode::Runtime);
      check(cudaEventRecord(slot.copied, copy_), "cudaEventRecord", ErrorCode::Runtime);
      check(cudaStreamWaitEvent(compute_, slot.copied, 0), "cudaStreamWaitEvent", ErrorCode::Runtime);
    }
    enqueue(slot, batch);
    if (!zeroCopy_)
      for (std::size_t i : viewed_)
        check(cudaMemcpyAsync(slot.buffers[i].host, slot.buffers[i].device, bytesOf(i, batch), cudaMemcpyDeviceToHost,
                              compute_),
              "cudaMemcpyAsync (output)", ErrorCode::Runtime);
    check(cudaEventRecord(slot.done, compute_), "cudaEventRecord", ErrorCode::Runtime);
    slot.batch = batch;
    next_ = (next_ + 1) % kSlots;
    ++pending_;
  }

  // Outputs are read only after the slot's event: until then the GPU may not have written them.
  const std::vector<TensorView>& collect() override {
    if (pending_ == 0) throw RunnerError(ErrorCode::Runtime, "tensorrt backend: collect() without submit()");
    Slot& slot = slots_[(next_ + kSlots - pending_) % kSlots];
    --pending_;
    check(cudaEventSynchronize(slot.done), "cudaEventSynchronize", ErrorCode::Runtime);
    slot.views.clear();
    for (std::size_t i : viewed_)
      slot.views.push_back(TensorView{tensors_[i].name, shapeOf(i, slot.batch), static_cast<float*>(slot.buffers[i].host)});
    return slot.views;
  }

 private:
  static constexpr int kSlots = 2;

  struct Tensor {
    std::string name;
    int index = 0;  // binding index (TensorRT < 8.5)
    bool input = false;
    std::vector<int> shape;  // as the engine reports it; -1 = dynamic (the batch)
    bool batchDim = false;   // shape[0] is the batch (explicit batch); false: implicit batch
    std::size_t itemCount = 0;  // values per batch item
  };

  struct Slot {
    std::vector<Buffer> buffers;  // per tensor, sized for the largest batch
    cudaEvent_t copied = nullptr;  // discrete: the input is on the device
    cudaEvent_t done = nullptr;    // outputs are in host-readable memory
    int batch = 0;
    std::vector<TensorView> views;
  };

  // cudaDeviceProp::integrated: Jetsons share DRAM between CPU and GPU, so mapped host memory costs
  // no copy at all (what jetson-inference and DeepStream do); discrete GPUs read pinned memory over
  // PCIe, so they get device buffers and asynchronous copies instead.
  void chooseMemory() {
    int device = 0;
    cudaDeviceProp prop{};
    check(cudaGetDevice(&device), "cudaGetDevice", ErrorCode::ModelLoad);
    check(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties", ErrorCode::ModelLoad);
    zeroCopy_ = prop.integrated != 0 && prop.canMapHostMemory != 0;
  }

  void allocate(Slot& slot) {
    slot.buffers.resize(tensors_.size());
    for (std::size_t i = 0; i < tensors_.size(); ++i) {
      Buffer& b = slot.buffers[i];
      const std::size_t bytes = bytesOf(i, maxBatch_);
      if (zeroCopy_) {
        check(cudaHostAlloc(&b.host, bytes, cudaHostAllocMapped), "cudaHostAlloc (mapped)", ErrorCode::ModelLoad);
        check(cudaHostGetDevicePointer(&b.device, b.host, 0), "cudaHostGetDevicePointer", ErrorCode::ModelLoad);
      } else {
        check(cudaHostAlloc(&b.host, bytes, cudaHostAllocDefault), "cudaHostAlloc (pinned)", ErrorCode::ModelLoad);
        check(cudaMalloc(&b.device, bytes), "cudaMalloc", ErrorCode::ModelLoad);
      }
    }
    check(cudaEventCreateWithFlags(&slot.copied, cudaEventDisableTiming), "cudaEventCreate", ErrorCode::ModelLoad);
    check(cudaEventCreateWithFlags(&slot.done, cudaEventDisableTiming), "cudaEventCreate", ErrorCode::ModelLoad);
  }

  std::size_t bytesOf(std::size_t i, int batch) const {
    return tensors_[i].itemCount * static_cast<std::size_t>(batch) * sizeof(float);
  }

  // Outputs lead with the batch (Backend contract), implicit-batch engines' included.
  std::vector<int> shapeOf(std::size_t i, int batch) const {
    std::vector<int> s = tensors_[i].shape;
    if (tensors_[i].batchDim) s[0] = batch;
    else s.insert(s.begin(), batch);
    return s;
  }

  // The batches this engine runs: its optimization profile (named tensors, explicit-batch bindings)
  // or getMaxBatchSize() (implicit batch), capped by what was asked for. A profile that needs more
  // than one frame, or a fixed batch other than 1, cannot run the runner's single frames.
  void limitBatch() {
    const Tensor& in = tensors_[inputIndex_];
    int lo = 1, hi = 1;
#if FACEFLEET_TRT_NAMED_TENSORS
    const nvinfer1::Dims d = engine_->getTensorShape(in.name.c_str());
    if (d.nbDims > 0 && d.d[0] < 0) {
      lo = static_cast<int>(engine_->getProfileShape(in.name.c_str(), 0, nvinfer1::OptProfileSelector::kMIN).d[0]);
      hi = static_cast<int>(engine_->getProfileShape(in.name.c_str(), 0, nvinfer1::OptProfileSelector::kMAX).d[0]);
    } else if (d.nbDims > 0) {
      lo = hi = static_cast<int>(d.d[0]);
    }
#else
    if (implicitBatch_) {
      hi = engine_->getMaxBatchSize();
    } else {
      const nvinfer1::Dims d = engine_->getBindingDimensions(in.index);
      if (d.nbDims > 0 && d.d[0] < 0) {
        lo = engine_->getProfileDimensions(in.index, 0, nvinfer1::OptProfileSelector::kMIN).d[0];
        hi = engine_->getProfileDimensions(in.index, 0, nvinfer1::OptProfileSelector::kMAX).d[0];
      } else if (d.nbDims > 0) {
        lo = hi = d.d[0];
      }
    }
#endif
    if (lo != 1 || hi < 1)
      throw RunnerError(ErrorCode::ModelLoad, "engine input '" + in.name + "' takes batches of " + std::to_string(lo) +
                                                  ".." + std::to_string(hi) +
                                                  " frames; build it with a profile from batch 1 (trtexec --minShapes)");
    maxBatch_ = std::min(maxBatch_, hi);
  }

  // The engine's input dims with every dynamic (-1) dim fixed: the batch, then C,H,W or H,W,C.
  nvinfer1::Dims inputDims(nvinfer1::Dims d, int batch) const {
    const int chw[3] = {input_.channels, input_.height, input_.width};
    const int hwc[3] = {input_.height, input_.width, input_.channels};
    const int* want = input_.layout == Layout::NCHW ? chw : hwc;
    const int offset = d.nbDims - 3;
    for (int i = 0; i < d.nbDims; ++i)
      if (d.d[i] < 0) d.d[i] = i < offset ? batch : want[i - offset];
    return d;
  }

  static bool isDynamic(const nvinfer1::Dims& d) {
    for (int i = 0; i < d.nbDims; ++i)
      if (d.d[i] < 0) return true;
    return false;
  }

  // Values per batch item: the product of the dims after the batch dim (all dims when implicit).
  // A dynamic non-batch dim is taken from the configured input (inputs) or the context (outputs).
  static std::size_t itemCountOf(const std::vector<int>& shape, bool batchDim) {
    std::size_t n = 1;
    for (std::size_t k = batchDim ? 1 : 0; k < shape.size(); ++k) n *= static_cast<std::size_t>(shape[k] > 0 ? shape[k] : 1);
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
      t.batchDim = true;
      tensors_.push_back(t);
    }
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
      t.batchDim = !implicitBatch_;
      tensors_.push_back(t);
    }
#endif
    int inputs = 0;
    for (std::size_t i = 0; i < tensors_.size(); ++i)
      if (tensors_[i].input) inputIndex_ = i, ++inputs;
    if (inputs != 1)
      throw RunnerError(ErrorCode::ModelLoad, "the engine has " + std::to_string(inputs) + " inputs; the runner feeds one");
  }

  // Fixes the context's input shape for `batch` when the engine's input has dynamic dims
  // (setInputShape; setBindingDimensions before 8.5; implicit batch goes to enqueue()) and reads
  // every tensor's shape back.
  void setBatch(int batch, ErrorCode code) {
    if (batch == contextBatch_) return;
    Tensor& in = tensors_[inputIndex_];
#if FACEFLEET_TRT_NAMED_TENSORS
    const nvinfer1::Dims engineDims = engine_->getTensorShape(in.name.c_str());
    if (isDynamic(engineDims)) {
      const nvinfer1::Dims d = inputDims(engineDims, batch);
      if (!context_->setInputShape(in.name.c_str(), d))
        throw RunnerError(code, "engine rejects input shape " + dimsText(toVector(d)) + " for '" + in.name + "'" +
                                    logger_.takeLastError());
    }
    for (Tensor& t : tensors_) t.shape = toVector(context_->getTensorShape(t.name.c_str()));
#else
    const nvinfer1::Dims engineDims = engine_->getBindingDimensions(in.index);
    if (!implicitBatch_ && isDynamic(engineDims)) {
      const nvinfer1::Dims d = inputDims(engineDims, batch);
      if (!context_->setBindingDimensions(in.index, d))
        throw RunnerError(code, "engine rejects input shape " + dimsText(toVector(d)) + " for '" + in.name + "'" +
                                    logger_.takeLastError());
    }
    for (Tensor& t : tensors_)
      t.shape = toVector(implicitBatch_ ? engine_->getBindingDimensions(t.index) : context_->getBindingDimensions(t.index));
#endif
    for (Tensor& t : tensors_) t.itemCount = itemCountOf(t.shape, t.batchDim);
    contextBatch_ = batch;
  }

  // Queues the inference of `slot` on the compute stream, with its buffers bound.
  void enqueue(Slot& slot, int batch) {
    bool ok = true;
#if FACEFLEET_TRT_NAMED_TENSORS
    (void)batch;
    for (std::size_t i = 0; i < tensors_.size() && ok; ++i)
      ok = context_->setTensorAddress(tensors_[i].name.c_str(), slot.buffers[i].device);
    if (!ok) throw RunnerError(ErrorCode::Runtime, "setTensorAddress failed" + logger_.takeLastError());
    ok = context_->enqueueV3(compute_);
#else
    std::vector<void*> bindings(tensors_.size());
    for (std::size_t i = 0; i < tensors_.size(); ++i) bindings[tensors_[i].index] = slot.buffers[i].device;
    ok = implicitBatch_ ? context_->enqueue(batch, bindings.data(), compute_, nullptr)
                        : context_->enqueueV2(bindings.data(), compute_, nullptr);
#endif
    if (!ok) throw RunnerError(ErrorCode::Runtime, "TensorRT enqueue failed" + logger_.takeLastError());
  }

  Logger logger_;
  InputSpec input_;
  int maxBatch_;
  std::unique_ptr<nvinfer1::IRuntime> runtime_;
  std::unique_ptr<nvinfer1::ICudaEngine> engine_;
  std::unique_ptr<nvinfer1::IExecutionContext> context_;
  bool zeroCopy_ = false;
  bool implicitBatch_ = false;
  int contextBatch_ = 0;  // the batch the context's input shape is set for
  std::vector<Tensor> tensors_;
  std::size_t inputIndex_ = 0;
  std::vector<std::size_t> viewed_;  // the outputs handed to the decoder
  cudaStream_t compute_ = nullptr;
  cudaStream_t copy_ = nullptr;  // discrete GPUs: input copies, overlapping the other slot's inference
  Slot slots_[kSlots];
  int next_ = 0;     // the slot the next submit() uses
  int pending_ = 0;  // submitted and not collected
};

}  // namespace

bool tensorRtCompiledIn() { return true; }

std::unique_ptr<Backend> createTensorRtBackend(const BackendConfig& config) {
  return std::make_unique<TensorRtBackend>(config);
}

}  // namespace facefleet
