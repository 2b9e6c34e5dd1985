// One camera: a frame source plus the reconnect and end-of-file logic every kind of source shares
// (in the spirit of jetson-inference's videoSource). Files and folders end (or loop); live sources
// (V4L2, RTSP/HTTP streams, GStreamer pipelines) that drop or cannot be opened are reopened with
// exponential backoff and jitter, counted, without stopping the runner or the other cameras.
#pragma once

#include <opencv2/core.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>

#include "facefleet/cameras.hpp"
#include "facefleet/source.hpp"

namespace facefleet {

struct CameraOptions {
  bool loop = false;  // restart files and folders at their end
  ReconnectPolicy reconnect;
};

// A consistent snapshot of a camera for the stats line. Counters are cumulative.
struct CameraStatus {
  CameraState state = CameraState::Connecting;
  std::string error;        // why the camera is reconnecting or failed (empty when online)
  long long reconnects = 0;  // successful reopenings after a drop or a failed first open
};

class Camera {
 public:
  Camera(CameraSpec spec, const CameraOptions& options);

  const std::string& id() const { return spec_.id; }
  const std::string& source() const { return spec_.source; }
  SourceKind kind() const { return kind_; }
  bool live() const { return kind_ != SourceKind::File && kind_ != SourceKind::Images; }
  // Native frame rate if known (after opening), else 0.
  double fps() const { return fps_.load(); }

  // Opens a file or folder now, so start-up can report a missing one before anything runs. Throws
  // RunnerError(Source) naming the camera. Live sources are opened by read(), with reconnects.
  void openFile();

  // Next frame (8-bit BGR). Reopens live sources that dropped, waiting between attempts (the wait
  // ends early when `stop` turns true). Returns false when the camera is done: a file or folder at
  // its end (not looping), a source that failed for good, or `stop`.
  bool read(cv::Mat& frame, const std::atomic<bool>& stop);

  CameraStatus status() const;
  // Called (from the thread that calls read()) whenever the state changes.
  void onStateChange(std::function<void(CameraState)> listener) { listener_ = std::move(listener); }
  // The caller could not use the camera's frames (e.g. preprocessing refused them): failed for good.
  void fail(const std::string& error) { setState(CameraState::Failed, error); }

 private:
  bool openSource(std::string& error);
  void setState(CameraState state, const std::string& error);
  bool waitBackoff(int attempt, const std::atomic<bool>& stop);

  CameraSpec spec_;
  CameraOptions options_;
  SourceKind kind_;
  std::unique_ptr<FrameSource> source_;
  std::atomic<double> fps_{0.0};
  std::mt19937 random_;
  bool everOpened_ = false;
  std::function<void(CameraState)> listener_;
  mutable std::mutex m_;
  CameraStatus status_;
};

}  // namespace facefleet
