// `bench`: inference-only throughput (warm-up then N timed runs of the backend alone, as trtexec
// reports it) next to end-to-end throughput of the real pipeline on a source, plus the cost of
// decode + clustering on synthetic 46×26 FaceNet grids. Prints one {"type":"bench"} line.
#include <algorithm>
#include <chrono>
#include <ctime>
#include <numeric>
#include <sstream>

#include "facefleet/cli.hpp"
#include "facefleet/detector.hpp"
#include "facefleet/errors.hpp"
#include "facefleet/gridbox.hpp"
#include "facefleet/json.hpp"
#include "facefleet/pipeline.hpp"
#include "facefleet/stats.hpp"
#include "facefleet/synthetic.hpp"

namespace facefleet {
namespace {

using Clock = std::chrono::steady_clock;

struct PostBench {
  double medianUs = 0;
  double meanCandidates = 0;
  double meanOutputs = 0;
};

// Median microseconds per frame of decode + clustering over synthetic grids.
PostBench benchPost(ClusterMode mode, const ClusterParams& base, float threshold) {
  constexpr int kGrids = 64, kRepeats = 200;
  ClusterParams p = base;
  p.mode = mode;
  Clusterer clusterer(p);
  GridBoxParams gp;
  gp.threshold = threshold;
  std::vector<SyntheticGrid> grids;
  for (int s = 0; s < kGrids; ++s) grids.push_back(makeSyntheticGrid(1000u + s));
  std::vector<double> us;
  us.reserve(kGrids * kRepeats);
  Boxes boxes;
  boxes.reserve(2048);
  PostBench r;
  for (int rep = 0; rep < kRepeats; ++rep) {
    for (const auto& g : grids) {
      const auto t0 = Clock::now();
      boxes.clear();
      decodeGridBox(g.bbox.data(), g.cov.data(), g.gridW, g.gridH, g.netW, g.netH, gp, boxes);
      const std::size_t candidates = boxes.size();
      clusterer.run(boxes);
      us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
      if (rep == 0) {
        r.meanCandidates += static_cast<double>(candidates) / kGrids;
        r.meanOutputs += static_cast<double>(boxes.size()) / kGrids;
      }
    }
  }
  r.medianUs = percentile(us, 50);
  return r;
}

}  // namespace

int benchCommand(const std::vector<std::string>& args, const std::atomic<bool>& stop) {
  std::vector<std::string> valueFlags = kModelFlags;
  valueFlags.insert(valueFlags.end(), kClusterFlags.begin(), kClusterFlags.end());
  for (const char* f : {"source", "iterations", "warmup", "frames", "batch-sizes"}) valueFlags.push_back(f);
  const auto flags = parseFlags(args, valueFlags, {});
  RunnerConfig cfg;
  std::vector<std::string> warnings;
  long long iterations = 200, warmup = 20, frames = 0;
  std::vector<int> batchSizes;
  for (const Flag& f : flags)
    if (f.name == "config") loadNvinferConfig(cfg, f.value, warnings);
  for (const Flag& f : flags) {
    if (f.name == "iterations") iterations = parseInteger(f.value, "--iterations");
    else if (f.name == "warmup") warmup = parseInteger(f.value, "--warmup");
    else if (f.name == "frames") frames = parseInteger(f.value, "--frames");
    else if (f.name == "batch-sizes") {
      std::string item;
      std::istringstream list(f.value);
      while (std::getline(list, item, ',')) {
        const long long b = parseInteger(item, "--batch-sizes");
        if (b < 1 || b > 64) throw RunnerError(ErrorCode::BadArgs, "--batch-sizes: " + item + " is not 1..64");
        batchSizes.push_back(static_cast<int>(b));
      }
    }
    else applyFlag(cfg, f);
  }
  for (const auto& w : warnings) logWarning(w);
  if (iterations < 1) throw RunnerError(ErrorCode::BadArgs, "--iterations: must be >= 1");
  if (warmup < 0) throw RunnerError(ErrorCode::BadArgs, "--warmup: must be >= 0");
  if (cfg.modelPath().empty()) throw RunnerError(ErrorCode::BadArgs, "--model: required");
  if (frames <= 0) frames = iterations;

  const std::string source = cfg.cameras.empty() ? "" : cfg.cameras.front().source;
  const int largest = batchSizes.empty() ? 1 : *std::max_element(batchSizes.begin(), batchSizes.end());
  auto detector = Detector::create(cfg, largest);
  // Input for the inference-only loop: the source's first frame, else zeros.
  std::vector<float> blob(detector->input().elementCount(), 0.0f);
  if (!source.empty()) {
    auto src = FrameSource::open(source);
    cv::Mat frame;
    if (!src->read(frame)) throw RunnerError(ErrorCode::Source, "--source: no frame in '" + source + "'");
    Preprocessor(detector->input()).run(frame, blob);
  }
  Backend& backend = detector->backend();
  for (long long i = 0; i < warmup && !stop.load(); ++i) backend.infer(blob.data(), 1);
  std::vector<double> inferMs;
  for (long long i = 0; i < iterations && !stop.load(); ++i) {
    const auto t0 = Clock::now();
    backend.infer(blob.data(), 1);
    inferMs.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  const double meanMs = inferMs.empty() ? 0 : std::accumulate(inferMs.begin(), inferMs.end(), 0.0) / inferMs.size();
  const double inferFps = meanMs > 0 ? 1000.0 / meanMs : 0;

  JsonWriter w;
  w.beginObject()
      .key("type").string("bench")
      .key("backend").string(cfg.backend)
      .key("model").string(detector->decoder().name)
      .key("modelPath").string(detector->modelPath())
      .key("input").beginObject().key("width").integer(detector->input().width)
      .key("height").integer(detector->input().height).endObject()
      .key("cluster").string(clusterModeName(cfg.cluster.mode))
      .key("inferOnly").beginObject()
      .key("iterations").integer(static_cast<long long>(inferMs.size()))
      .key("warmup").integer(warmup)
      .key("fps").number(inferFps, 2)
      .key("meanMs").number(meanMs)
      .key("p50").number(percentile(inferMs, 50))
      .key("p95").number(percentile(inferMs, 95))
      .key("p99").number(percentile(inferMs, 99))
      .endObject();

  if (!batchSizes.empty()) {
    // Inference-only throughput per batch size: the same frame `b` times in one call, `iterations`
    // frames per size (at least one call), after `warmup` frames of warm-up at that size.
    w.key("batched").beginArray();
    for (int b : batchSizes) {
      if (b > backend.maxBatch()) {
        logWarning("bench: batch " + std::to_string(b) + " skipped: the model runs at most " +
                   std::to_string(backend.maxBatch()) + " frames per call");
        continue;
      }
      std::vector<float> many;
      for (int k = 0; k < b; ++k) many.insert(many.end(), blob.begin(), blob.end());
      const long long calls = std::max<long long>(1, iterations / b);
      for (long long i = 0; i < std::max<long long>(1, warmup / b) && !stop.load(); ++i) backend.infer(many.data(), b);
      const auto t0 = Clock::now();
      const std::clock_t cpu0 = std::clock();  // the process's CPU time, every thread
      long long done = 0;
      for (; done < calls && !stop.load(); ++done) backend.infer(many.data(), b);
      const double s = std::chrono::duration<double>(Clock::now() - t0).count();
      const double cpuS = static_cast<double>(std::clock() - cpu0) / CLOCKS_PER_SEC;
      w.beginObject()
          .key("batch").integer(b)
          .key("calls").integer(done)
          .key("fps").number(s > 0 ? static_cast<double>(done * b) / s : 0, 2)
          .key("callMs").number(done ? s * 1000.0 / static_cast<double>(done) : 0)
          .key("cpuMsPerFrame").number(done ? cpuS * 1000.0 / static_cast<double>(done * b) : 0)
          .endObject();
    }
    w.endArray();
  }

  if (!source.empty()) {
    // The real run loop (capture thread + bounded queue + inference + post), frames not printed;
    // the source loops so short clips still give `frames` frames.
    CameraOptions camOpt;
    camOpt.loop = true;
    std::vector<std::unique_ptr<Camera>> cams;
    cams.push_back(std::make_unique<Camera>(CameraSpec{"0", source}, camOpt));
    cams.front()->openFile();
    PipelineOptions opt;
    opt.maxFrames = frames;
    opt.statsInterval = 1e6;
    opt.emitFrames = false;
    const PipelineSummary s = runPipeline(*detector, cams, opt, stop, [](const std::string&) {});
    const double e2eFps = s.wallS > 0 ? s.frames / s.wallS : 0;
    const double e2eInferMean = s.inferMs.mean();
    w.key("endToEnd").beginObject()
        .key("source").string(source)
        .key("frames").integer(s.frames)
        .key("fps").number(e2eFps, 2)
        .key("inferMeanMs").number(e2eInferMean)
        .key("ratio").number(inferFps > 0 ? e2eFps / inferFps : 0, 3)
        .endObject();
  }

  ClusterParams post = cfg.cluster;
  const float threshold = cfg.preClusterThreshold ? *cfg.preClusterThreshold : 0.2f;
  const PostBench nmsB = benchPost(ClusterMode::Nms, post, threshold);
  const PostBench dbB = benchPost(ClusterMode::Dbscan, post, threshold);
  w.key("post").beginObject()
      .key("grid").string("46x26")
      .key("frames").integer(64)
      .key("candidatesMean").number(nmsB.meanCandidates, 1)
      .key("decodeNmsUs").number(nmsB.medianUs, 2)
      .key("nmsBoxesMean").number(nmsB.meanOutputs, 2)
      .key("decodeDbscanUs").number(dbB.medianUs, 2)
      .key("dbscanBoxesMean").number(dbB.meanOutputs, 2)
      .endObject();
  w.endObject();
  emitLine(w.str());
  return 0;
}

}  // namespace facefleet
