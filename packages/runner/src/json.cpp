#include "facefleet/json.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace facefleet {

const char* errorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::BadArgs: return "bad_args";
    case ErrorCode::ModelLoad: return "model_load";
    case ErrorCode::Source: return "source";
    case ErrorCode::Runtime: return "runtime";
  }
  return "runtime";
}

int exitCodeFor(ErrorCode code) {
  switch (code) {
    case ErrorCode::BadArgs: return 2;
    case ErrorCode::ModelLoad: return 3;
    case ErrorCode::Source: return 4;
    case ErrorCode::Runtime: return 5;
  }
  return 5;
}

std::string jsonEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);  // UTF-8 passes through unchanged
        }
    }
  }
  return out;
}

std::string formatNumber(double v, int decimals) {
  if (!std::isfinite(v)) v = 0;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", std::clamp(decimals, 0, 9), v);
  std::string s(buf);
  if (s.find('.') != std::string::npos) {
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
  }
  if (s == "-0") s = "0";
  return s;
}

void JsonWriter::separate() {
  if (afterKey_) {
    afterKey_ = false;
    return;
  }
  if (!first_.empty()) {
    if (!first_.back()) out_ += ',';
    first_.back() = false;
  }
}

JsonWriter& JsonWriter::beginObject() {
  separate();
  out_ += '{';
  first_.push_back(true);
  return *this;
}
JsonWriter& JsonWriter::endObject() {
  out_ += '}';
  first_.pop_back();
  return *this;
}
JsonWriter& JsonWriter::beginArray() {
  separate();
  out_ += '[';
  first_.push_back(true);
  return *this;
}
JsonWriter& JsonWriter::endArray() {
  out_ += ']';
  first_.pop_back();
  return *this;
}
JsonWriter& JsonWriter::key(std::string_view k) {
  separate();
  out_ += '"';
  out_ += jsonEscape(k);
  out_ += "\":";
  afterKey_ = true;
  return *this;
}
JsonWriter& JsonWriter::string(std::string_view v) {
  separate();
  out_ += '"';
  out_ += jsonEscape(v);
  out_ += '"';
  return *this;
}
JsonWriter& JsonWriter::number(double v, int decimals) {
  separate();
  out_ += formatNumber(v, decimals);
  return *this;
}
JsonWriter& JsonWriter::integer(long long v) {
  separate();
  out_ += std::to_string(v);
  return *this;
}

namespace {

void writeBoxes(JsonWriter& w, const Boxes& boxes) {
  Boxes sorted = boxes;
  std::stable_sort(sorted.begin(), sorted.end(), [](const Box& a, const Box& b) { return a.conf > b.conf; });
  if (sorted.size() > kMaxBoxesPerFrame) sorted.resize(kMaxBoxesPerFrame);
  w.key("boxes").beginArray();
  for (const Box& b : sorted) {
    w.beginObject()
        .key("x").number(b.x1, 2)
        .key("y").number(b.y1, 2)
        .key("w").number(std::max(0.0f, b.x2 - b.x1), 2)
        .key("h").number(std::max(0.0f, b.y2 - b.y1), 2)
        .key("conf").number(b.conf, 4)
        .endObject();
  }
  w.endArray();
}

}  // namespace

std::string helloLine(const HelloMessage& m) {
  JsonWriter w;
  w.beginObject()
      .key("type").string("hello")
      .key("v").integer(1)
      .key("runner").string(kRunnerVersion)
      .key("backend").string(m.backend)
      .key("model").string(m.model)
      .key("modelPath").string(m.modelPath)
      .key("modelSha256").string(m.modelSha256)
      .key("input").beginObject().key("width").integer(m.inputWidth).key("height").integer(m.inputHeight).endObject()
      .key("source").string(m.source)
      .key("sourceKind").string(m.sourceKind)
      .key("cluster").string(m.cluster);
  if (m.dlaCore >= 0) w.key("dlaCore").integer(m.dlaCore);
  w.key("pid").integer(m.pid)
      .key("ts").integer(m.ts)
      .endObject();
  return w.str();
}

std::string frameLine(const FrameMessage& m) {
  JsonWriter w;
  w.beginObject()
      .key("type").string("frame")
      .key("index").integer(m.index)
      .key("ts").integer(m.ts)
      .key("width").integer(m.width)
      .key("height").integer(m.height)
      .key("faces").integer(static_cast<long long>(m.boxes.size()));
  writeBoxes(w, m.boxes);
  w.key("ms").beginObject()
      .key("capture").number(m.ms.capture)
      .key("pre").number(m.ms.pre)
      .key("infer").number(m.ms.infer)
      .key("post").number(m.ms.post)
      .key("total").number(m.ms.total)
      .endObject();
  w.endObject();
  return w.str();
}

std::string statsLine(const StatsMessage& m) {
  JsonWriter w;
  w.beginObject()
      .key("type").string("stats")
      .key("ts").integer(m.ts)
      .key("frames").integer(m.frames)
      .key("fps").number(m.fps, 2)
      .key("inferFps").number(m.inferFps, 2)
      .key("latencyMs").beginObject()
      .key("p50").number(m.p50)
      .key("p95").number(m.p95)
      .key("p99").number(m.p99)
      .endObject()
      .key("dropped").integer(m.dropped)
      .key("windowS").number(m.windowS)
      .endObject();
  return w.str();
}

std::string errorLine(ErrorCode code, const std::string& message, std::int64_t ts) {
  JsonWriter w;
  w.beginObject()
      .key("type").string("error")
      .key("ts").integer(ts)
      .key("code").string(errorCodeName(code))
      .key("message").string(message)
      .endObject();
  return w.str();
}

std::string detectionsLine(const Boxes& boxes) {
  JsonWriter w;
  w.beginObject().key("type").string("detections").key("count").integer(static_cast<long long>(boxes.size()));
  writeBoxes(w, boxes);
  w.endObject();
  return w.str();
}

}  // namespace facefleet
