// The four error classes of the output contract and their exit codes.
#pragma once

#include <stdexcept>
#include <string>

namespace facefleet {

enum class ErrorCode { BadArgs, ModelLoad, Source, Runtime };

// "bad_args" | "model_load" | "source" | "runtime"
const char* errorCodeName(ErrorCode code);
// 2 bad_args, 3 model_load, 4 source, 5 runtime.
int exitCodeFor(ErrorCode code);

class RunnerError : public std::runtime_error {
 public:
  RunnerError(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

}  // namespace facefleet
