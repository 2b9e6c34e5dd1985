// Latency statistics in bounded memory, and the rolling window behind the "stats" lines.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "facefleet/json.hpp"

namespace facefleet {

// Linear interpolation between closest ranks (numpy's default); 0 for an empty set.
double percentile(std::vector<double> values, double p);

// Count, sum, min, max and percentiles of a stream of millisecond values, in memory that does not
// grow with the stream: the first kExactSamples values are kept, so their percentiles are exact
// (percentile() above); beyond that, percentiles come from a log-linear histogram (128 buckets
// per power of two from 1 µs to ~1000 s: within 0.8% of the true value, clamped to [min, max]).
class LatencyStats {
 public:
  static constexpr std::size_t kExactSamples = 4096;

  void add(double ms);
  void clear();
  long long count() const { return count_; }
  double sum() const { return sum_; }
  double mean() const { return count_ ? sum_ / static_cast<double>(count_) : 0.0; }
  double min() const { return count_ ? min_ : 0.0; }
  double max() const { return count_ ? max_ : 0.0; }
  double percentile(double p) const;

 private:
  static constexpr int kSubBuckets = 128;
  static constexpr int kOctaves = 30;  // 1 µs · 2^30 ≈ 1074 s
  static constexpr int kBuckets = 1 + kOctaves * kSubBuckets;
  static int bucketOf(double us);
  static double bucketLow(int bucket);
  double valueAtRank(long long rank) const;  // the rank-th smallest (0-based), histogram estimate

  long long count_ = 0;
  double sum_ = 0, min_ = 0, max_ = 0;
  std::vector<double> exact_;                // up to kExactSamples values
  std::vector<std::uint32_t> buckets_;       // kBuckets, allocated on the first value past exact_
};

class StatsWindow {
 public:
  explicit StatsWindow(std::int64_t startMs) : startMs_(startMs) {}

  // One inference call that ran `frames` frames in `inferMs` (inference and batch figures).
  void addInference(int frames, double inferMs) {
    inferMs_.add(inferMs);
    inferFrames_ += frames;
  }
  // Frames completed: their lines are out (frames, fps). Not every inferred frame completes: with
  // several lanes, one may finish a batch after --max-frames was reached by another.
  void addCompleted(long long frames) { frames_ += frames; }
  void addFrame(double inferMs) {
    addInference(1, inferMs);
    addCompleted(1);
  }
  void addDropped(long long n) { dropped_ += n; }
  long long frames() const { return frames_; }
  double elapsedS(std::int64_t nowMs) const { return (nowMs - startMs_) / 1000.0; }

  // fps = frames completed / window seconds (end to end); inferFps = frames per second of inference
  // time (1000 / mean inference ms at batch 1); latency percentiles of inference call ms; batch
  // figures. `cameras` is left for the caller. Starts a new window at nowMs.
  StatsMessage take(std::int64_t nowMs);

 private:
  std::int64_t startMs_;
  LatencyStats inferMs_;
  long long frames_ = 0;       // completed
  long long inferFrames_ = 0;  // run through inference
  long long dropped_ = 0;
};

}  // namespace facefleet
