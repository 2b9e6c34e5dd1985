// Cameras as configuration: ids, sources, the sources file, reconnect timing and camera states.
// Pure code (no OpenCV), unit-tested; the camera that reads frames is in camera.hpp.
#pragma once

#include <string>
#include <vector>

namespace facefleet {

struct CameraSpec {
  std::string id;      // names the camera in every frame and stats line
  std::string source;  // as --source takes it: file, folder, URL, /dev/videoN, GStreamer pipeline
};

// A camera id: 1 to 64 characters of [A-Za-z0-9_.-], the first a letter or digit (the protocol's id
// rule, so an id can become an MQTT topic level).
bool isCameraId(const std::string& id);

// "ID=SRC" -> {ID, SRC} when the text before the first '=' is a camera id; otherwise the whole
// text is the source (URLs with query strings, GStreamer pipelines with key=value properties and
// paths with '/' before the '=' are never read as an id) and its id is `defaultId`.
CameraSpec parseCameraSpec(const std::string& text, const std::string& defaultId);

// A sources file: one camera per line as `ID=SRC` or `SRC`; blank lines and lines starting with '#'
// are skipped; cameras without an id are numbered by their position among all cameras ("0", "1",
// ...). Appends to `out`. Throws RunnerError(BadArgs) naming "<label>:<line>" on an empty source.
void parseSourcesText(const std::string& text, const std::string& label, std::vector<CameraSpec>& out);

// Throws RunnerError(BadArgs) when two cameras share an id or there are more than kMaxCameras.
constexpr std::size_t kMaxCameras = 64;
void checkCameras(const std::vector<CameraSpec>& cameras);

// The life of a camera: connecting (first open of a live source), online (delivering frames),
// reconnecting (a live source dropped or could not be opened; retried with backoff), ended (a file
// or folder reached its end), failed (cannot be opened and will not be retried).
enum class CameraState { Connecting, Online, Reconnecting, Ended, Failed };
const char* cameraStateName(CameraState state);

// Exponential backoff with jitter between attempts to reopen a live source.
struct ReconnectPolicy {
  bool enabled = true;   // false: a live source that fails is failed (the runner's old behaviour)
  double initialS = 0.5;
  double maxS = 30.0;
  double factor = 2.0;
  double jitter = 0.25;  // each delay is scaled by a uniform factor in [1 − jitter, 1 + jitter)
};
// Delay before reopen attempt `attempt` (1 = the first after a drop):
// min(maxS, initialS · factor^(attempt − 1)) · (1 + jitter · (2u − 1)), u in [0, 1).
double reconnectDelayS(const ReconnectPolicy& policy, int attempt, double u);

}  // namespace facefleet
