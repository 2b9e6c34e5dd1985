#include "facefleet/stats.hpp"

#include <algorithm>
#include <cmath>

namespace facefleet {

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const double rank = std::clamp(p, 0.0, 100.0) / 100.0 * (v.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(rank));
  const std::size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (rank - lo);
}

StatsMessage StatsWindow::take(std::int64_t nowMs) {
  StatsMessage m;
  m.ts = nowMs;
  m.frames = frames();
  m.windowS = std::max(0.0, elapsedS(nowMs));
  m.fps = m.windowS > 0 ? m.frames / m.windowS : 0;
  double sum = 0;
  for (double x : inferMs_) sum += x;
  const double mean = m.frames ? sum / m.frames : 0;
  m.inferFps = mean > 0 ? 1000.0 / mean : 0;
  m.p50 = percentile(inferMs_, 50);
  m.p95 = percentile(inferMs_, 95);
  m.p99 = percentile(inferMs_, 99);
  m.dropped = dropped_;
  startMs_ = nowMs;
  inferMs_.clear();
  dropped_ = 0;
  return m;
}

}  // namespace facefleet
