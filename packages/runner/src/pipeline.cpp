#include "facefleet/pipeline.hpp"

#include <algorithm>
#include <chrono>
#include <exception>
#include <mutex>
#include <thread>

#include "facefleet/errors.hpp"
#include "facefleet/frame_mux.hpp"
#include "facefleet/json.hpp"
#include "facefleet/preprocess.hpp"

namespace facefleet {
namespace {

using Clock = std::chrono::steady_clock;

double msBetween(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

Clock::duration seconds(double s) {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}

struct Item {
  long long index = 0;
  int width = 0, height = 0;
  FrameTransform transform;
  std::vector<std::uint8_t> staged;  // the preprocessed frame, 8-bit (Preprocessor::stage)
  double captureMs = 0, preMs = 0;
  Clock::time_point start;
};

// Staged frames are recycled so a steady state allocates nothing. They wait for inference as 8-bit
// pixels, a quarter of the floats the model takes (736×416: 0.9 MB against 3.7 MB per frame, up to
// four per camera); each inference lane converts the frame it runs into its own float input.
class BlobPool {
 public:
  explicit BlobPool(std::size_t keep) : keep_(keep) {}
  void put(std::vector<std::uint8_t>&& blob) {
    std::lock_guard<std::mutex> lock(m_);
    if (pool_.size() < keep_) pool_.push_back(std::move(blob));
  }
  std::vector<std::uint8_t> take() {
    std::lock_guard<std::mutex> lock(m_);
    if (pool_.empty()) return {};
    std::vector<std::uint8_t> b = std::move(pool_.back());
    pool_.pop_back();
    return b;
  }

 private:
  std::mutex m_;
  std::size_t keep_;
  std::vector<std::vector<std::uint8_t>> pool_;
};

using Mux = FrameMux<Item>;

// What a capture thread counts, read by the inference loop for the stats lines.
struct CaptureCounters {
  std::atomic<long long> captured{0};  // frames read from the source
  std::atomic<long long> skipped{0};   // left out by --max-fps
};

void captureLoop(Camera& camera, std::size_t lane, const InputSpec& spec, const PipelineOptions& opt, Mux& mux,
                 BlobPool& blobs, const std::atomic<bool>& halt, CaptureCounters& counters) {
  Preprocessor pre(spec);
  cv::Mat frame;
  const bool paced = opt.pace && !camera.live();
  const auto paceStart = Clock::now();
  // --max-fps: frames closer than `minGap` to the last one taken are skipped (live, paced) or waited
  // for (other files, so every frame is still processed).
  const bool limited = opt.maxFps > 0;
  const bool skipFrames = paced || camera.live();
  const auto minGap = limited ? seconds(1.0 / opt.maxFps) : Clock::duration::zero();
  Clock::time_point lastTaken;
  bool taken = false;
  long long index = 0;
  try {
    while (!halt.load()) {
      // A paced file frame's time is its place in the file (index / fps), so which frames --max-fps
      // skips does not depend on how busy the machine is; a live frame's time is when it was read.
      Clock::time_point due;
      if (paced) {
        const double fps = camera.fps() > 0 ? camera.fps() : 30.0;
        due = paceStart + seconds(index / fps);
        std::this_thread::sleep_until(due);
      }
      if (limited && taken && !skipFrames) std::this_thread::sleep_until(lastTaken + minGap);
      const auto t0 = Clock::now();
      if (!camera.read(frame, halt)) break;
      ++counters.captured;
      const auto t1 = Clock::now();
      const auto frameTime = paced ? due : t0;
      if (limited && skipFrames && taken && frameTime - lastTaken < minGap) {
        ++index;  // skipped on purpose: not preprocessed, not counted as dropped
        ++counters.skipped;
        continue;
      }
      lastTaken = frameTime;
      taken = true;
      Item item;
      item.index = index++;
      item.width = frame.cols;
      item.height = frame.rows;
      item.start = t0;
      item.captureMs = msBetween(t0, t1);
      item.staged = blobs.take();
      item.transform = pre.stage(frame, item.staged);
      item.preMs = msBetween(t1, Clock::now());
      std::vector<Item> evicted;
      const bool queued = mux.push(lane, std::move(item), &evicted);
      for (Item& e : evicted) blobs.put(std::move(e.staged));
      if (!queued) break;
    }
  } catch (const std::exception& e) {
    camera.fail(std::string("capture: ") + e.what());
  }
  mux.finish(lane);
}

// Per camera, what the current stats window has seen.
struct CameraWindow {
  long long frames = 0, dropped = 0;
  long long capturedBefore = 0, skippedBefore = 0, reconnectsBefore = 0;
};

}  // namespace

std::int64_t epochMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

PipelineSummary runPipeline(Detector& detector, std::vector<std::unique_ptr<Camera>>& cameras,
                            const PipelineOptions& opt, const std::atomic<bool>& stop, const LineSink& sink) {
  return runPipeline(std::vector<Detector*>{&detector}, cameras, opt, stop, sink);
}

PipelineSummary runPipeline(const std::vector<Detector*>& detectors, std::vector<std::unique_ptr<Camera>>& cameras,
                            const PipelineOptions& opt, const std::atomic<bool>& stop, const LineSink& sink) {
  if (detectors.empty()) throw RunnerError(ErrorCode::BadArgs, "runPipeline: no detector");
  const std::size_t n = cameras.size();
  const std::size_t laneCount = detectors.size();
  Detector& first = *detectors.front();
  // Live (and paced) sources: one slot, newest frame wins. Files: two slots, so the next frame is
  // decoded and preprocessed while the current one is in inference.
  std::vector<Mux::Lane> lanes;
  for (const auto& c : cameras) {
    const bool dropStale = c->live() || opt.pace;
    lanes.push_back(Mux::Lane{dropStale ? 1u : 2u, dropStale});
  }
  // Several inference lanes: a camera's frame is held by the lane that took it until its line is
  // out, so each camera's lines keep their order whichever lane runs them.
  Mux mux(lanes, laneCount > 1);
  // Per camera at most: two queued, one being preprocessed, one in inference.
  BlobPool blobs(4 * n);
  std::atomic<bool> halt{false};
  std::vector<CaptureCounters> counters(n);
  std::vector<CameraWindow> windows(n);
  std::vector<std::thread> threads;
  PipelineSummary summary;
  StatsWindow window(epochMs());

  // The batcher waits only for cameras that deliver: online ones.
  for (std::size_t i = 0; i < n; ++i) {
    Camera& c = *cameras[i];
    const CameraState state = c.status().state;
    mux.setExpected(i, state == CameraState::Online);
    c.onStateChange([&mux, i](CameraState s) { mux.setExpected(i, s == CameraState::Online); });
    if (state == CameraState::Failed) mux.finish(i);
  }
  std::vector<std::thread> workers;
  auto shutdown = [&] {
    halt = true;
    mux.close();
    for (auto& t : workers)
      if (t.joinable()) t.join();
    for (auto& t : threads)
      if (t.joinable()) t.join();
    for (auto& c : cameras) c->onStateChange(nullptr);
  };

  const auto interval = seconds(opt.statsInterval);
  auto nextStats = Clock::now() + interval;
  const auto started = Clock::now();
  auto lastDone = started;
  const auto batchTimeout = seconds(opt.batchTimeoutMs / 1000.0);
  const std::size_t perFrame = first.input().elementCount();

  // `shared` guards everything below it that the inference lanes share: the stats windows, the
  // summary, the camera states printed, and the sink (one line at a time).
  std::mutex shared;
  bool done = false;                      // --max-frames reached: no more frame lines
  std::atomic<bool> finished{false};      // a lane left its loop: the others follow
  std::exception_ptr failure;             // the first lane's error, rethrown by the caller's thread

  auto statsLineNow = [&](std::int64_t nowMs) {
    const double windowS = std::max(0.0, window.elapsedS(nowMs));
    StatsMessage m = window.take(nowMs);
    for (std::size_t i = 0; i < n; ++i) {
      CameraWindow& w = windows[i];
      const CameraStatus st = cameras[i]->status();
      const long long captured = counters[i].captured.load(), skipped = counters[i].skipped.load();
      CameraStats c;
      c.id = cameras[i]->id();
      c.state = cameraStateName(st.state);
      c.error = st.error;
      c.frames = w.frames;
      c.dropped = w.dropped;
      c.skipped = skipped - w.skippedBefore;
      c.reconnects = st.reconnects - w.reconnectsBefore;
      c.processedFps = windowS > 0 ? static_cast<double>(c.frames) / windowS : 0;
      c.cameraFps = windowS > 0 ? static_cast<double>(captured - w.capturedBefore) / windowS : 0;
      m.cameras.push_back(c);
      w = CameraWindow{0, 0, captured, skipped, st.reconnects};
    }
    return statsLine(m);
  };
  // A `camera` line for every camera whose state differs from the last one printed (all of them the
  // first time): the agent publishes camera states from these at once, not at the next stats line.
  std::vector<int> printedState(n, -1);
  auto printCameraChanges = [&] {
    for (std::size_t i = 0; i < n; ++i) {
      const CameraStatus st = cameras[i]->status();
      if (static_cast<int>(st.state) == printedState[i]) continue;
      printedState[i] = static_cast<int>(st.state);
      CameraMessage c;
      c.ts = epochMs();
      c.id = cameras[i]->id();
      c.state = cameraStateName(st.state);
      c.error = st.error;
      sink(cameraLine(c));
    }
  };
  auto collectDropped = [&] {
    for (std::size_t i = 0; i < n; ++i) {
      const long long d = mux.takeDropped(i);
      windows[i].dropped += d;
      window.addDropped(d);
      summary.dropped += d;
    }
  };

  // One inference lane: its own detector (model instance), batches from the shared mux. The lines
  // of a batch go out under `shared`, before its cameras are released to the other lanes.
  auto serve = [&](Detector& detector) {
    const std::size_t maxBatch = static_cast<std::size_t>(std::max(1, detector.maxBatch()));
    std::vector<std::pair<std::size_t, Item>> batch;
    std::vector<FrameTransform> transforms;
    Preprocessor pre(detector.input());  // this lane's 8-bit → float conversion
    std::vector<float> input;            // the batch, frame after frame
    std::vector<Boxes> results;
    Detector::BatchTiming timing;
    try {
      while (!finished.load()) {
        const auto r = mux.popBatch(batch, maxBatch, batchTimeout, std::chrono::milliseconds(100));
        if (r == Mux::Pop::Closed) break;
        if (r == Mux::Pop::Batch) {
          transforms.clear();
          input.resize(batch.size() * perFrame);
          for (std::size_t k = 0; k < batch.size(); ++k) {
            Item& item = batch[k].second;
            const auto t0 = Clock::now();
            transforms.push_back(item.transform);
            pre.toBlob(item.staged.data(), input.data() + k * perFrame);
            item.preMs += msBetween(t0, Clock::now());  // pre: staging and conversion together
          }
          try {
            detector.detectBatch(input.data(), transforms, results, &timing);
          } catch (...) {
            for (const auto& b : batch) mux.release(b.first);
            throw;
          }
          const auto inferred = Clock::now();
          {
            std::lock_guard<std::mutex> lock(shared);
            lastDone = std::max(lastDone, inferred);
            for (std::size_t k = 0; k < timing.callMs.size(); ++k) {
              window.addInference(timing.callFrames[k], timing.callMs[k]);
              summary.inferMs.add(timing.callMs[k]);
              ++summary.batches;
            }
            for (std::size_t k = 0; k < batch.size() && !done; ++k) {
              const std::size_t cam = batch[k].first;
              Item& item = batch[k].second;
              FrameMessage msg;
              msg.camera = cameras[cam]->id();
              msg.index = item.index;
              msg.width = item.width;
              msg.height = item.height;
              msg.boxes = std::move(results[k]);
              msg.ms.capture = item.captureMs;
              msg.ms.pre = item.preMs;
              msg.ms.infer = timing.inferMs[k];
              msg.ms.post = timing.postMs[k];
              msg.ms.total = msBetween(item.start, inferred);
              msg.ts = epochMs();
              if (opt.emitFrames) sink(frameLine(msg));
              ++windows[cam].frames;
              window.addCompleted(1);
              ++summary.frames;
              if (opt.maxFrames > 0 && summary.frames >= opt.maxFrames) done = true;
            }
          }
          for (auto& b : batch) {
            blobs.put(std::move(b.second.staged));
            mux.release(b.first);
          }
          if (done) break;
        }
        if (stop.load()) break;
        std::lock_guard<std::mutex> lock(shared);
        printCameraChanges();
        collectDropped();
        if (Clock::now() >= nextStats) {
          sink(statsLineNow(epochMs()));
          nextStats += interval;
          if (nextStats < Clock::now()) nextStats = Clock::now() + interval;
        }
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(shared);
      if (!failure) failure = std::current_exception();
    }
    // Whatever ended this lane (end of every camera, --max-frames, a stop, an error) ends the others:
    // they finish the batch they have and leave their loops.
    finished = true;
    mux.close();
  };

  for (std::size_t i = 0; i < n; ++i) {
    if (cameras[i]->status().state == CameraState::Failed) continue;
    threads.emplace_back(captureLoop, std::ref(*cameras[i]), i, std::cref(first.input()), std::cref(opt),
                         std::ref(mux), std::ref(blobs), std::cref(halt), std::ref(counters[i]));
  }
  printCameraChanges();  // before any lane runs: nothing shares it yet
  // Lane 0 runs on this thread; the others on their own.
  for (std::size_t l = 1; l < laneCount; ++l) workers.emplace_back(serve, std::ref(*detectors[l]));
  serve(first);
  shutdown();
  if (failure) std::rethrow_exception(failure);
  collectDropped();
  if (!stop.load()) printCameraChanges();  // files that ended, sources that failed
  sink(statsLineNow(epochMs()));
  summary.wallS = std::chrono::duration<double>(lastDone - started).count();
  if (!stop.load() && !(opt.maxFrames > 0 && summary.frames >= opt.maxFrames)) {
    bool allFailed = n > 0;
    for (const auto& c : cameras) {
      const CameraStatus st = c->status();
      if (st.state != CameraState::Failed) {
        allFailed = false;
        continue;
      }
      summary.sourceError += (summary.sourceError.empty() ? "" : "; ") + std::string("camera '") + c->id() +
                             "': " + (st.error.empty() ? "failed" : st.error);
    }
    summary.sourceFailed = allFailed;
  }
  return summary;
}

}  // namespace facefleet
