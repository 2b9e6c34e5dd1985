// The run loop: capture + decode + preprocess on their own thread, overlapped with inference through
// a bounded queue. Live sources (and --pace) keep only the newest frame and count the stale ones
// dropped; files wait for the consumer, so every frame is processed.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "facefleet/detector.hpp"
#include "facefleet/source.hpp"
#include "facefleet/stats.hpp"

namespace facefleet {

struct PipelineOptions {
  bool loop = false;
  bool pace = false;
  long long maxFrames = 0;  // 0 = unlimited
  // At most this many frames per second reach the detector (0 = no limit). Live and paced sources
  // skip the frames in between (they keep their source index); other files are read more slowly.
  double maxFps = 0;
  double statsInterval = 5.0;
  bool emitFrames = true;  // false: stats only (bench)
};

struct PipelineSummary {
  long long frames = 0;
  long long dropped = 0;
  double wallS = 0;  // first capture to last frame done
  LatencyStats inferMs;  // bounded: flat memory over any run length
  bool sourceFailed = false;  // a live source stopped delivering
  std::string sourceError;
};

using LineSink = std::function<void(const std::string& line)>;

// Emits frame lines, a stats line every statsInterval seconds and a final stats line. Stops at the
// end of a non-looping file source, after maxFrames, on a live source failure, or when `stop` turns
// true (the frame in progress is finished first). Throws RunnerError(Runtime) on inference errors.
PipelineSummary runPipeline(Detector& detector, FrameSource& source, const PipelineOptions& options,
                            const std::atomic<bool>& stop, const LineSink& sink);

std::int64_t epochMs();

}  // namespace facefleet
