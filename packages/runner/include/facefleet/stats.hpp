// Rolling statistics window behind the "stats" lines.
#pragma once

#include <cstdint>
#include <vector>

#include "facefleet/json.hpp"

namespace facefleet {

// Linear interpolation between closest ranks (numpy's default); 0 for an empty set.
double percentile(std::vector<double> values, double p);

class StatsWindow {
 public:
  explicit StatsWindow(std::int64_t startMs) : startMs_(startMs) {}

  void addFrame(double inferMs) { inferMs_.push_back(inferMs); }
  void addDropped(long long n) { dropped_ += n; }
  long long frames() const { return static_cast<long long>(inferMs_.size()); }
  double elapsedS(std::int64_t nowMs) const { return (nowMs - startMs_) / 1000.0; }

  // fps = frames completed / window seconds (end to end); inferFps = 1000 / mean inference ms;
  // latency percentiles of inference ms. Starts a new window at nowMs.
  StatsMessage take(std::int64_t nowMs);

 private:
  std::int64_t startMs_;
  std::vector<double> inferMs_;
  long long dropped_ = 0;
};

}  // namespace facefleet
