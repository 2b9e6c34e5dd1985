#include "facefleet/backend.hpp"

#include "facefleet/errors.hpp"

namespace facefleet {

std::unique_ptr<Backend> Backend::create(const std::string& name, const BackendConfig& config) {
  if (name == "opencv") return createOpenCvBackend(config);
  if (name == "tensorrt") return createTensorRtBackend(config);
  throw RunnerError(ErrorCode::BadArgs, "--backend: '" + name + "' is not a backend (opencv, tensorrt)");
}

std::string backendUsage() {
  return std::string("  --backend opencv|tensorrt         opencv (default): OpenCV DNN on an ONNX model, CPU\n") +
         "                                    tensorrt: serialized engine from trtexec (" +
         (tensorRtCompiledIn() ? "compiled in" : "NOT compiled into this build") + ")\n";
}

}  // namespace facefleet
