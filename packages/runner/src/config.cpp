#include "facefleet/config.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "facefleet/errors.hpp"

namespace facefleet {
namespace {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

std::vector<std::string> splitList(const std::string& s) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in(s);
  while (std::getline(in, item, ';')) {
    item = trim(item);
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

std::string joinPath(const std::string& base, const std::string& p) {
  if (p.empty() || p[0] == '/' || base.empty()) return p;
  return base + (base.back() == '/' ? "" : "/") + p;
}

[[noreturn]] void bad(const std::string& message) { throw RunnerError(ErrorCode::BadArgs, message); }

// Xavier and Orin have 2 DLA cores; the limit only catches typos.
constexpr int kMaxDlaCore = 15;

float parseUnit(const std::string& v, const std::string& what) {
  const double d = parseNumber(v, what);
  if (d < 0 || d > 1) bad(what + ": " + v + " is outside [0, 1]");
  return static_cast<float>(d);
}

float parseNonNegative(const std::string& v, const std::string& what) {
  const double d = parseNumber(v, what);
  if (d < 0) bad(what + ": " + v + " must not be negative");
  return static_cast<float>(d);
}

// Keys shared by flags and the config file (same meaning, flag spelling in parentheses).
void setPreCluster(RunnerConfig& c, const std::string& v, const std::string& w) { c.preClusterThreshold = parseUnit(v, w); }
void setNmsIou(RunnerConfig& c, const std::string& v, const std::string& w) { c.cluster.nmsIou = parseUnit(v, w); }
void setTopk(RunnerConfig& c, const std::string& v, const std::string& w) { c.cluster.topk = static_cast<int>(parseInteger(v, w)); }
void setEps(RunnerConfig& c, const std::string& v, const std::string& w) { c.cluster.eps = parseNonNegative(v, w); }
void setMinBoxes(RunnerConfig& c, const std::string& v, const std::string& w) { c.cluster.minSamples = parseNonNegative(v, w); }
void setMinScore(RunnerConfig& c, const std::string& v, const std::string& w) { c.cluster.minScore = parseNonNegative(v, w); }
void setMinH(RunnerConfig& c, const std::string& v, const std::string& w) { c.cluster.minHeight = parseNonNegative(v, w); }
void setBatchSize(RunnerConfig& c, const std::string& v, const std::string& w) {
  const long long b = parseInteger(v, w);
  if (b < 1 || b > static_cast<long long>(kMaxCameras)) bad(w + ": " + v + " must be 1..64");
  c.batchSize = static_cast<int>(b);
}

// nvinfer's 0/1 switches.
bool parseSwitch(const std::string& v, const std::string& w) {
  const long long f = parseInteger(v, w);
  if (f != 0 && f != 1) bad(w + ": " + v + " must be 0 or 1");
  return f == 1;
}

void setLetterbox(RunnerConfig& c, const std::string& v, const std::string& w) { c.letterbox = parseSwitch(v, w); }
void setEnableDla(RunnerConfig& c, const std::string& v, const std::string& w) { c.enableDla = parseSwitch(v, w); }
void setUseDlaCore(RunnerConfig& c, const std::string& v, const std::string& w) {
  const long long n = parseInteger(v, w);
  if (n < 0 || n > kMaxDlaCore) bad(w + ": " + v + " is not a DLA core (0.." + std::to_string(kMaxDlaCore) + ")");
  c.useDlaCore = static_cast<int>(n);
}

using Setter = std::function<void(RunnerConfig&, const std::string& value, const std::string& what,
                                  const std::string& baseDir, std::vector<std::string>& warnings)>;

Setter plain(void (*f)(RunnerConfig&, const std::string&, const std::string&)) {
  return [f](RunnerConfig& c, const std::string& v, const std::string& w, const std::string&,
             std::vector<std::string>&) { f(c, v, w); };
}

const std::map<std::string, Setter>& propertyKeys() {
  static const std::map<std::string, Setter> keys = {
      {"net-scale-factor",
       [](RunnerConfig& c, const std::string& v, const std::string& w, const std::string&, std::vector<std::string>&) {
         const double d = parseNumber(v, w);
         if (!(d > 0)) bad(w + ": " + v + " must be > 0");
         c.netScaleFactor = static_cast<float>(d);
       }},
      {"offsets",
       [](RunnerConfig& c, const std::string& v, const std::string& w, const std::string&, std::vector<std::string>&) {
         const auto parts = splitList(v);
         if (parts.size() != 3) bad(w + ": expected 3 values separated by ';', got '" + v + "'");
         std::array<float, 3> o{};
         for (int i = 0; i < 3; ++i) o[i] = static_cast<float>(parseNumber(parts[i], w));
         c.offsets = o;
       }},
      {"model-color-format",
       [](RunnerConfig& c, const std::string& v, const std::string& w, const std::string&, std::vector<std::string>&) {
         const long long f = parseInteger(v, w);
         if (f != 0 && f != 1) bad(w + ": " + v + " is not supported (0 = RGB, 1 = BGR)");
         c.rgb = f == 0;
       }},
      {"maintain-aspect-ratio", plain(setLetterbox)},
      {"infer-dims",
       [](RunnerConfig& c, const std::string& v, const std::string& w, const std::string&, std::vector<std::string>&) {
         const auto parts = splitList(v);
         if (parts.size() != 3) bad(w + ": expected C;H;W, got '" + v + "'");
         std::array<int, 3> d{};
         for (int i = 0; i < 3; ++i) {
           const long long x = parseInteger(parts[i], w);
           if (x <= 0 || x > 16384) bad(w + ": dimension " + parts[i] + " out of range");
           d[i] = static_cast<int>(x);
         }
         if (d[0] != 3) bad(w + ": only 3-channel input is supported, got C=" + parts[0]);
         c.inferDims = d;
       }},
      {"output-blob-names",
       [](RunnerConfig& c, const std::string& v, const std::string& w, const std::string&, std::vector<std::string>&) {
         c.outputBlobNames = splitList(v);
         if (c.outputBlobNames.empty()) bad(w + ": empty list");
       }},
      {"uff-input-blob-name",
       [](RunnerConfig& c, const std::string& v, const std::string&, const std::string&, std::vector<std::string>&) {
         c.inputBlobName = v;
       }},
      {"model-engine-file",
       [](RunnerConfig& c, const std::string& v, const std::string&, const std::string& base, std::vector<std::string>&) {
         c.engineFile = joinPath(base, v);
       }},
      {"onnx-file",
       [](RunnerConfig& c, const std::string& v, const std::string&, const std::string& base, std::vector<std::string>&) {
         c.onnxFile = joinPath(base, v);
       }},
      {"cluster-mode",
       [](RunnerConfig& c, const std::string& v, const std::string& w, const std::string&, std::vector<std::string>& warn) {
         switch (parseInteger(v, w)) {
           case 0:
             warn.push_back(w + ": 0 (OpenCV groupRectangles) is not implemented; using NMS");
             c.cluster.mode = ClusterMode::Nms;
             break;
           case 1: c.cluster.mode = ClusterMode::Dbscan; break;
           case 2: c.cluster.mode = ClusterMode::Nms; break;
           case 3: c.cluster.mode = ClusterMode::Hybrid; break;
           case 4: c.cluster.mode = ClusterMode::None; break;
           default: bad(w + ": " + v + " is not a cluster mode (0-4)");
         }
       }},
      {"enable-dla", plain(setEnableDla)},
      {"use-dla-core", plain(setUseDlaCore)},
      {"num-detected-classes",
       [](RunnerConfig&, const std::string& v, const std::string& w, const std::string&, std::vector<std::string>&) {
         if (parseInteger(v, w) != 1) bad(w + ": " + v + " classes; the face decoders handle exactly 1");
       }},
  };
  return keys;
}

const std::map<std::string, Setter>& classKeys() {
  static const std::map<std::string, Setter> keys = {
      {"pre-cluster-threshold", plain(setPreCluster)}, {"threshold", plain(setPreCluster)},
      {"nms-iou-threshold", plain(setNmsIou)},        {"topk", plain(setTopk)},
      {"eps", plain(setEps)},                          {"minBoxes", plain(setMinBoxes)},
      {"dbscan-min-score", plain(setMinScore)},        {"detected-min-h", plain(setMinH)},
  };
  return keys;
}

// DeepStream keys that do not change what this runner computes (GPU/batching/engine-build knobs,
// labels, TAO model packaging): accepted silently so stock configs load without noise.
const std::set<std::string>& silentPropertyKeys() {
  static const std::set<std::string> keys = {
      "gpu-id", "tlt-model-key", "tlt-encoded-model", "labelfile-path", "int8-calib-file", "uff-input-order",
      "uff-input-dims", "batch-size", "process-mode", "network-mode", "interval", "gie-unique-id",
      "network-type", "symmetric-padding", "custom-lib-path", "parse-bbox-func-name", "output-tensor-meta",
      "scaling-filter", "scaling-compute-hw", "workspace-size", "force-implicit-batch-dim", "model-file", "proto-file", "uff-file", "input-object-min-width",
      "input-object-min-height", "operate-on-gie-id", "operate-on-class-ids", "filter-out-class-ids",
      "classifier-threshold", "secondary-reinfer-interval", "maintain-aspect-ratio-symmetric"};
  return keys;
}
const std::set<std::string>& silentClassKeys() {
  static const std::set<std::string> keys = {"group-threshold"};  // only used by groupRectangles
  return keys;
}
// DeepStream keys whose effect the runner does not reproduce: loaded, with a warning.
const std::set<std::string>& unappliedClassKeys() {
  static const std::set<std::string> keys = {"post-cluster-threshold", "detected-min-w", "detected-max-w",
                                             "detected-max-h", "roi-top-offset", "roi-bottom-offset"};
  return keys;
}

}  // namespace

double parseNumber(const std::string& text, const std::string& what) {
  const std::string t = trim(text);
  char* end = nullptr;
  errno = 0;
  const double d = std::strtod(t.c_str(), &end);
  if (t.empty() || end != t.c_str() + t.size() || errno == ERANGE || !std::isfinite(d))
    bad(what + ": '" + text + "' is not a number");
  return d;
}

long long parseInteger(const std::string& text, const std::string& what) {
  const std::string t = trim(text);
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(t.c_str(), &end, 10);
  if (t.empty() || end != t.c_str() + t.size() || errno == ERANGE) bad(what + ": '" + text + "' is not an integer");
  return v;
}

std::array<int, 2> parseSize(const std::string& text, const std::string& what) {
  const auto x = text.find('x');
  if (x == std::string::npos) bad(what + ": '" + text + "' is not WIDTHxHEIGHT");
  const long long w = parseInteger(text.substr(0, x), what), h = parseInteger(text.substr(x + 1), what);
  if (w <= 0 || h <= 0 || w > 16384 || h > 16384) bad(what + ": '" + text + "' out of range");
  return {static_cast<int>(w), static_cast<int>(h)};
}

namespace {

// deepstream-app groups that do not change what the runner computes (display, sinks, tracking,
// secondary models, messaging): accepted silently so a whole deepstream-app config loads.
bool silentAppGroup(const std::string& g) {
  static const char* kPrefixes[] = {"application", "tiled-display", "osd", "sink", "tracker", "tests",
                                    "secondary-gie", "secondary-pre-process", "pre-process", "nvds-analytics",
                                    "message-converter", "message-consumer", "img-save", "ds-example",
                                    "source-attr-all"};
  for (const char* p : kPrefixes)
    if (g.rfind(p, 0) == 0) return true;
  return false;
}

bool isSourceGroup(const std::string& g, int& number) {
  if (g.rfind("source", 0) != 0 || g.size() == 6 || g.size() > 9) return false;
  for (std::size_t i = 6; i < g.size(); ++i)
    if (!std::isdigit(static_cast<unsigned char>(g[i]))) return false;
  number = std::stoi(g.substr(6));
  return true;
}

// deepstream-app's uri: file:// paths become plain paths; other schemes are passed to the source.
std::string sourceFromUri(const std::string& uri) {
  if (uri.rfind("file://", 0) == 0) return uri.substr(7);
  return uri;
}

// One [sourceN] group of a deepstream-app config, applied when the group ends.
struct SourceGroup {
  int number = -1;
  std::string where;
  bool enable = true;
  long long type = 2;  // 1 V4L2 camera, 2 URI, 3 multi-URI, 4 RTSP, 5 CSI
  std::string uri;
  long long v4l2Node = 0;
};

void addSource(RunnerConfig& cfg, const SourceGroup& g, std::vector<std::string>& warnings) {
  if (g.number < 0 || !g.enable) return;
  CameraSpec spec;
  spec.id = std::to_string(g.number);
  switch (g.type) {
    case 1: spec.source = "/dev/video" + std::to_string(g.v4l2Node); break;
    case 2:
    case 3:
    case 4:
      if (g.uri.empty()) bad(g.where + ": [source" + spec.id + "] has no uri");
      spec.source = sourceFromUri(g.uri);
      break;
    case 5:
      bad(g.where + ": [source" + spec.id + "] type=5 (CSI camera) is not supported: give an nvarguscamerasrc "
          "GStreamer pipeline ending in appsink with --source instead");
    default: bad(g.where + ": [source" + spec.id + "] type=" + std::to_string(g.type) + " is not a source type (1-5)");
  }
  if (g.type == 3) warnings.push_back(g.where + ": [source" + spec.id + "] type=3: num-sources is not applied (one camera)");
  if (!cfg.camerasFromConfig) {
    cfg.cameras.clear();
    cfg.camerasFromConfig = true;
  }
  cfg.cameras.push_back(spec);
}

void applyConfigText(RunnerConfig& cfg, const std::string& text, const std::string& label, const std::string& baseDir,
                     std::vector<std::string>& warnings, int depth);

void loadConfigFile(RunnerConfig& cfg, const std::string& path, const std::string& what,
                    std::vector<std::string>& warnings, int depth) {
  std::ifstream f(path);
  if (!f) bad(what + ": cannot read '" + path + "'");
  std::stringstream ss;
  ss << f.rdbuf();
  const auto slash = path.rfind('/');
  const std::string base = slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash);
  applyConfigText(cfg, ss.str(), path, base, warnings, depth);
}

void applyConfigText(RunnerConfig& cfg, const std::string& text, const std::string& label, const std::string& baseDir,
                     std::vector<std::string>& warnings, int depth) {
  cfg.fromNvinferConfig = true;
  std::istringstream in(text);
  std::string raw, group;
  SourceGroup source;
  int lineNo = 0;
  while (std::getline(in, raw)) {
    ++lineNo;
    const std::string where = label + ":" + std::to_string(lineNo);
    std::string line = trim(raw);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line[0] == '[') {
      if (line.back() != ']') bad(where + ": malformed group header '" + line + "'");
      addSource(cfg, source, warnings);
      source = SourceGroup{};
      group = trim(line.substr(1, line.size() - 2));
      int number = -1;
      if (isSourceGroup(group, number)) {
        source.number = number;
        source.where = where;
      } else if (group != "property" && group != "class-attrs-all" && group != "class-attrs-0" &&
                 group != "streammux" && group != "primary-gie" && group != "source-list" && !silentAppGroup(group)) {
        warnings.push_back(where + ": unknown group [" + group + "] (its keys are ignored)");
      }
      continue;
    }
    const auto eq = line.find('=');
    if (eq == std::string::npos) bad(where + ": expected key=value, got '" + line + "'");
    const std::string key = trim(line.substr(0, eq));
    std::string value = line.substr(eq + 1);
    // Comments after a value ("model-color-format=0 # RGB"), as some published configs write them.
    const auto hash = value.find(" #");
    if (hash != std::string::npos) value = value.substr(0, hash);
    value = trim(value);
    const std::string what = where + ": " + key;
    if (group.empty()) bad(what + ": key outside a [group]");
    if (group == "property") {
      const auto& keys = propertyKeys();
      if (auto it = keys.find(key); it != keys.end()) it->second(cfg, value, what, baseDir, warnings);
      else if (!silentPropertyKeys().count(key)) warnings.push_back(what + ": unknown key in [property] (ignored)");
    } else if (group == "class-attrs-all" || group == "class-attrs-0") {
      const auto& keys = classKeys();
      if (auto it = keys.find(key); it != keys.end()) it->second(cfg, value, what, baseDir, warnings);
      else if (unappliedClassKeys().count(key)) warnings.push_back(what + ": not applied by facefleet-runner (ignored)");
      else if (!silentClassKeys().count(key)) warnings.push_back(what + ": unknown key in [" + group + "] (ignored)");
    } else if (source.number >= 0) {  // [sourceN]
      if (key == "enable") source.enable = parseInteger(value, what) != 0;
      else if (key == "type") source.type = parseInteger(value, what);
      else if (key == "uri") source.uri = value;
      else if (key == "camera-v4l2-dev-node") source.v4l2Node = parseInteger(value, what);
      else if (key == "rtsp-reconnect-interval-sec") {
        const double s = parseNumber(value, what);
        if (s > 0) cfg.reconnect.initialS = std::min(s, cfg.reconnect.maxS);  // the first retry, then backoff
      }
    } else if (group == "source-list") {  // DeepStream 6.2+: list=uri;uri, sensor-id-list=id;id
      if (key == "list") {
        const auto uris = splitList(value);
        if (!cfg.camerasFromConfig) {
          cfg.cameras.clear();
          cfg.camerasFromConfig = true;
        }
        for (const auto& u : uris)
          cfg.cameras.push_back(CameraSpec{std::to_string(cfg.cameras.size()), sourceFromUri(u)});
      } else if (key == "sensor-id-list") {
        const auto ids = splitList(value);
        if (ids.size() != cfg.cameras.size())
          bad(what + ": " + std::to_string(ids.size()) + " ids for " + std::to_string(cfg.cameras.size()) +
              " sources (list= must come first, one id per uri)");
        for (std::size_t i = 0; i < ids.size(); ++i) {
          if (!isCameraId(ids[i])) bad(what + ": '" + ids[i] + "' is not a camera id (A-Z a-z 0-9 . _ -)");
          cfg.cameras[i].id = ids[i];
        }
      }
    } else if (group == "streammux") {
      if (key == "batch-size") {
        setBatchSize(cfg, value, what);
      } else if (key == "batched-push-timeout") {  // microseconds; -1 = wait for a full batch
        const long long us = parseInteger(value, what);
        cfg.batchTimeoutMs = us < 0 ? 60000.0 : std::min(60000.0, us / 1000.0);
      }
    } else if (group == "primary-gie") {
      if (key == "config-file") {
        if (depth >= 2) bad(what + ": config files nested too deep");
        loadConfigFile(cfg, joinPath(baseDir, value), what, warnings, depth + 1);
      } else if (key == "model-engine-file") {
        cfg.engineFile = joinPath(baseDir, value);
      }
    }
  }
  addSource(cfg, source, warnings);
}

}  // namespace

void applyNvinferConfig(RunnerConfig& cfg, const std::string& text, const std::string& label,
                        const std::string& baseDir, std::vector<std::string>& warnings) {
  applyConfigText(cfg, text, label, baseDir, warnings, 0);
}

void loadNvinferConfig(RunnerConfig& cfg, const std::string& path, std::vector<std::string>& warnings) {
  loadConfigFile(cfg, path, "--config", warnings, 0);
}

std::string RunnerConfig::modelPath() const {
  if (!model.empty()) return model;
  return backend == "tensorrt" ? engineFile : onnxFile;
}

InputSpec RunnerConfig::inputSpec(const Decoder& d) const {
  InputSpec s = d.defaultInput;
  if (netScaleFactor) s.netScaleFactor = *netScaleFactor;
  if (offsets) s.offsets = *offsets;
  if (rgb) s.rgb = *rgb;
  if (letterbox) s.letterbox = *letterbox;
  if (inferDims) {
    s.channels = (*inferDims)[0];
    s.height = (*inferDims)[1];
    s.width = (*inferDims)[2];
  }
  if (!inputBlobName.empty()) s.name = inputBlobName;
  return s;
}

float RunnerConfig::threshold(const Decoder& d) const {
  return preClusterThreshold ? *preClusterThreshold : d.defaultThreshold;
}

BoxClip RunnerConfig::boxClip() const {
  if (bboxClip) return *bboxClip;
  return fromNvinferConfig ? BoxClip::DeepStream : BoxClip::Tao;
}

DecodeOptions RunnerConfig::decodeOptions(const Decoder& d) const {
  DecodeOptions o;
  o.threshold = threshold(d);
  o.clip = boxClip();
  return o;
}

int RunnerConfig::maxBatch() const {
  if (batchSize > 0) return batchSize;
  // One frame per camera, as nvstreammux's batch-size = number of sources — where batching pays:
  // on a GPU. OpenCV DNN on a CPU spends the same CPU time per frame batched or not, and a batch
  // of 4 costs more memory and makes every frame wait for the whole batch (measured:
  // packages/runner/README.md), so there cameras take turns.
  if (backend != "tensorrt") return 1;
  return static_cast<int>(std::max<std::size_t>(1, cameras.size()));
}

int RunnerConfig::lanes(unsigned cores) const {
  // A camera is in one lane at a time, so lanes beyond the camera count would only idle.
  const std::size_t camerasN = std::max<std::size_t>(1, cameras.size());
  if (inferenceLanes > 0) return static_cast<int>(std::min<std::size_t>(inferenceLanes, camerasN));
  if (backend == "tensorrt") return 1;
  return static_cast<int>(std::min<std::size_t>(std::max(1u, cores), camerasN));
}

int RunnerConfig::cpuThreads(unsigned cores) const {
  if (threads > 0) return threads;
  const int n = lanes(cores);
  if (n <= 1) return 0;
  return std::max(1, static_cast<int>(cores) / n);
}

std::vector<std::string> RunnerConfig::outputNames(const Decoder& d) const {
  return outputBlobNames.empty() ? d.defaultOutputNames : outputBlobNames;
}

int RunnerConfig::dlaCore() const {
  if (dlaCoreFlag) return *dlaCoreFlag;
  return enableDla ? useDlaCore : -1;
}

std::vector<Flag> parseFlags(const std::vector<std::string>& args, const std::vector<std::string>& valueFlags,
                             const std::vector<std::string>& boolFlags) {
  auto has = [](const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
  };
  std::vector<Flag> out;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.rfind("--", 0) != 0) bad("unexpected argument '" + a + "' (flags start with --; see --help)");
    std::string name = a.substr(2), value;
    const auto eq = name.find('=');
    const bool inlineValue = eq != std::string::npos;
    if (inlineValue) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (has(valueFlags, name)) {
      if (!inlineValue) {
        if (i + 1 >= args.size()) bad("--" + name + ": missing value");
        value = args[++i];
      }
    } else if (has(boolFlags, name)) {
      if (inlineValue) bad("--" + name + ": takes no value");
    } else {
      bad("--" + name + ": unknown flag (see --help)");
    }
    out.push_back(Flag{name, value});
  }
  return out;
}

const std::vector<std::string> kModelFlags = {"config", "backend", "decoder", "model", "input", "output-blob-names",
                                              "threads", "dla-core"};
const std::vector<std::string> kClusterFlags = {"cluster", "pre-cluster-threshold", "nms-iou-threshold", "topk",
                                                "eps", "min-boxes", "dbscan-min-score", "detected-min-h",
                                                "bbox-clip"};
const std::vector<std::string> kRunValueFlags = {"source",     "sources",          "max-frames",      "max-fps",
                                                 "stats-interval", "batch-size", "batch-timeout-ms", "reconnect-max-s",
                                                 "inference-lanes"};
const std::vector<std::string> kRunBoolFlags = {"loop", "pace", "no-reconnect"};

bool applyFlag(RunnerConfig& c, const Flag& f) {
  const std::string w = "--" + f.name;
  const std::string& v = f.value;
  if (f.name == "config") return true;  // handled first by the caller
  if (f.name == "backend") {
    if (v != "opencv" && v != "tensorrt") bad(w + ": '" + v + "' is not a backend (opencv, tensorrt)");
    c.backend = v;
  } else if (f.name == "decoder") {
    if (v != "detectnet_v2" && v != "blazeface") bad(w + ": '" + v + "' is not a decoder (detectnet_v2, blazeface)");
    c.decoder = v;
  } else if (f.name == "model") {
    if (v.empty()) bad(w + ": empty path");
    c.model = v;
  } else if (f.name == "input") {
    const auto s = parseSize(v, w);
    c.inferDims = std::array<int, 3>{3, s[1], s[0]};
  } else if (f.name == "output-blob-names") {
    c.outputBlobNames = splitList(v);
  } else if (f.name == "threads") {
    const long long n = parseInteger(v, w);
    if (n < 0 || n > 256) bad(w + ": " + v + " out of range");
    c.threads = static_cast<int>(n);
  } else if (f.name == "dla-core") {
    const long long n = parseInteger(v, w);
    if (n < -1 || n > kMaxDlaCore) bad(w + ": " + v + " is not a DLA core (0.." + std::to_string(kMaxDlaCore) + ", -1 = GPU)");
    c.dlaCoreFlag = static_cast<int>(n);
  } else if (f.name == "cluster") {
    if (!parseClusterMode(v, c.cluster.mode)) bad(w + ": '" + v + "' is not one of none, nms, dbscan, hybrid");
  } else if (f.name == "pre-cluster-threshold") {
    setPreCluster(c, v, w);
  } else if (f.name == "nms-iou-threshold") {
    setNmsIou(c, v, w);
  } else if (f.name == "topk") {
    setTopk(c, v, w);
  } else if (f.name == "eps") {
    setEps(c, v, w);
  } else if (f.name == "min-boxes") {
    setMinBoxes(c, v, w);
  } else if (f.name == "dbscan-min-score") {
    setMinScore(c, v, w);
  } else if (f.name == "detected-min-h") {
    setMinH(c, v, w);
  } else if (f.name == "bbox-clip") {
    BoxClip clip;
    if (!parseBoxClip(v, clip)) bad(w + ": '" + v + "' is not tao or deepstream");
    c.bboxClip = clip;
  } else if (f.name == "source" || f.name == "sources") {
    if (c.camerasFromConfig) {  // the command line replaces the config file's cameras
      c.cameras.clear();
      c.camerasFromConfig = false;
    }
    if (f.name == "source") {
      const CameraSpec spec = parseCameraSpec(v, std::to_string(c.cameras.size()));
      if (spec.source.empty()) bad(w + ": empty source" + (v.empty() ? "" : " for camera '" + spec.id + "'"));
      c.cameras.push_back(spec);
    } else {
      std::ifstream file(v);
      if (!file) bad(w + ": cannot read '" + v + "'");
      std::stringstream text;
      text << file.rdbuf();
      parseSourcesText(text.str(), v, c.cameras);
    }
  } else if (f.name == "batch-size") {
    setBatchSize(c, v, w);
  } else if (f.name == "inference-lanes") {
    const long long l = parseInteger(v, w);
    if (l < 1 || l > static_cast<long long>(kMaxCameras)) bad(w + ": " + v + " must be 1..64");
    c.inferenceLanes = static_cast<int>(l);
  } else if (f.name == "batch-timeout-ms") {
    const double ms = parseNumber(v, w);
    if (!(ms >= 0) || ms > 60000) bad(w + ": " + v + " must be 0..60000");
    c.batchTimeoutMs = ms;
  } else if (f.name == "reconnect-max-s") {
    const double s = parseNumber(v, w);
    if (!(s >= 0.1) || s > 3600) bad(w + ": " + v + " must be 0.1..3600");
    c.reconnect.maxS = s;
    c.reconnect.initialS = std::min(c.reconnect.initialS, s);
  } else if (f.name == "no-reconnect") {
    c.reconnect.enabled = false;
  } else if (f.name == "max-frames") {
    const long long n = parseInteger(v, w);
    if (n < 0) bad(w + ": " + v + " must not be negative");
    c.maxFrames = n;
  } else if (f.name == "max-fps") {
    const double fps = parseNumber(v, w);
    if (!(fps >= 0) || fps > 1000) bad(w + ": " + v + " must be >= 0 and <= 1000 (0 = no limit)");
    c.maxFps = fps;
  } else if (f.name == "stats-interval") {
    const double s = parseNumber(v, w);
    if (!(s > 0)) bad(w + ": " + v + " must be > 0");
    c.statsInterval = s;
  } else if (f.name == "loop") {
    c.loop = true;
  } else if (f.name == "pace") {
    c.pace = true;
  } else {
    return false;
  }
  return true;
}

RunnerConfig parseRunArgs(const std::vector<std::string>& args, std::vector<std::string>& warnings) {
  std::vector<std::string> valueFlags = kModelFlags;
  valueFlags.insert(valueFlags.end(), kClusterFlags.begin(), kClusterFlags.end());
  valueFlags.insert(valueFlags.end(), kRunValueFlags.begin(), kRunValueFlags.end());
  const auto flags = parseFlags(args, valueFlags, kRunBoolFlags);
  RunnerConfig cfg;
  for (const Flag& f : flags)
    if (f.name == "config") loadNvinferConfig(cfg, f.value, warnings);
  for (const Flag& f : flags) applyFlag(cfg, f);
  if (cfg.cameras.empty())
    bad("--source: required ([ID=]SRC: image, folder, video, URL, /dev/videoN or GStreamer pipeline; repeat it, or "
        "--sources FILE, for several cameras)");
  checkCameras(cfg.cameras);
  if (cfg.backend == "tensorrt" && cfg.inferenceLanes > 1)
    bad("--inference-lanes: the tensorrt backend runs one lane (" + std::to_string(cfg.inferenceLanes) +
        " given); it batches the cameras into one engine instead (--batch-size)");
  if (cfg.modelPath().empty())
    bad("--model: required (or onnx-file / model-engine-file in the --config file)");
  return cfg;
}

std::string configUsage() {
  return "  --config FILE                     DeepStream nvinfer config ([property], [class-attrs-all]);\n"
         "                                    flags given on the command line override it\n"
         "  --model PATH                      ONNX model (opencv) or serialized engine (tensorrt)\n"
         "  --input WxH                       network input size (default: the decoder's)\n"
         "  --output-blob-names A;B           output tensors to fetch (default: all the model's; the\n"
         "                                    decoder picks its tensors by name or shape)\n"
         "  --threads N                       OpenCV worker threads (default: OpenCV's choice; with several\n"
         "                                    inference lanes, the cores split among them)\n"
         "  --dla-core N                      tensorrt: run on DLA core N (engines built with trtexec\n"
         "                                    --useDLACore; default: the config's enable-dla/use-dla-core,\n"
         "                                    else the GPU; -1 = the GPU)\n";
}

}  // namespace facefleet
