// The hand-over between the capture thread and the inference loop. Two policies:
//  - wait (files): push blocks while the queue is full, so every frame is processed;
//  - drop oldest (live sources, --pace): push never blocks; the stalest queued item is evicted and
//    counted, so inference always gets the newest frame.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <vector>

namespace facefleet {

template <typename T>
class BoundedQueue {
 public:
  BoundedQueue(std::size_t capacity, bool dropOldest) : capacity_(capacity ? capacity : 1), dropOldest_(dropOldest) {}

  // Returns false once the queue is closed (the item is not queued). Evicted items are moved into
  // `evicted` when given (so their buffers can be reused).
  bool push(T&& item, std::vector<T>* evicted = nullptr) {
    std::unique_lock<std::mutex> lock(m_);
    if (dropOldest_) {
      while (!closed_ && items_.size() >= capacity_) {
        if (evicted) evicted->push_back(std::move(items_.front()));
        items_.pop_front();
        ++dropped_;
      }
    } else {
      notFull_.wait(lock, [&] { return closed_ || items_.size() < capacity_; });
    }
    if (closed_) return false;
    items_.push_back(std::move(item));
    notEmpty_.notify_one();
    return true;
  }

  enum class Pop { Item, Timeout, Closed };
  // Closed only after the queue is closed and drained.
  Pop pop(T& out, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(m_);
    if (!notEmpty_.wait_for(lock, timeout, [&] { return !items_.empty() || closed_; })) return Pop::Timeout;
    if (items_.empty()) return Pop::Closed;
    out = std::move(items_.front());
    items_.pop_front();
    notFull_.notify_one();
    return Pop::Item;
  }

  void close() {
    std::lock_guard<std::mutex> lock(m_);
    closed_ = true;
    notEmpty_.notify_all();
    notFull_.notify_all();
  }

  // Items evicted since the last call.
  long long takeDropped() {
    std::lock_guard<std::mutex> lock(m_);
    const long long d = dropped_;
    dropped_ = 0;
    return d;
  }

 private:
  std::mutex m_;
  std::condition_variable notEmpty_, notFull_;
  std::deque<T> items_;
  std::size_t capacity_;
  bool dropOldest_;
  bool closed_ = false;
  long long dropped_ = 0;
};

}  // namespace facefleet
