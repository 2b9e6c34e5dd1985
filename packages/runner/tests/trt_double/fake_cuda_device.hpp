// What the TensorRT double needs from the fake CUDA runtime beyond the CUDA API: queueing work on a
// stream, checking that an address is one the GPU could use, and poisoning host-visible memory the
// queued work will write.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <functional>
#include <string>

#include "fake_cuda.hpp"

namespace facefleet {
namespace fakecuda {

// Runs when the stream gets to it (at the next synchronization), with device memory readable.
// A non-success return is the stream's sticky error, returned by the synchronizing call.
using DeviceOp = std::function<cudaError_t()>;
cudaError_t enqueue(cudaStream_t stream, DeviceOp op);

// Whether [p, p + bytes) lies in memory the GPU can address: cudaMalloc memory, or mapped host
// memory (whose device pointer equals the host pointer, as with unified addressing). Pageable
// memory and unmapped pinned memory are not. `why` says what the address is when it is not.
bool deviceAccessible(const void* p, std::size_t bytes, std::string* why = nullptr);
// Whether the host can read [p, p + bytes) directly (pinned or mapped host memory).
bool hostVisible(const void* p, std::size_t bytes);
// Fills host-visible memory with NaN: "undefined until the work completes".
void poison(void* p, std::size_t bytes);

}  // namespace fakecuda
}  // namespace facefleet
