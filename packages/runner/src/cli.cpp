#include "facefleet/cli.hpp"

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <unistd.h>

#include "facefleet/backend.hpp"
#include "facefleet/camera.hpp"
#include "facefleet/config.hpp"
#include "facefleet/decode.hpp"
#include "facefleet/errors.hpp"
#include "facefleet/json.hpp"
#include "facefleet/pipeline.hpp"
#include "facefleet/sha256.hpp"
#include "facefleet/source.hpp"

namespace facefleet {

void emitLine(const std::string& line) {
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

void logWarning(const std::string& message) { std::fprintf(stderr, "facefleet-runner: warning: %s\n", message.c_str()); }

namespace {

std::string absolutePath(const std::string& p) {
  char buf[PATH_MAX];
  return ::realpath(p.c_str(), buf) ? std::string(buf) : p;
}

}  // namespace

int runCommand(const std::vector<std::string>& args, const std::atomic<bool>& stop) {
  std::vector<std::string> warnings;
  const RunnerConfig cfg = parseRunArgs(args, warnings);
  for (const auto& w : warnings) logWarning(w);
  // One detector (model instance) per inference lane; they share the model file, not activations.
  std::vector<std::unique_ptr<Detector>> detectors;
  const unsigned cores = std::thread::hardware_concurrency();
  const int laneCount = cfg.lanes(cores);
  RunnerConfig laneCfg = cfg;
  laneCfg.threads = cfg.cpuThreads(cores);
  for (int l = 0; l < laneCount; ++l) detectors.push_back(Detector::create(laneCfg, cfg.maxBatch()));
  Detector* detector = detectors.front().get();

  CameraOptions camOpt;
  camOpt.loop = cfg.loop;
  camOpt.reconnect = cfg.reconnect;
  std::vector<std::unique_ptr<Camera>> cameras;
  for (const CameraSpec& spec : cfg.cameras) cameras.push_back(std::make_unique<Camera>(spec, camOpt));
  // Files and folders are opened now. With one camera a missing one is the runner's error (exit 4);
  // with several it fails only its own camera, and the others run.
  for (auto& c : cameras) {
    try {
      c->openFile();
    } catch (const RunnerError& e) {
      if (cameras.size() == 1) throw;
      logWarning(e.what());
    }
  }

  HelloMessage hello;
  hello.backend = cfg.backend;
  hello.model = detector->decoder().name;
  hello.modelPath = absolutePath(detector->modelPath());
  try {
    hello.modelSha256 = sha256File(detector->modelPath());
  } catch (const std::exception& e) {
    throw RunnerError(ErrorCode::ModelLoad, std::string("model hash: ") + e.what());
  }
  hello.inputWidth = detector->input().width;
  hello.inputHeight = detector->input().height;
  for (const auto& c : cameras) {
    const SourceKind kind = c->kind();
    const bool local = kind == SourceKind::File || kind == SourceKind::Images;
    hello.cameras.push_back(HelloCamera{c->id(), local ? absolutePath(c->source()) : c->source(), sourceKindName(kind)});
  }
  hello.source = hello.cameras.front().source;
  hello.sourceKind = hello.cameras.front().sourceKind;
  hello.batchSize = detector->maxBatch();
  hello.batchTimeoutMs = cfg.batchTimeoutMs;
  hello.cluster = clusterModeName(cfg.cluster.mode);
  hello.dlaCore = cfg.dlaCore();  // the model loaded, so TensorRT accepted this core
  hello.pid = static_cast<long long>(::getpid());
  hello.ts = epochMs();
  emitLine(helloLine(hello));

  PipelineOptions opt;
  opt.pace = cfg.pace;
  opt.maxFrames = cfg.maxFrames;
  opt.maxFps = cfg.maxFps;
  opt.statsInterval = cfg.statsInterval;
  opt.batchTimeoutMs = cfg.batchTimeoutMs;
  std::vector<Detector*> lanes;
  for (auto& d : detectors) lanes.push_back(d.get());
  const PipelineSummary s = runPipeline(lanes, cameras, opt, stop, emitLine);
  if (s.sourceFailed) throw RunnerError(ErrorCode::Source, s.sourceError.empty() ? "source stopped" : s.sourceError);
  return 0;
}

std::string usage() {
  return std::string("facefleet-runner ") + kRunnerVersion +
         " - face detection runner for facefleet (stdout: one JSON object per line)\n\n"
         "Usage:\n"
         "  facefleet-runner [run] --model PATH --source [ID=]SRC [--source [ID=]SRC ...] [options]\n"
         "  facefleet-runner decode --bbox FILE --cov FILE --grid WxH [--input WxH] [--precision N|full]\n"
         "                          [cluster options]\n"
         "  facefleet-runner bench --model PATH [--source VIDEO] [--iterations N] [--warmup N] [options]\n"
         "  facefleet-runner eval --model PATH --images DIR --labels DIR [--iou F] [--threshold F]\n"
         "                        [--class NAME] [options]\n"
         "  facefleet-runner --help | --version\n\n"
         "Model:\n" +
         configUsage() + backendUsage() + decoderUsage() + "\nClustering:\n" + clusterUsage() + "\nSource (run):\n" +
         sourceUsage() +
         "\nExit codes: 0 ok (end of file source, --max-frames, SIGINT/SIGTERM), 2 bad_args, 3 model_load,\n"
         "4 source, 5 runtime. Each non-zero exit is preceded by one {\"type\":\"error\"} line.\n";
}

int runCli(const std::vector<std::string>& args, const std::atomic<bool>& stop) {
  std::vector<std::string> rest = args;
  std::string command = "run";
  if (!rest.empty() && rest[0].rfind("--", 0) != 0) {
    command = rest[0];
    rest.erase(rest.begin());
  }
  for (const auto& a : rest) {
    if (a == "--help" || a == "-h") {
      std::fputs(usage().c_str(), stdout);
      return 0;
    }
    if (a == "--version") {
      std::printf("%s\n", kRunnerVersion);
      return 0;
    }
  }
  if (command == "help") {
    std::fputs(usage().c_str(), stdout);
    return 0;
  }
  try {
    if (command == "run") return runCommand(rest, stop);
    if (command == "decode") return decodeCommand(rest);
    if (command == "bench") return benchCommand(rest, stop);
    if (command == "eval") return evalCommand(rest);
    throw RunnerError(ErrorCode::BadArgs, "unknown command '" + command + "' (run, decode, bench, eval; see --help)");
  } catch (const RunnerError& e) {
    emitLine(errorLine(e.code(), e.what(), epochMs()));
    std::fprintf(stderr, "facefleet-runner: %s: %s\n", errorCodeName(e.code()), e.what());
    return exitCodeFor(e.code());
  } catch (const std::exception& e) {
    emitLine(errorLine(ErrorCode::Runtime, e.what(), epochMs()));
    std::fprintf(stderr, "facefleet-runner: runtime: %s\n", e.what());
    return exitCodeFor(ErrorCode::Runtime);
  }
}

}  // namespace facefleet
