#include "facefleet/pipeline.hpp"

#include <chrono>
#include <mutex>
#include <thread>

#include "facefleet/bounded_queue.hpp"
#include "facefleet/errors.hpp"
#include "facefleet/json.hpp"
#include "facefleet/stats.hpp"

namespace facefleet {
namespace {

using Clock = std::chrono::steady_clock;

double msBetween(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

struct Item {
  long long index = 0;
  int width = 0, height = 0;
  FrameTransform transform;
  std::vector<float> blob;
  double captureMs = 0, preMs = 0;
  Clock::time_point start;
};

// Preprocessed blobs are recycled so a steady state allocates nothing.
class BlobPool {
 public:
  void put(std::vector<float>&& blob) {
    std::lock_guard<std::mutex> lock(m_);
    if (pool_.size() < 4) pool_.push_back(std::move(blob));
  }
  std::vector<float> take() {
    std::lock_guard<std::mutex> lock(m_);
    if (pool_.empty()) return {};
    std::vector<float> b = std::move(pool_.back());
    pool_.pop_back();
    return b;
  }

 private:
  std::mutex m_;
  std::vector<std::vector<float>> pool_;
};

using FrameQueue = BoundedQueue<Item>;

struct CaptureResult {
  bool sourceFailed = false;
  std::string error;
};

void captureLoop(FrameSource& source, const InputSpec& spec, const PipelineOptions& opt, FrameQueue& queue,
                 BlobPool& blobs, const std::atomic<bool>& stop, const std::atomic<bool>& consumerDone, CaptureResult& result) {
  Preprocessor pre(spec);
  cv::Mat frame;
  const double fps = source.fps() > 0 ? source.fps() : 30.0;
  const bool paced = opt.pace && !source.live();
  const auto paceStart = Clock::now();
  // --max-fps: frames closer than `minGap` to the last one taken are skipped (live, paced) or waited
  // for (other files, so every frame is still processed).
  const bool limited = opt.maxFps > 0;
  const bool skipFrames = paced || source.live();
  const auto minGap = limited ? std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / opt.maxFps))
                              : Clock::duration::zero();
  Clock::time_point lastTaken;
  bool taken = false;
  long long index = 0;
  try {
    while (!stop.load() && !consumerDone.load()) {
      if (paced) std::this_thread::sleep_until(paceStart + std::chrono::duration_cast<Clock::duration>(
                                                               std::chrono::duration<double>(index / fps)));
      if (limited && taken && !skipFrames) std::this_thread::sleep_until(lastTaken + minGap);
      const auto t0 = Clock::now();
      bool ok = source.read(frame);
      if (!ok && !source.live() && opt.loop && source.restart()) ok = source.read(frame);
      if (!ok) {
        if (source.live()) {
          result.sourceFailed = true;
          result.error = source.lastError();
        }
        break;
      }
      const auto t1 = Clock::now();
      if (limited && skipFrames && taken && t0 - lastTaken < minGap) {
        ++index;  // skipped on purpose: not preprocessed, not counted as dropped
        continue;
      }
      lastTaken = t0;
      taken = true;
      Item item;
      item.index = index++;
      item.width = frame.cols;
      item.height = frame.rows;
      item.start = t0;
      item.captureMs = msBetween(t0, t1);
      item.blob = blobs.take();
      item.transform = pre.run(frame, item.blob);
      item.preMs = msBetween(t1, Clock::now());
      std::vector<Item> evicted;
      const bool queued = queue.push(std::move(item), &evicted);
      for (Item& e : evicted) blobs.put(std::move(e.blob));
      if (!queued) break;
    }
  } catch (const std::exception& e) {
    result.sourceFailed = true;
    result.error = std::string("capture: ") + e.what();
  }
  queue.close();
}

}  // namespace

std::int64_t epochMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

PipelineSummary runPipeline(Detector& detector, FrameSource& source, const PipelineOptions& opt,
                            const std::atomic<bool>& stop, const LineSink& sink) {
  // Live (and paced) sources: one slot, newest frame wins. Files: two slots, so the next frame is
  // decoded and preprocessed while the current one is in inference.
  const bool dropStale = source.live() || opt.pace;
  FrameQueue queue(dropStale ? 1 : 2, dropStale);
  BlobPool blobs;
  std::atomic<bool> consumerDone{false};
  CaptureResult capture;
  PipelineSummary summary;
  StatsWindow window(epochMs());
  const auto interval = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(opt.statsInterval));
  auto nextStats = Clock::now() + interval;
  const auto started = Clock::now();
  auto lastDone = started;

  std::thread captureThread(captureLoop, std::ref(source), std::cref(detector.input()), std::cref(opt),
                            std::ref(queue), std::ref(blobs), std::cref(stop), std::cref(consumerDone), std::ref(capture));
  auto shutdown = [&] {
    consumerDone = true;
    queue.close();
    if (captureThread.joinable()) captureThread.join();
  };

  try {
    Item item;
    for (;;) {
      const auto r = queue.pop(item, std::chrono::milliseconds(100));
      if (r == FrameQueue::Pop::Closed) break;
      if (r == FrameQueue::Pop::Item) {
        FrameMessage msg;
        Boxes boxes = detector.detect(item.blob, item.transform, &msg.ms.infer, &msg.ms.post);
        blobs.put(std::move(item.blob));
        lastDone = Clock::now();
        msg.index = item.index;
        msg.width = item.width;
        msg.height = item.height;
        msg.boxes = std::move(boxes);
        msg.ms.capture = item.captureMs;
        msg.ms.pre = item.preMs;
        msg.ms.total = msBetween(item.start, lastDone);
        msg.ts = epochMs();
        if (opt.emitFrames) sink(frameLine(msg));
        window.addFrame(msg.ms.infer);
        summary.inferMs.add(msg.ms.infer);
        ++summary.frames;
        if (opt.maxFrames > 0 && summary.frames >= opt.maxFrames) break;
      }
      if (stop.load()) break;
      const long long d = queue.takeDropped();
      window.addDropped(d);
      summary.dropped += d;
      if (Clock::now() >= nextStats) {
        sink(statsLine(window.take(epochMs())));
        nextStats += interval;
        if (nextStats < Clock::now()) nextStats = Clock::now() + interval;
      }
    }
  } catch (...) {
    shutdown();
    throw;
  }
  shutdown();
  const long long d = queue.takeDropped();
  window.addDropped(d);
  summary.dropped += d;
  sink(statsLine(window.take(epochMs())));
  summary.wallS = std::chrono::duration<double>(lastDone - started).count();
  summary.sourceFailed = capture.sourceFailed && !stop.load();
  summary.sourceError = capture.error;
  return summary;
}

}  // namespace facefleet
