// The TensorRT backend's place in a build without TensorRT: `--backend tensorrt` is a bad_args error.
#include "facefleet/backend.hpp"
#include "facefleet/errors.hpp"

namespace facefleet {

bool tensorRtCompiledIn() { return false; }

std::unique_ptr<Backend> createTensorRtBackend(const BackendConfig&) {
  throw RunnerError(ErrorCode::BadArgs,
                    "--backend: tensorrt is not compiled into this build (NvInfer.h/libnvinfer not found at "
                    "configure time; see packages/runner/README.md)");
}

}  // namespace facefleet
