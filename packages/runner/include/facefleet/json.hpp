// A small JSON writer and the exact line shapes of the runner's stdout contract
// (validated by @facefleet/protocol with zod in strict mode: no extra keys).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "facefleet/box.hpp"
#include "facefleet/errors.hpp"

namespace facefleet {

constexpr const char* kRunnerVersion = "0.1.0";
constexpr std::size_t kMaxBoxesPerFrame = 256;

// Escapes for a JSON string body (quotes, backslash, control characters as \uXXXX).
std::string jsonEscape(std::string_view s);
// Fixed-point with at most `decimals` digits, trailing zeros trimmed; NaN/Inf become 0.
std::string formatNumber(double v, int decimals);

class JsonWriter {
 public:
  JsonWriter& beginObject();
  JsonWriter& endObject();
  JsonWriter& beginArray();
  JsonWriter& endArray();
  JsonWriter& key(std::string_view k);
  JsonWriter& string(std::string_view v);
  JsonWriter& number(double v, int decimals = 3);
  // Shortest text that reads back as the same float32 (at most 9 significant digits); NaN/Inf -> 0.
  JsonWriter& exactFloat(float v);
  JsonWriter& integer(long long v);
  const std::string& str() const { return out_; }

 private:
  void separate();
  std::string out_;
  std::vector<bool> first_;
  bool afterKey_ = false;
};

struct HelloCamera {
  std::string id, source, sourceKind;
};

struct HelloMessage {
  std::string backend, model, modelPath, modelSha256;
  int inputWidth = 0, inputHeight = 0;
  std::string source, sourceKind, cluster;  // the first camera's (one-camera consumers read these)
  std::vector<HelloCamera> cameras;
  int batchSize = 1;           // frames per inference call the backend runs
  double batchTimeoutMs = 0;   // how long a batch waits for a slow camera
  int dlaCore = -1;            // written only when >= 0 (TensorRT on a DLA core)
  long long pid = 0;
  std::int64_t ts = 0;
};

struct FrameTiming {
  double capture = 0, pre = 0, infer = 0, post = 0, total = 0;
};

struct FrameMessage {
  std::string camera;  // the camera id
  long long index = 0;  // the camera's own frame count
  std::int64_t ts = 0;
  int width = 0, height = 0;
  Boxes boxes;  // source-frame pixels, corner form; written as x,y,w,h
  FrameTiming ms;
};

// One camera over a stats window.
struct CameraStats {
  std::string id;
  std::string state;  // cameraStateName()
  std::string error;  // why it is reconnecting or failed; written only when not empty
  long long frames = 0;      // processed (frame lines) in the window
  double processedFps = 0;   // frames / window
  double cameraFps = 0;      // frames the source delivered / window (processed, skipped and dropped)
  long long skipped = 0;     // left out on purpose (--max-fps)
  long long dropped = 0;     // stale frames replaced by newer ones (live sources, --pace)
  long long reconnects = 0;  // successful reopenings in the window
};

struct BatchStats {
  long long batches = 0;  // inference calls in the window
  double meanSize = 0;    // frames per inference call
  double inferFps = 0;    // frames per second of inference time
  double batchFps = 0;    // inference calls per second of inference time
};

struct StatsMessage {
  std::int64_t ts = 0;
  long long frames = 0;
  double fps = 0, inferFps = 0;
  double p50 = 0, p95 = 0, p99 = 0;
  long long dropped = 0;
  double windowS = 0;
  std::vector<CameraStats> cameras;
  BatchStats batch;
};

// A camera changed state (the `camera` line).
struct CameraMessage {
  std::int64_t ts = 0;
  std::string id;
  std::string state;  // cameraStateName()
  std::string error;  // written only when not empty
};

// Each returns one line without the trailing newline.
std::string helloLine(const HelloMessage& m);
// faces = number of boxes detected; boxes = the 256 most confident of them.
std::string frameLine(const FrameMessage& m);
std::string statsLine(const StatsMessage& m);
std::string cameraLine(const CameraMessage& m);
std::string errorLine(ErrorCode code, const std::string& message, std::int64_t ts);
// The decode tool's {"type":"detections","count":N,"boxes":[...]}. `decimals`: digits after the
// point for x,y,w,h and conf (default: 2 and 4, as frame lines); kFullPrecision writes every float
// exactly (9 significant digits, which round-trip a float32).
constexpr int kFullPrecision = -1;
std::string detectionsLine(const Boxes& boxes, int decimals = 2);

}  // namespace facefleet
