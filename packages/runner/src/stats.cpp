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

int LatencyStats::bucketOf(double us) {
  if (!(us >= 1.0)) return 0;  // below 1 µs (and NaN)
  int e = 0;
  const double m = std::frexp(us, &e);  // us = m · 2^e, m in [0.5, 1)
  const int octave = e - 1;             // us in [2^octave, 2^(octave+1))
  if (octave >= kOctaves) return kBuckets - 1;
  const int sub = std::min(kSubBuckets - 1, static_cast<int>((2.0 * m - 1.0) * kSubBuckets));
  return 1 + octave * kSubBuckets + sub;
}

double LatencyStats::bucketLow(int bucket) {
  if (bucket <= 0) return 0.0;
  const int octave = (bucket - 1) / kSubBuckets, sub = (bucket - 1) % kSubBuckets;
  return std::ldexp(1.0 + static_cast<double>(sub) / kSubBuckets, octave);
}

void LatencyStats::add(double ms) {
  if (!std::isfinite(ms)) return;
  if (count_ == 0) min_ = max_ = ms;
  min_ = std::min(min_, ms);
  max_ = std::max(max_, ms);
  ++count_;
  sum_ += ms;
  if (exact_.size() < kExactSamples) {
    exact_.push_back(ms);
    return;
  }
  if (buckets_.empty()) {
    buckets_.assign(kBuckets, 0);
    for (double x : exact_) ++buckets_[bucketOf(x * 1000.0)];
  }
  ++buckets_[bucketOf(ms * 1000.0)];
}

void LatencyStats::clear() {
  count_ = 0;
  sum_ = min_ = max_ = 0;
  exact_.clear();    // both keep their capacity: a steady state allocates nothing
  buckets_.clear();
}

double LatencyStats::valueAtRank(long long rank) const {
  if (rank <= 0) return min_;  // the extremes are known exactly
  if (rank >= count_ - 1) return max_;
  long long seen = 0;
  for (int b = 0; b < kBuckets; ++b) {
    const long long n = buckets_[b];
    if (rank < seen + n) {
      // Spread the bucket's values evenly over its width.
      const double low = bucketLow(b), high = b + 1 < kBuckets ? bucketLow(b + 1) : low * 2;
      const double us = low + (high - low) * (static_cast<double>(rank - seen) + 0.5) / static_cast<double>(n);
      return std::clamp(us / 1000.0, min_, max_);
    }
    seen += n;
  }
  return max_;
}

double LatencyStats::percentile(double p) const {
  if (count_ == 0) return 0;
  if (buckets_.empty()) return facefleet::percentile(exact_, p);
  const double rank = std::clamp(p, 0.0, 100.0) / 100.0 * static_cast<double>(count_ - 1);
  const auto lo = static_cast<long long>(std::floor(rank));
  const double a = valueAtRank(lo), b = valueAtRank(std::min(lo + 1, count_ - 1));
  return a + (b - a) * (rank - static_cast<double>(lo));
}

StatsMessage StatsWindow::take(std::int64_t nowMs) {
  StatsMessage m;
  m.ts = nowMs;
  m.frames = frames();
  m.windowS = std::max(0.0, elapsedS(nowMs));
  m.fps = m.windowS > 0 ? m.frames / m.windowS : 0;
  const double inferS = inferMs_.sum() / 1000.0;
  m.inferFps = inferS > 0 ? static_cast<double>(inferFrames_) / inferS : 0;
  m.batch.batches = inferMs_.count();
  m.batch.meanSize =
      m.batch.batches ? static_cast<double>(inferFrames_) / static_cast<double>(m.batch.batches) : 0;
  m.batch.inferFps = m.inferFps;
  m.batch.batchFps = inferS > 0 ? static_cast<double>(m.batch.batches) / inferS : 0;
  m.p50 = inferMs_.percentile(50);
  m.p95 = inferMs_.percentile(95);
  m.p99 = inferMs_.percentile(99);
  m.dropped = dropped_;
  startMs_ = nowMs;
  inferMs_.clear();
  frames_ = 0;
  inferFrames_ = 0;
  dropped_ = 0;
  return m;
}

}  // namespace facefleet
