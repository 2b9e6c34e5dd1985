// The run loop: every camera captures, decodes and preprocesses on its own thread; an inference
// loop (one per inference lane) takes batches of their frames (at most one frame per camera per
// batch, up to the backend's batch size, waiting at most batchTimeoutMs for a slow camera), runs the
// model once per batch and decodes and clusters each frame on its own. Live sources (and --pace) keep only the newest frame
// and count the stale ones dropped; files wait for the inference loop, so every frame is processed.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "facefleet/camera.hpp"
#include "facefleet/detector.hpp"
#include "facefleet/stats.hpp"

namespace facefleet {

struct PipelineOptions {
  bool pace = false;
  long long maxFrames = 0;  // 0 = unlimited; counts processed frames of all cameras together
  // At most this many frames per second per camera reach the detector (0 = no limit). Live and
  // paced sources skip the frames in between (they keep their source index); other files are read
  // more slowly.
  double maxFps = 0;
  double statsInterval = 5.0;
  double batchTimeoutMs = 40.0;  // nvstreammux's batched-push-timeout (its samples use 40 ms)
  bool emitFrames = true;        // false: stats only (bench)
};

struct PipelineSummary {
  long long frames = 0;
  long long dropped = 0;
  long long batches = 0;  // inference calls
  double wallS = 0;       // first capture to last frame done
  LatencyStats inferMs;   // per inference call; bounded: flat memory over any run length
  bool sourceFailed = false;  // every camera failed (none ended normally, no stop requested)
  std::string sourceError;    // the cameras' errors, "camera 'id': reason; ..."
};

using LineSink = std::function<void(const std::string& line)>;

// Emits frame lines, a stats line every statsInterval seconds and a final stats line. Stops when
// every camera has ended or failed, after maxFrames, or when `stop` turns true (the batch in
// progress is finished first). Cameras already failed (Camera::openFile threw) take part only in the
// stats. Throws RunnerError(Runtime) on inference errors.
PipelineSummary runPipeline(Detector& detector, std::vector<std::unique_ptr<Camera>>& cameras,
                            const PipelineOptions& options, const std::atomic<bool>& stop, const LineSink& sink);
// Inference lanes: one detector (model instance) per lane, each lane on its own thread (the first on
// the caller's), taking frames from the same cameras. A camera's frame is in at most one lane at a
// time and its line is printed before the camera's next frame is taken, so each camera's lines stay
// in index order; `sink` is called by one lane at a time. All detectors have the same input.
PipelineSummary runPipeline(const std::vector<Detector*>& detectors, std::vector<std::unique_ptr<Camera>>& cameras,
                            const PipelineOptions& options, const std::atomic<bool>& stop, const LineSink& sink);

std::int64_t epochMs();

}  // namespace facefleet
