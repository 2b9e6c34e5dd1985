// Preprocessing on the GPU: src/cuda/gpu_preprocess.cu runs the per-pixel maths of
// preprocess_pixel.hpp in a CUDA kernel, one thread per network-input pixel, so the result equals
// the CPU path (Preprocessor) value for value. Built only where nvcc is (CMake FACEFLEET_CUDA);
// no CUDA types here, so C++ code includes it without CUDA's headers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "facefleet/geometry.hpp"
#include "facefleet/preprocess_plan.hpp"
#include "facefleet/tensor.hpp"

namespace facefleet {

// Whether a CUDA device can run kernels here; `why` says why not (no driver, no device, …).
bool cudaDeviceAvailable(std::string* why);

class GpuPreprocessor {
 public:
  explicit GpuPreprocessor(const InputSpec& spec);
  ~GpuPreprocessor();
  GpuPreprocessor(const GpuPreprocessor&) = delete;
  GpuPreprocessor& operator=(const GpuPreprocessor&) = delete;

  // `bgr`: an 8-bit BGR frame in device memory, rows `step` bytes apart; `out`: device memory for
  // spec.elementCount() floats; `stream`: a cudaStream_t (nullptr: the default stream). Queues the
  // kernel and returns; the frame size's resize taps are uploaded once. Throws std::runtime_error.
  FrameTransform run(const std::uint8_t* bgr, int width, int height, std::size_t step, float* out, void* stream);

  // Host frame in, host blob out, synchronously (tests, benchmark). `kernelMs`: the kernel's own
  // time measured with CUDA events, without the copies.
  FrameTransform runFromHost(const std::uint8_t* bgr, int width, int height, std::size_t step, std::vector<float>& blob,
                             double* kernelMs = nullptr);

 private:
  void upload(const PreprocessPlan& plan);

  InputSpec spec_;
  PreprocessPlan plan_;
  void* xTaps_ = nullptr;  // device copies of plan_'s taps
  void* yTaps_ = nullptr;
  // runFromHost's device buffers, grown as needed.
  void* frame_ = nullptr;
  std::size_t frameBytes_ = 0;
  void* blob_ = nullptr;
};

}  // namespace facefleet
