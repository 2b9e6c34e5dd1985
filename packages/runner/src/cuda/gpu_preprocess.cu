// The CUDA kernel of preprocessing: one thread per network-input pixel, running the same per-pixel
// maths as the CPU reference (preprocess_pixel.hpp, compiled here as device code).
#include <cuda_runtime_api.h>

#include <stdexcept>
#include <string>

#include "facefleet/gpu_preprocess.hpp"
#include "facefleet/preprocess_pixel.hpp"

namespace facefleet {
namespace {

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string("GPU preprocessing: ") + what + ": " + cudaGetErrorString(e));
}

__global__ void preprocessKernel(pixel::Plan plan, const pixel::XTap* xTaps, const pixel::YTap* yTaps,
                                 const std::uint8_t* bgr, std::size_t step, float* out) {
  const int x = blockIdx.x * blockDim.x + threadIdx.x;
  const int y = blockIdx.y * blockDim.y + threadIdx.y;
  if (x >= plan.netW || y >= plan.netH) return;
  pixel::writePixel(plan, xTaps, yTaps, bgr, step, x, y, out);
}

}  // namespace

bool cudaDeviceAvailable(std::string* why) {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    if (why) *why = std::string("cudaGetDeviceCount: ") + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")";
    return false;
  }
  if (n == 0) {
    if (why) *why = "cudaGetDeviceCount: 0 devices";
    return false;
  }
  return true;
}

GpuPreprocessor::GpuPreprocessor(const InputSpec& spec) : spec_(spec) {
  if (spec.channels != pixel::kChannels) throw std::runtime_error("GPU preprocessing: the input must have 3 channels");
}

GpuPreprocessor::~GpuPreprocessor() {
  cudaFree(xTaps_);
  cudaFree(yTaps_);
  cudaFree(frame_);
  cudaFree(blob_);
}

void GpuPreprocessor::upload(const PreprocessPlan& plan) {
  cudaFree(xTaps_);
  cudaFree(yTaps_);
  xTaps_ = yTaps_ = nullptr;
  plan_ = plan;
  if (plan.xTaps.empty()) return;
  const std::size_t xb = plan.xTaps.size() * sizeof(pixel::XTap), yb = plan.yTaps.size() * sizeof(pixel::YTap);
  check(cudaMalloc(&xTaps_, xb), "cudaMalloc (taps)");
  check(cudaMalloc(&yTaps_, yb), "cudaMalloc (taps)");
  check(cudaMemcpy(xTaps_, plan.xTaps.data(), xb, cudaMemcpyHostToDevice), "cudaMemcpy (taps)");
  check(cudaMemcpy(yTaps_, plan.yTaps.data(), yb, cudaMemcpyHostToDevice), "cudaMemcpy (taps)");
}

FrameTransform GpuPreprocessor::run(const std::uint8_t* bgr, int width, int height, std::size_t step, float* out,
                                    void* stream) {
  if (plan_.pixels.srcW != width || plan_.pixels.srcH != height) upload(planPreprocess(spec_, width, height));
  const dim3 block(32, 8);
  const dim3 grid((spec_.width + block.x - 1) / block.x, (spec_.height + block.y - 1) / block.y);
  preprocessKernel<<<grid, block, 0, static_cast<cudaStream_t>(stream)>>>(
      plan_.pixels, static_cast<const pixel::XTap*>(xTaps_), static_cast<const pixel::YTap*>(yTaps_), bgr, step, out);
  check(cudaGetLastError(), "kernel launch");
  return plan_.transform;
}

FrameTransform GpuPreprocessor::runFromHost(const std::uint8_t* bgr, int width, int height, std::size_t step,
                                            std::vector<float>& blob, double* kernelMs) {
  const std::size_t bytes = step * static_cast<std::size_t>(height);
  if (bytes > frameBytes_) {
    cudaFree(frame_);
    frame_ = nullptr;
    check(cudaMalloc(&frame_, bytes), "cudaMalloc (frame)");
    frameBytes_ = bytes;
  }
  if (!blob_) check(cudaMalloc(&blob_, spec_.elementCount() * sizeof(float)), "cudaMalloc (blob)");
  check(cudaMemcpy(frame_, bgr, bytes, cudaMemcpyHostToDevice), "cudaMemcpy (frame)");
  cudaEvent_t start = nullptr, stop = nullptr;
  check(cudaEventCreate(&start), "cudaEventCreate");
  check(cudaEventCreate(&stop), "cudaEventCreate");
  FrameTransform t;
  try {
    // The taps of a new frame size are uploaded before the timed part.
    if (plan_.pixels.srcW != width || plan_.pixels.srcH != height) upload(planPreprocess(spec_, width, height));
    check(cudaEventRecord(start, nullptr), "cudaEventRecord");
    t = run(static_cast<const std::uint8_t*>(frame_), width, height, step, static_cast<float*>(blob_), nullptr);
    check(cudaEventRecord(stop, nullptr), "cudaEventRecord");
    check(cudaEventSynchronize(stop), "cudaEventSynchronize");
    float ms = 0;
    check(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
    if (kernelMs) *kernelMs = ms;
  } catch (...) {
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
    throw;
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  blob.resize(spec_.elementCount());
  check(cudaMemcpy(blob.data(), blob_, blob.size() * sizeof(float), cudaMemcpyDeviceToHost), "cudaMemcpy (blob)");
  return t;
}

}  // namespace facefleet
