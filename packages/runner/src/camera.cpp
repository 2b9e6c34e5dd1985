#include "facefleet/camera.hpp"

#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <thread>

#include "facefleet/errors.hpp"

namespace facefleet {
namespace {

bool isDirectory(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace

Camera::Camera(CameraSpec spec, const CameraOptions& options)
    : spec_(std::move(spec)),
      options_(options),
      kind_(classifySource(spec_.source, isDirectory(spec_.source))),
      random_(static_cast<std::mt19937::result_type>(std::hash<std::string>()(spec_.id) ^
                                                     static_cast<std::size_t>(std::chrono::steady_clock::now()
                                                                                  .time_since_epoch()
                                                                                  .count()))) {}

void Camera::setState(CameraState state, const std::string& error) {
  bool changed = false;
  {
    std::lock_guard<std::mutex> lock(m_);
    changed = status_.state != state;
    status_.state = state;
    status_.error = error;
  }
  if (changed && listener_) listener_(state);
}

CameraStatus Camera::status() const {
  std::lock_guard<std::mutex> lock(m_);
  return status_;
}

bool Camera::openSource(std::string& error) {
  try {
    source_ = FrameSource::open(spec_.source);
    fps_ = source_->fps();
    return true;
  } catch (const std::exception& e) {
    source_.reset();
    error = e.what();
    return false;
  }
}

void Camera::openFile() {
  if (live()) return;
  std::string error;
  if (!openSource(error)) {
    setState(CameraState::Failed, error);
    throw RunnerError(ErrorCode::Source, "camera '" + spec_.id + "': " + error);
  }
  everOpened_ = true;
  setState(CameraState::Online, "");
}

bool Camera::waitBackoff(int attempt, const std::atomic<bool>& stop) {
  const double u = std::uniform_real_distribution<double>(0.0, 1.0)(random_);
  const auto until = std::chrono::steady_clock::now() +
                     std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                         std::chrono::duration<double>(reconnectDelayS(options_.reconnect, attempt, u)));
  // Short slices so a stop request ends the wait promptly.
  while (!stop.load() && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
        std::chrono::milliseconds(50), until - std::chrono::steady_clock::now()));
  return !stop.load();
}

bool Camera::read(cv::Mat& frame, const std::atomic<bool>& stop) {
  int attempt = 0;  // reopen attempts since the last frame
  while (!stop.load()) {
    if (!source_) {
      if (!live()) return false;  // a file camera that could not be opened (openFile() failed)
      if (attempt > 0 && !waitBackoff(attempt, stop)) return false;
      ++attempt;
      std::string error;
      if (!openSource(error)) {
        const bool retry = options_.reconnect.enabled;
        setState(retry ? CameraState::Reconnecting : CameraState::Failed, error);
        std::fprintf(stderr, "facefleet-runner: camera '%s': %s%s\n", spec_.id.c_str(), error.c_str(),
                     retry ? " (reconnecting)" : "");
        if (!retry) return false;
        continue;
      }
      {
        std::lock_guard<std::mutex> lock(m_);
        if (everOpened_ || status_.state == CameraState::Reconnecting) ++status_.reconnects;
      }
      everOpened_ = true;
    }
    bool got = false;
    std::string readError;
    try {
      got = source_->read(frame);
    } catch (const std::exception& e) {  // a decoder that throws ends this source like a failed read
      readError = e.what();
    }
    if (got) {
      attempt = 0;
      if (status().state != CameraState::Online) setState(CameraState::Online, "");
      return true;
    }
    if (!live()) {
      if (readError.empty() && options_.loop && source_->restart() && source_->read(frame)) return true;
      setState(readError.empty() ? CameraState::Ended : CameraState::Failed, readError);
      return false;
    }
    // A live source stopped delivering: drop it and reopen after a pause.
    std::string error = readError.empty() ? source_->lastError() : readError;
    if (error.empty()) error = "source stopped delivering";
    source_.reset();
    const bool retry = options_.reconnect.enabled;
    setState(retry ? CameraState::Reconnecting : CameraState::Failed, error);
    std::fprintf(stderr, "facefleet-runner: camera '%s': %s%s\n", spec_.id.c_str(), error.c_str(),
                 retry ? " (reconnecting)" : "");
    if (!retry) return false;
    if (attempt == 0) attempt = 1;  // the first reopen also waits (the server may be restarting)
  }
  return false;
}

}  // namespace facefleet
