// The fake CUDA runtime's control surface (tests/trt_double/fake_cuda_runtime.cpp): which GPU it
// pretends to be and what the code under test asked of it. No CUDA headers here, so tests that
// only configure and inspect the fake compile without them.
//
// What the fake models (so that a backend that is wrong on a real GPU is wrong here too):
//  - cudaMalloc memory is NOT readable by the host: it is mapped PROT_NONE and opened only while
//    the fake "GPU" runs a stream operation; a host read of device memory crashes (SIGSEGV).
//  - Streams run nothing until cudaStreamSynchronize / cudaEventSynchronize (or a blocking call):
//    cudaMemcpyAsync and TensorRT enqueues are queued, as on a GPU that has not got to them yet.
//  - Until that synchronization, the host sees NaN in every pinned or mapped buffer a queued copy or
//    inference will write (poisoned when queued), so outputs read too early are visibly wrong.
//  - Copies to or from pageable memory behave as CUDA documents: host-to-device takes the data at
//    call time; device-to-host waits for the stream's earlier work and completes before returning.
#pragma once

#include <string>

namespace facefleet {
namespace fakecuda {

struct DeviceConfig {
  bool integrated = false;  // cudaDeviceProp::integrated: a Jetson (shared DRAM) or a discrete card
  int dlaCores = 0;         // what TensorRT's IRuntime::getNbDLACores() reports (Xavier/Orin: 2)
};

// The defaults come from FACEFLEET_FAKE_GPU=integrated|discrete (integrated: 2 DLA cores, as an AGX
// Xavier; discrete: none, as a T4); unset = discrete. Tests switch with configure().
void configure(const DeviceConfig& config);
DeviceConfig device();

struct Counters {
  long deviceAllocs = 0;      // cudaMalloc
  long pinnedAllocs = 0;      // cudaHostAlloc without cudaHostAllocMapped
  long mappedAllocs = 0;      // cudaHostAlloc with cudaHostAllocMapped
  long devicePointerQueries = 0;  // cudaHostGetDevicePointer
  long asyncCopies = 0;       // cudaMemcpyAsync between pinned/mapped host memory and the device
  long pageableCopies = 0;    // cudaMemcpyAsync with a pageable host side (effectively synchronous)
  long streamSyncs = 0;       // cudaStreamSynchronize
  long eventSyncs = 0;        // cudaEventSynchronize
  long deviceOps = 0;         // stream operations executed (copies, inferences)
};
Counters counters();
void resetCounters();

}  // namespace fakecuda
}  // namespace facefleet
