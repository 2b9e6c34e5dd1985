// A fake CUDA runtime over host memory, for machines without a GPU: the subset of the CUDA runtime
// API that the runner's TensorRT backend and the TensorRT double use, with the semantics that make
// GPU code right or wrong (see fake_cuda.hpp). It is a stand-in for the process-wide CUDA runtime,
// so its state is process-wide too, behind one mutex.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <vector>

#include "fake_cuda_device.hpp"

struct CUstream_st {
  std::deque<facefleet::fakecuda::DeviceOp> ops;
  std::uint64_t submitted = 0;  // operations queued so far
  std::uint64_t completed = 0;  // operations run so far
  cudaError_t sticky = cudaSuccess;
};

struct CUevent_st {
  CUstream_st* stream = nullptr;
  std::uint64_t target = 0;  // the stream's `submitted` when recorded
};

namespace facefleet {
namespace fakecuda {
namespace {

enum class Kind { Device, Pinned, Mapped };

struct Region {
  char* base = nullptr;
  std::size_t bytes = 0;
  std::size_t reserved = 0;  // page-rounded length actually mapped/allocated
  Kind kind = Kind::Device;
};

struct State {
  std::recursive_mutex m;
  std::map<std::uintptr_t, Region> regions;
  std::set<CUstream_st*> streams;
  CUstream_st defaultStream;
  std::set<CUevent_st*> events;
  DeviceConfig config;
  bool configured = false;
  Counters counters;
  int windowDepth = 0;
};

// Never destroyed: the runner's objects free CUDA memory from static destructors at exit.
State& state() {
  static State* s = new State();
  return *s;
}

std::size_t pageSize() {
  static const std::size_t p = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  return p;
}

std::size_t roundUp(std::size_t n) { return (n + pageSize() - 1) / pageSize() * pageSize(); }

void ensureConfigured(State& s) {
  if (s.configured) return;
  s.configured = true;
  const char* env = std::getenv("FACEFLEET_FAKE_GPU");
  if (env && std::string(env) == "integrated") s.config = DeviceConfig{true, 2};
  else s.config = DeviceConfig{false, 0};
}

// The region holding [p, p + bytes), or null.
Region* find(State& s, const void* p, std::size_t bytes) {
  const auto a = reinterpret_cast<std::uintptr_t>(p);
  auto it = s.regions.upper_bound(a);
  if (it == s.regions.begin()) return nullptr;
  --it;
  Region& r = it->second;
  const auto base = reinterpret_cast<std::uintptr_t>(r.base);
  if (a < base || a + bytes > base + r.bytes) return nullptr;
  return &r;
}

// While open, device memory is readable and writable: the fake GPU is running.
class DeviceWindow {
 public:
  explicit DeviceWindow(State& s) : s_(s) {
    if (s_.windowDepth++ == 0) protect(PROT_READ | PROT_WRITE);
  }
  ~DeviceWindow() {
    if (--s_.windowDepth == 0) protect(PROT_NONE);
  }
  DeviceWindow(const DeviceWindow&) = delete;
  DeviceWindow& operator=(const DeviceWindow&) = delete;

 private:
  void protect(int prot) {
    for (auto& kv : s_.regions)
      if (kv.second.kind == Kind::Device) ::mprotect(kv.second.base, kv.second.reserved, prot);
  }
  State& s_;
};

CUstream_st* resolve(State& s, cudaStream_t stream) {
  if (stream == nullptr || stream == cudaStreamLegacy || stream == cudaStreamPerThread) return &s.defaultStream;
  return s.streams.count(stream) ? stream : nullptr;
}

void runUntil(State& s, CUstream_st& st, std::uint64_t target) {
  DeviceWindow window(s);
  while (st.completed < target && !st.ops.empty()) {
    DeviceOp op = std::move(st.ops.front());
    st.ops.pop_front();
    ++st.completed;
    ++s.counters.deviceOps;
    if (st.sticky != cudaSuccess) continue;  // a failed stream runs nothing more
    const cudaError_t e = op();
    if (e != cudaSuccess) st.sticky = e;
  }
}

void runAll(State& s, CUstream_st& st) { runUntil(s, st, st.submitted); }

void runEverything(State& s) {
  runAll(s, s.defaultStream);
  for (CUstream_st* st : s.streams) runAll(s, *st);
}

void push(CUstream_st& st, DeviceOp op) {
  st.ops.push_back(std::move(op));
  ++st.submitted;
}

bool isDeviceSide(const Region* r) { return r && (r->kind == Kind::Device || r->kind == Kind::Mapped); }
bool isPinnedHost(const Region* r) { return r && (r->kind == Kind::Pinned || r->kind == Kind::Mapped); }

void poisonBytes(void* p, std::size_t bytes) {
  const std::uint32_t nan = 0x7fc00000u;
  auto* c = static_cast<unsigned char*>(p);
  std::size_t i = 0;
  for (; i + 4 <= bytes; i += 4) std::memcpy(c + i, &nan, 4);
  for (; i < bytes; ++i) c[i] = 0xff;
}

}  // namespace

void configure(const DeviceConfig& config) {
  State& s = state();
  std::lock_guard<std::recursive_mutex> lock(s.m);
  s.configured = true;
  s.config = config;
}

DeviceConfig device() {
  State& s = state();
  std::lock_guard<std::recursive_mutex> lock(s.m);
  ensureConfigured(s);
  return s.config;
}

Counters counters() {
  State& s = state();
  std::lock_guard<std::recursive_mutex> lock(s.m);
  return s.counters;
}

void resetCounters() {
  State& s = state();
  std::lock_guard<std::recursive_mutex> lock(s.m);
  s.counters = Counters{};
}

cudaError_t enqueue(cudaStream_t stream, DeviceOp op) {
  State& s = state();
  std::lock_guard<std::recursive_mutex> lock(s.m);
  CUstream_st* st = resolve(s, stream);
  if (!st) return cudaErrorInvalidResourceHandle;
  push(*st, std::move(op));
  return cudaSuccess;
}

bool deviceAccessible(const void* p, std::size_t bytes, std::string* why) {
  State& s = state();
  std::lock_guard<std::recursive_mutex> lock(s.m);
  const Region* r = find(s, p, bytes);
  if (isDeviceSide(r)) return true;
  if (why) {
    if (p == nullptr) *why = "a null address";
    else if (r) *why = "pinned host memory that is not mapped (cudaHostAlloc without cudaHostAllocMapped)";
    else if (find(s, p, 1)) *why = "an address whose allocation is smaller than " + std::to_string(bytes) + " bytes";
    else *why = "pageable host memory or an address no CUDA allocation holds";
  }
  return false;
}

bool hostVisible(const void* p, std::size_t bytes) {
  State& s = state();
  std::lock_guard<std::recursive_mutex> lock(s.m);
  return isPinnedHost(find(s, p, bytes));
}

void poison(void* p, std::size_t bytes) {
  State& s = state();
  std::lock_guard<std::recursive_mutex> lock(s.m);
  if (isPinnedHost(find(s, p, bytes))) poisonBytes(p, bytes);
}

}  // namespace fakecuda
}  // namespace facefleet

using facefleet::fakecuda::DeviceWindow;
using facefleet::fakecuda::Kind;
using facefleet::fakecuda::Region;
using facefleet::fakecuda::State;
using facefleet::fakecuda::state;

extern "C" {

const char* cudaGetErrorString(cudaError_t error) {
  switch (error) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidDevicePointer: return "invalid device pointer";
    case cudaErrorInvalidResourceHandle: return "invalid resource handle";
    case cudaErrorNotReady: return "device not ready";
    case cudaErrorIllegalAddress: return "an illegal memory access was encountered";
    case cudaErrorLaunchFailure: return "unspecified launch failure";
    default: return "unknown error (fake CUDA runtime)";
  }
}

const char* cudaGetErrorName(cudaError_t error) {
  switch (error) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidResourceHandle: return "cudaErrorInvalidResourceHandle";
    case cudaErrorNotReady: return "cudaErrorNotReady";
    case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
    default: return "cudaErrorUnknown";
  }
}

cudaError_t cudaGetLastError(void) { return cudaSuccess; }
cudaError_t cudaPeekAtLastError(void) { return cudaSuccess; }

cudaError_t cudaGetDeviceCount(int* count) {
  if (!count) return cudaErrorInvalidValue;
  *count = 1;
  return cudaSuccess;
}

cudaError_t cudaGetDevice(int* device) {
  if (!device) return cudaErrorInvalidValue;
  *device = 0;
  return cudaSuccess;
}

cudaError_t cudaSetDevice(int device) { return device == 0 ? cudaSuccess : cudaErrorInvalidDevice; }

cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device) {
  if (!prop || device != 0) return cudaErrorInvalidValue;
  const auto cfg = facefleet::fakecuda::device();
  std::memset(prop, 0, sizeof *prop);
  std::snprintf(prop->name, sizeof prop->name, "facefleet fake CUDA device (%s)",
                cfg.integrated ? "integrated, shared DRAM" : "discrete");
  prop->integrated = cfg.integrated ? 1 : 0;
  prop->canMapHostMemory = 1;
  prop->unifiedAddressing = 1;
  prop->major = cfg.integrated ? 7 : 7;
  prop->minor = cfg.integrated ? 2 : 5;  // AGX Xavier sm_72, T4 sm_75
  prop->totalGlobalMem = std::size_t{16} << 30;
  return cudaSuccess;
}

cudaError_t cudaDeviceSynchronize(void) {
  State& s = state();
  std::lock_guard<std::recursive_mutex> lock(s.m);
  facefleet::fakecuda::runEverything(s);
  cudaError_t e = s.defaultStream.sticky;
  for (CUstream_st* st : s.streams)
    if (e == cudaSuccess) e = st->sticky;
  return e;
}

cudaError_t cudaMalloc(void** devPtr, size_t size) {
  if (!devPtr || size == 0) return cudaErrorInvalidValue;
  State& s = state();
  std::lock_guard<std::recursive_mutex> lock(s.m);
  const std::size_t len = facefleet::fakecuda::roundUp(size);
  void* p = ::mmap(nullptr, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return cudaErrorMemoryAllocation;
  s.regions[reinterpret_cast<std::uintptr_t>(p)] = Region{static_cast<char*>(p), size, len, Kind::Device};
  ++s.counters.deviceAllocs;
  *devPtr = p;
  return cudaSuccess;
}

cudaError_t cudaFree(void* devPtr) {
  if (!devPtr) return cudaSuccess;
  State& s = state();
  std::lock_guard<std::recursive_mutex> lock(s.m);
  auto it = s.regions.find(reinterpret_cast<std::uintptr_t>(devPtr));
  if (it == s.regions.end() || it->second.kind != Kind::Device) return cudaErrorInvalidDevicePointer;
  facefleet::fakecuda::runEverything(s);  // cudaFree synchronizes the device
  ::munmap(it->second.base, it->second.reserved);
  s.regions.erase(it);
  return cudaSuccess;
}

cudaError_t cudaHostAlloc(void** pHost, size_t size, unsigned int flags) {
  if (!pHost || size == 0) return cudaErrorInvalidValue;
  State& s = state();
  std::lock_guard<std::recursive_mutex> lock(s.m);
  const std::size_t len = facefleet::fakecuda::roundUp(size);
  void* p = std::aligned_alloc(facefleet::fakecuda::pageSize(), len);
  if (!p) return cudaErrorMemoryAllocation;
  std::memset(p, 0, len);
  const bool mapped = (flags & cudaHostAllocMapped) != 0;
  s.regions[reinterpret_cast<std::uintptr_t>(p)] =
      Region{static_cast<char*>(p), size, len, mapped ? Kind::Mapped : Kind::Pinned};
  ++(mapped ? s.counters.mappedAllocs : s.counters.pinnedAllocs);
  *pHost = p;
  return cudaSuccess;
}

cudaError_t cudaMallocHost(void** ptr, size_t size) { return cudaHostAlloc(ptr, size, cudaHostAllocDefault); }

cudaError_t cudaFreeHost(void* ptr) {
  if (!ptr) return cudaSuccess;
  State& s = state();
  std::lock_guard<std::recursive_mutex> lock(s.m);
  auto it = s.regions.find(reinterpret_cast<std::uintptr_t>(ptr));
  if (it == s.regions.end() || it->second.kind == Kind::Device) return cudaErrorInvalidValue;
  facefleet::fakecuda::runEverything(s);
  std::free(it->second.base);
  s.regions.erase(it);
  return cudaSuccess;
}

cudaError_t cudaHostGetDevicePointer(void** pDevice, void* pHost, unsigned int flags) {
  if (!pDevice || flags != 0) return cudaErrorInvalidValue;
  State& s = state();
  std::lock_guard<std::recursive_mutex> lock(s.m);
  ++s.counters.devicePointerQueries;
  const Region* r = facefleet::fakecuda::find(s, pHost, 1);
  if (!r || r->kind != Kind::Mapped) return cudaErrorInvalidValue;
  *pDevice = pHost;  // unified addressing: the device sees mapped memory at the host address
  return cudaSuccess;
}

cudaError_t cudaStreamCreate(cudaStream_t* pStream) {
  if (!pStream) return cudaErrorInvalidValue;
  State& s = state();
  std::lock_guard<std::recursive_mutex> lock(s.m);
  auto* st = new CUstream_st();
  s.streams.insert(st);
  *pStream = st;
  return cudaSuccess;
}

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* pStream, unsigned int) { return cudaStreamCreate(pStream); }

cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  State& s = state();
  std::lock_guard<std::recursive_mutex> lock(s.m);
  if (!s.streams.count(stream)) return cudaErrorInvalidResourceHandle;
  facefleet::fakecuda::runAll(s, *stream);  // queued work still completes
  s.streams.erase(stream);
  delete stream;
  return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
  State& s = state();
  std::lock_guard<std::recursive_mutex> lock(s.m);
  CUstream_st* st = facefleet::fakecuda::resolve(s, stream);
  if (!st) return cudaErrorInvalidResourceHandle;
  ++s.counters.streamSyncs;
  facefleet::fakecuda::runAll(s, *st);
  return st->sticky;
}

cudaError_t cudaEventCreate(cudaEvent_t* event) {
  if (!event) return cudaErrorInvalidValue;
  State& s = state();
  std::lock_guard<std::recursive_mutex> lock(s.m);
  auto* e = new CUevent_st();
  s.events.insert(e);
  *event = e;
  return cudaSuccess;
}

cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned int) { return cudaEventCreate(event); }

cudaError_t cudaEventDestroy(cudaEvent_t event) {
  State& s = state();
  std::lock_guard<std::recursive_mutex> lock(s.m);
  if (!s.events.erase(event)) return cudaErrorInvalidResourceHandle;
  delete event;
  return cudaSuccess;
}

cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream) {
  State& s = state();
  std::lock_guard<std::recursive_mutex> lock(s.m);
  CUstream_st* st = facefleet::fakecuda::resolve(s, stream);
  if (!st || !s.events.count(event)) return cudaErrorInvalidResourceHandle;
  event->stream = st;
  event->target = st->submitted;
  return cudaSuccess;
}

cudaError_t cudaEventSynchronize(cudaEvent_t event) {
  State& s = state();
  std::lock_guard<std::recursive_mutex> lock(s.m);
  if (!s.events.count(event)) return cudaErrorInvalidResourceHandle;
  ++s.counters.eventSyncs;
  if (!event->stream) return cudaSuccess;  // never recorded: an empty set of work
  facefleet::fakecuda::runUntil(s, *event->stream, event->target);
  return event->stream->sticky;
}

// The waiting stream's later work runs only after the event's work on the other stream.
cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event, unsigned int flags) {
  State& s = state();
  std::lock_guard<std::recursive_mutex> lock(s.m);
  CUstream_st* st = facefleet::fakecuda::resolve(s, stream);
  if (!st || !s.events.count(event) || flags != 0) return cudaErrorInvalidResourceHandle;
  if (!event->stream) return cudaSuccess;  // never recorded: nothing to wait for
  CUstream_st* other = event->stream;
  const std::uint64_t target = event->target;
  facefleet::fakecuda::push(*st, [other, target] {
    State& s = state();
    // A destroyed stream ran all its work when it was destroyed.
    if (other != &s.defaultStream && !s.streams.count(other)) return cudaSuccess;
    facefleet::fakecuda::runUntil(s, *other, target);
    return other->sticky;
  });
  return cudaSuccess;
}

cudaError_t cudaEventQuery(cudaEvent_t event) {
  State& s = state();
  std::lock_guard<std::recursive_mutex> lock(s.m);
  if (!s.events.count(event)) return cudaErrorInvalidResourceHandle;
  if (!event->stream) return cudaSuccess;
  return event->stream->completed >= event->target ? event->stream->sticky : cudaErrorNotReady;
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t count, enum cudaMemcpyKind kind, cudaStream_t stream) {
  using namespace facefleet::fakecuda;
  State& s = state();
  std::lock_guard<std::recursive_mutex> lock(s.m);
  CUstream_st* st = resolve(s, stream);
  if (!st) return cudaErrorInvalidResourceHandle;
  if (count == 0) return cudaSuccess;
  if (!dst || !src) return cudaErrorInvalidValue;
  const Region* d = find(s, dst, count);
  const Region* r = find(s, src, count);
  if (kind == cudaMemcpyDefault) {  // unified addressing: the pointers say where they are
    const bool dDev = d && d->kind == Kind::Device, sDev = r && r->kind == Kind::Device;
    kind = dDev ? (sDev ? cudaMemcpyDeviceToDevice : cudaMemcpyHostToDevice)
                : (sDev ? cudaMemcpyDeviceToHost : cudaMemcpyHostToHost);
  }
  switch (kind) {
    case cudaMemcpyHostToDevice:
      if (!isDeviceSide(d) || (r && r->kind == Kind::Device)) return cudaErrorInvalidValue;
      if (isPinnedHost(r)) {
        ++s.counters.asyncCopies;
        push(*st, [dst, src, count] {
          std::memcpy(dst, src, count);
          return cudaSuccess;
        });
      } else {  // pageable: CUDA stages the data before returning, so the caller may reuse it
        ++s.counters.pageableCopies;
        auto staged = std::make_shared<std::vector<char>>(static_cast<const char*>(src),
                                                           static_cast<const char*>(src) + count);
        push(*st, [dst, staged] {
          std::memcpy(dst, staged->data(), staged->size());
          return cudaSuccess;
        });
      }
      return cudaSuccess;
    case cudaMemcpyDeviceToHost:
      if (!isDeviceSide(r) || (d && d->kind == Kind::Device)) return cudaErrorInvalidValue;
      if (isPinnedHost(d)) {
        ++s.counters.asyncCopies;
        poisonBytes(dst, count);  // undefined until the copy has run
        push(*st, [dst, src, count] {
          std::memcpy(dst, src, count);
          return cudaSuccess;
        });
        return cudaSuccess;
      }
      // pageable: returns once the copy is complete, after the stream's earlier work
      ++s.counters.pageableCopies;
      runAll(s, *st);
      if (st->sticky != cudaSuccess) return st->sticky;
      {
        DeviceWindow window(s);
        std::memcpy(dst, src, count);
      }
      return cudaSuccess;
    case cudaMemcpyDeviceToDevice:
      if (!isDeviceSide(d) || !isDeviceSide(r)) return cudaErrorInvalidValue;
      push(*st, [dst, src, count] {
        std::memcpy(dst, src, count);
        return cudaSuccess;
      });
      return cudaSuccess;
    case cudaMemcpyHostToHost:
      runAll(s, *st);
      std::memcpy(dst, src, count);
      return cudaSuccess;
    default:
      return cudaErrorInvalidValue;
  }
}

}  // extern "C"
