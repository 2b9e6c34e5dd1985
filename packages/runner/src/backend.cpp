#include "facefleet/backend.hpp"

#include "facefleet/errors.hpp"

namespace facefleet {

std::unique_ptr<Backend> Backend::create(const std::string& name, const BackendConfig& config) {
  if (name == "opencv") return createOpenCvBackend(config);
  if (name == "tensorrt") return createTensorRtBackend(config);
  throw RunnerError(ErrorCode::BadArgs, "--backend: '" + name + "' is not a backend (opencv, tensorrt)");
}

void Backend::submit(const float* input, int batch) {
  if (submitted_) throw RunnerError(ErrorCode::Runtime, std::string(name()) + " backend: submit() twice without collect()");
  submitted_ = &infer(input, batch);
}

const std::vector<TensorView>& Backend::collect() {
  if (!submitted_) throw RunnerError(ErrorCode::Runtime, std::string(name()) + " backend: collect() without submit()");
  const std::vector<TensorView>* out = submitted_;
  submitted_ = nullptr;
  return *out;
}

std::string backendUsage() {
  return std::string("  --backend opencv|tensorrt         opencv (default): OpenCV DNN on an ONNX model, CPU\n") +
         "                                    tensorrt: serialized engine from trtexec (" +
         (tensorRtCompiledIn() ? "compiled in" : "NOT compiled into this build") + ")\n";
}

}  // namespace facefleet
