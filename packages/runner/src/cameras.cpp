#include "facefleet/cameras.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>
#include <sstream>

#include "facefleet/errors.hpp"

namespace facefleet {

bool isCameraId(const std::string& id) {
  // The protocol's id rule (packages/protocol ids.ts): a camera id may become an MQTT topic level.
  return !id.empty() && id.size() <= 64 && std::isalnum(static_cast<unsigned char>(id[0])) &&
         std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
  });
}

CameraSpec parseCameraSpec(const std::string& text, const std::string& defaultId) {
  const auto eq = text.find('=');
  if (eq != std::string::npos && isCameraId(text.substr(0, eq))) return {text.substr(0, eq), text.substr(eq + 1)};
  return {defaultId, text};
}

void parseSourcesText(const std::string& text, const std::string& label, std::vector<CameraSpec>& out) {
  std::istringstream in(text);
  std::string raw;
  int lineNo = 0;
  while (std::getline(in, raw)) {
    ++lineNo;
    const auto b = raw.find_first_not_of(" \t\r");
    if (b == std::string::npos || raw[b] == '#') continue;
    const std::string line = raw.substr(b, raw.find_last_not_of(" \t\r") - b + 1);
    CameraSpec spec = parseCameraSpec(line, std::to_string(out.size()));
    if (spec.source.empty())
      throw RunnerError(ErrorCode::BadArgs, label + ":" + std::to_string(lineNo) + ": camera '" + spec.id +
                                                "' has an empty source");
    out.push_back(spec);
  }
}

void checkCameras(const std::vector<CameraSpec>& cameras) {
  if (cameras.size() > kMaxCameras)
    throw RunnerError(ErrorCode::BadArgs, "--source: " + std::to_string(cameras.size()) + " cameras; at most " +
                                              std::to_string(kMaxCameras));
  std::set<std::string> seen;
  for (const CameraSpec& c : cameras) {
    if (c.source.empty()) throw RunnerError(ErrorCode::BadArgs, "--source: camera '" + c.id + "' has an empty source");
    if (!seen.insert(c.id).second)
      throw RunnerError(ErrorCode::BadArgs, "--source: camera id '" + c.id + "' is used twice");
  }
}

const char* cameraStateName(CameraState state) {
  switch (state) {
    case CameraState::Connecting: return "connecting";
    case CameraState::Online: return "online";
    case CameraState::Reconnecting: return "reconnecting";
    case CameraState::Ended: return "ended";
    case CameraState::Failed: return "failed";
  }
  return "failed";
}

double reconnectDelayS(const ReconnectPolicy& p, int attempt, double u) {
  const double base = std::min(p.maxS, p.initialS * std::pow(p.factor, std::max(0, attempt - 1)));
  return std::max(0.0, base * (1.0 + p.jitter * (2.0 * std::clamp(u, 0.0, 1.0) - 1.0)));
}

}  // namespace facefleet
