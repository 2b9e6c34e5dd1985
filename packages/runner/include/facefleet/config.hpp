// Runner configuration: flags, plus DeepStream nvinfer config files
// (config_infer_primary_facenet.txt style). Flags override the file. Pure code.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "facefleet/cameras.hpp"
#include "facefleet/cluster.hpp"
#include "facefleet/decode.hpp"
#include "facefleet/tensor.hpp"

namespace facefleet {

struct RunnerConfig {
  std::string backend = "opencv";
  std::string decoder = "detectnet_v2";
  std::string model;       // --model: the file the backend loads (wins over the config file's)
  std::string onnxFile;    // config onnx-file (opencv backend)
  std::string engineFile;  // config model-engine-file (tensorrt backend)

  // Input overrides; unset = the decoder's defaults.
  std::optional<float> netScaleFactor;
  std::optional<std::array<float, 3>> offsets;
  std::optional<bool> rgb;
  std::optional<bool> letterbox;
  std::optional<std::array<int, 3>> inferDims;  // C;H;W
  std::string inputBlobName;
  std::vector<std::string> outputBlobNames;

  ClusterParams cluster;
  std::optional<float> preClusterThreshold;
  std::optional<BoxClip> bboxClip;  // --bbox-clip; unset = boxClip()'s default
  bool fromNvinferConfig = false;   // a DeepStream nvinfer config file was applied

  std::vector<CameraSpec> cameras;  // --source [ID=]SRC (repeatable), --sources FILE, [sourceN]
  bool camerasFromConfig = false;   // the cameras came from the config file (a --source replaces them)
  int batchSize = 0;                // frames per inference at most; 0 = maxBatch()'s default
  int inferenceLanes = 0;           // --inference-lanes; 0 = lanes()'s default
  double batchTimeoutMs = 40.0;     // how long a batch waits for a slow camera
  ReconnectPolicy reconnect;
  bool loop = false;
  bool pace = false;
  long long maxFrames = 0;  // 0 = unlimited
  double maxFps = 0;        // 0 = every frame the source delivers
  double statsInterval = 5.0;
  int threads = 0;  // 0 = OpenCV's default
  // DLA (TensorRT on Xavier/Orin): --dla-core, else the config's enable-dla + use-dla-core.
  std::optional<int> dlaCoreFlag;
  bool enableDla = false;
  int useDlaCore = 0;

  // --model, else the config file's engine (tensorrt) or onnx file (others).
  std::string modelPath() const;
  InputSpec inputSpec(const Decoder& decoder) const;
  float threshold(const Decoder& decoder) const;
  // The batch size the detector is created with: --batch-size (or [streammux] batch-size), else one
  // frame per camera with the tensorrt backend and 1 with opencv (CPU batches save no CPU time and
  // cost memory and latency).
  int maxBatch() const;
  // Model instances inferring side by side, each on its own thread (the cameras shared among them):
  // --inference-lanes, else min(cores, cameras) with opencv — one OpenCV DNN forward at a time does
  // not keep a multi-core CPU busy — and 1 with tensorrt, where one batched engine is the point.
  // Never more than the cameras: a camera is in one lane at a time.
  int lanes(unsigned cores) const;
  // OpenCV worker threads for each model instance: --threads, else the cores split among the
  // inference lanes when there are several (two lanes on two cores: one thread each, measured
  // faster than two threads each, which make each forward wait on the other lane's parallel loop;
  // packages/runner/README.md), else 0 = OpenCV's default (every core for the one forward).
  int cpuThreads(unsigned cores) const;
  // --bbox-clip, else DeepStream's clamp when the settings come from an nvinfer config file (the
  // user runs a DeepStream deployment), else TAO's [0, W] clip.
  BoxClip boxClip() const;
  DecodeOptions decodeOptions(const Decoder& decoder) const;
  std::vector<std::string> outputNames(const Decoder& decoder) const;
  // The DLA core TensorRT is to use, -1 = the GPU.
  int dlaCore() const;
};

// Applies an nvinfer config text. `label` names the file in messages ("<label>:<line>: <key>: ...");
// relative paths resolve against baseDir. Throws RunnerError(BadArgs) on a bad value or line;
// unknown keys and keys the runner does not apply are appended to `warnings`.
void applyNvinferConfig(RunnerConfig& cfg, const std::string& text, const std::string& label,
                        const std::string& baseDir, std::vector<std::string>& warnings);
// Reads and applies a config file (throws RunnerError(BadArgs) when unreadable).
void loadNvinferConfig(RunnerConfig& cfg, const std::string& path, std::vector<std::string>& warnings);

// Command-line parsing: "--name value", "--name=value", boolean "--name".
struct Flag {
  std::string name;  // without the leading "--"
  std::string value;
};
// Splits args into flags; `valueFlags` take a value, `boolFlags` do not. Throws RunnerError(BadArgs)
// on an unknown flag, a missing value or a stray positional argument.
std::vector<Flag> parseFlags(const std::vector<std::string>& args, const std::vector<std::string>& valueFlags,
                             const std::vector<std::string>& boolFlags);

// Flags shared by run/bench/eval/decode: backend, decoder, model and cluster options.
extern const std::vector<std::string> kModelFlags;
extern const std::vector<std::string> kClusterFlags;
// The run command's own flags (source and pipeline).
extern const std::vector<std::string> kRunValueFlags;
extern const std::vector<std::string> kRunBoolFlags;

// Applies one flag from the lists above; returns false when the flag is not one of them.
// Throws RunnerError(BadArgs) naming the flag on a bad value.
bool applyFlag(RunnerConfig& cfg, const Flag& flag);

// Full run-command parse: --config first (if given), then every flag over it.
RunnerConfig parseRunArgs(const std::vector<std::string>& args, std::vector<std::string>& warnings);

// Number parsing helpers shared with the tools; throw RunnerError(BadArgs) with `what` in the message.
double parseNumber(const std::string& text, const std::string& what);
long long parseInteger(const std::string& text, const std::string& what);
// "736x416" -> {736, 416}
std::array<int, 2> parseSize(const std::string& text, const std::string& what);

std::string configUsage();

}  // namespace facefleet
