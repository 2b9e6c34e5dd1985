// The hand-over from the cameras' capture threads to the one inference loop, and the batcher that
// forms one inference batch out of their frames (DeepStream's nvstreammux in miniature).
//
// One lane per camera, each with its own policy:
//  - wait (files): push blocks while the lane is full, so every frame is processed;
//  - drop oldest (live sources, --pace): push never blocks; the stalest queued frame is evicted and
//    counted, so inference always gets the newest frame.
// popBatch() takes at most one frame per lane, at most maxBatch in all, and returns as soon as every
// lane it waits for has a frame — or when the oldest waiting frame has waited batchTimeout
// (nvstreammux's batched-push-timeout), so a slow camera never holds the others back by more than
// that. Lanes that are not expected (a camera reconnecting, ended or failed) are never waited for.
// Lanes are served in turn (round robin) when more have frames than a batch holds.
// Several consumers (inference lanes) may pop at once. With `holdTaken`, a lane whose frame was
// taken is held — neither served nor waited for — until the consumer calls release(lane) after it
// has emitted the frame's line, so one camera's frames are handled one at a time, in order, by
// whichever consumer is free.
// Pure code (no OpenCV): unit-tested with plain values.
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <utility>
#include <vector>

namespace facefleet {

template <typename T>
class FrameMux {
 public:
  using Clock = std::chrono::steady_clock;
  struct Lane {
    std::size_t capacity = 1;
    bool dropOldest = false;
  };
  enum class Pop { Batch, Timeout, Closed };

  explicit FrameMux(const std::vector<Lane>& lanes, bool holdTaken = false)
      : lanes_(lanes.size()), holdTaken_(holdTaken) {
    for (std::size_t i = 0; i < lanes.size(); ++i) {
      lanes_[i].capacity = lanes[i].capacity ? lanes[i].capacity : 1;
      lanes_[i].dropOldest = lanes[i].dropOldest;
    }
  }

  std::size_t lanes() const { return lanes_.size(); }

  // Returns false once the mux is closed or the lane finished (the item is not queued). Evicted
  // items are moved into `evicted` when given (so their buffers can be reused).
  bool push(std::size_t lane, T&& item, std::vector<T>* evicted = nullptr) {
    std::unique_lock<std::mutex> lock(m_);
    State& s = lanes_[lane];
    if (s.dropOldest) {
      while (!closed_ && s.items.size() >= s.capacity) {
        if (evicted) evicted->push_back(std::move(s.items.front().second));
        s.items.pop_front();
        ++s.dropped;
      }
    } else {
      notFull_.wait(lock, [&] { return closed_ || s.finished || s.items.size() < s.capacity; });
    }
    if (closed_ || s.finished) return false;
    s.items.emplace_back(Clock::now(), std::move(item));
    changed_.notify_all();
    return true;
  }

  // Whether popBatch waits (up to its timeout) for this lane. New lanes are expected.
  void setExpected(std::size_t lane, bool expected) {
    std::lock_guard<std::mutex> lock(m_);
    lanes_[lane].expected = expected;
    changed_.notify_all();
  }

  // The lane pushes no more; what it queued is still delivered.
  void finish(std::size_t lane) {
    std::lock_guard<std::mutex> lock(m_);
    lanes_[lane].finished = true;
    changed_.notify_all();
    notFull_.notify_all();
  }

  // With holdTaken: the lane's taken frame is done; the lane is served again.
  void release(std::size_t lane) {
    std::lock_guard<std::mutex> lock(m_);
    lanes_[lane].held = false;
    changed_.notify_all();
  }

  // The consumer stops: producers blocked in push() return false, popBatch() returns Closed.
  void close() {
    std::lock_guard<std::mutex> lock(m_);
    closed_ = true;
    changed_.notify_all();
    notFull_.notify_all();
  }

  // Replaces `out` with the next batch as (lane, item) pairs. Batch: at least one item. Timeout:
  // nothing arrived within `idle` (the caller can do periodic work). Closed: close() was called, or
  // every lane finished and nothing is left.
  Pop popBatch(std::vector<std::pair<std::size_t, T>>& out, std::size_t maxBatch, Clock::duration batchTimeout,
               Clock::duration idle) {
    out.clear();
    if (maxBatch == 0) maxBatch = 1;
    std::unique_lock<std::mutex> lock(m_);
    const auto idleUntil = Clock::now() + idle;
    for (;;) {
      if (closed_) return Pop::Closed;
      std::size_t ready = 0, waitingFor = 0;
      bool allFinished = true, anyQueued = false;
      Clock::time_point oldest = Clock::time_point::max();
      for (const State& s : lanes_) {
        allFinished = allFinished && s.finished;
        anyQueued = anyQueued || !s.items.empty();
        if (s.held) continue;  // another consumer has its frame: neither served nor waited for
        if (!s.items.empty()) {
          ++ready;
          oldest = std::min(oldest, s.items.front().first);
        } else if (s.expected && !s.finished) {
          ++waitingFor;
        }
      }
      const auto now = Clock::now();
      if (ready == 0) {
        if (allFinished && !anyQueued) return Pop::Closed;
        if (now >= idleUntil) return Pop::Timeout;
        changed_.wait_until(lock, idleUntil);
        continue;
      }
      if (ready >= maxBatch || waitingFor == 0 || now >= oldest + batchTimeout) {
        take(out, maxBatch);
        notFull_.notify_all();
        return Pop::Batch;
      }
      changed_.wait_until(lock, oldest + batchTimeout);
    }
  }

  // Items the lane evicted since the last call.
  long long takeDropped(std::size_t lane) {
    std::lock_guard<std::mutex> lock(m_);
    const long long d = lanes_[lane].dropped;
    lanes_[lane].dropped = 0;
    return d;
  }

 private:
  struct State {
    std::size_t capacity = 1;
    bool dropOldest = false;
    bool expected = true;
    bool finished = false;
    bool held = false;  // holdTaken: a consumer has this lane's frame
    long long dropped = 0;
    std::deque<std::pair<Clock::time_point, T>> items;
  };

  // One item from each non-empty lane, starting after the lane served last.
  void take(std::vector<std::pair<std::size_t, T>>& out, std::size_t maxBatch) {
    const std::size_t n = lanes_.size();
    std::size_t last = next_;
    for (std::size_t k = 0; k < n && out.size() < maxBatch; ++k) {
      const std::size_t lane = (next_ + k) % n;
      State& s = lanes_[lane];
      if (s.items.empty() || s.held) continue;
      out.emplace_back(lane, std::move(s.items.front().second));
      s.items.pop_front();
      s.held = holdTaken_;
      last = lane;
    }
    next_ = (last + 1) % n;
  }

  std::mutex m_;
  std::condition_variable changed_, notFull_;
  std::vector<State> lanes_;
  std::size_t next_ = 0;
  bool holdTaken_ = false;
  bool closed_ = false;
};

}  // namespace facefleet
