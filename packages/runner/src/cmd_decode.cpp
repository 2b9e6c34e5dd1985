// `decode`: GridBox decode + clustering on raw float32 tensors from files (fixtures, dumps from a
// device), without any model. Prints one {"type":"detections"} line in network-input pixels, with
// 2 decimals (conf 4) by default, --precision N decimals (conf N+2), or --precision full: every
// float32 exactly, for parity checks against another implementation.
#include <fstream>
#include <iterator>

#include "facefleet/cli.hpp"
#include "facefleet/cluster.hpp"
#include "facefleet/config.hpp"
#include "facefleet/errors.hpp"
#include "facefleet/gridbox.hpp"
#include "facefleet/json.hpp"

namespace facefleet {
namespace {

std::vector<float> readFloats(const std::string& path, std::size_t expected, const std::string& flag) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw RunnerError(ErrorCode::BadArgs, flag + ": cannot read '" + path + "'");
  std::vector<char> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (bytes.size() != expected * sizeof(float))
    throw RunnerError(ErrorCode::BadArgs, flag + ": '" + path + "' has " + std::to_string(bytes.size()) +
                                              " bytes, expected " + std::to_string(expected * sizeof(float)) +
                                              " (" + std::to_string(expected) + " little-endian float32)");
  std::vector<float> out(expected);
  // Little-endian float32 on disk; the runner targets little-endian CPUs (x86_64, aarch64).
  static_assert(sizeof(float) == 4, "float32");
  std::copy(bytes.begin(), bytes.end(), reinterpret_cast<char*>(out.data()));
  return out;
}

}  // namespace

int decodeCommand(const std::vector<std::string>& args) {
  std::vector<std::string> valueFlags = {"bbox", "cov", "grid", "input", "precision"};
  valueFlags.insert(valueFlags.end(), kClusterFlags.begin(), kClusterFlags.end());
  RunnerConfig cfg;
  std::string bboxPath, covPath;
  std::array<int, 2> grid{0, 0}, input{736, 416};
  int decimals = 2;
  for (const Flag& f : parseFlags(args, valueFlags, {})) {
    if (f.name == "bbox") bboxPath = f.value;
    else if (f.name == "cov") covPath = f.value;
    else if (f.name == "grid") grid = parseSize(f.value, "--grid");
    else if (f.name == "input") input = parseSize(f.value, "--input");
    else if (f.name == "precision") {
      if (f.value == "full") {
        decimals = kFullPrecision;
      } else {
        const long long d = parseInteger(f.value, "--precision");
        if (d < 0 || d > 7) throw RunnerError(ErrorCode::BadArgs, "--precision: " + f.value + " is not 0..7 or full");
        decimals = static_cast<int>(d);
      }
    }
    else applyFlag(cfg, f);
  }
  if (bboxPath.empty()) throw RunnerError(ErrorCode::BadArgs, "--bbox: required (float32 4xHxW)");
  if (covPath.empty()) throw RunnerError(ErrorCode::BadArgs, "--cov: required (float32 1xHxW)");
  if (grid[0] == 0) throw RunnerError(ErrorCode::BadArgs, "--grid: required (WxH, e.g. 46x26)");
  const std::size_t plane = static_cast<std::size_t>(grid[0]) * grid[1];
  const auto bbox = readFloats(bboxPath, 4 * plane, "--bbox");
  const auto cov = readFloats(covPath, plane, "--cov");
  GridBoxParams p;
  p.threshold = cfg.preClusterThreshold ? *cfg.preClusterThreshold : 0.2f;
  p.clip = cfg.boxClip();
  Boxes boxes;
  decodeGridBox(bbox.data(), cov.data(), grid[0], grid[1], input[0], input[1], p, boxes);
  Clusterer(cfg.cluster).run(boxes);
  emitLine(detectionsLine(boxes, decimals));
  return 0;
}

}  // namespace facefleet
