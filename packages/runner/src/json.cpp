#include "facefleet/json.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

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
JsonWriter& JsonWriter::exactFloat(float v) {
  separate();
  if (!std::isfinite(v)) v = 0;
  char buf[32];
  for (int digits = 6; digits <= 9; ++digits) {  // fewest digits that read back exactly
    std::snprintf(buf, sizeof buf, "%.*g", digits, static_cast<double>(v));
    if (std::strtof(buf, nullptr) == v) break;
  }
  out_ += std::string(buf) == "-0" ? "0" : buf;
  return *this;
}

JsonWriter& JsonWriter::integer(long long v) {
  separate();
  out_ += std::to_string(v);
  return *this;
}

namespace {

// decimals: for x,y,w,h (conf gets two more, as in frame lines); kFullPrecision: exact floats.
void writeBoxes(JsonWriter& w, const Boxes& boxes, int decimals = 2) {
  Boxes sorted = boxes;
  std::stable_sort(sorted.begin(), sorted.end(), [](const Box& a, const Box& b) { return a.conf > b.conf; });
  if (sorted.size() > kMaxBoxesPerFrame) sorted.resize(kMaxBoxesPerFrame);
  w.key("boxes").beginArray();
  for (const Box& b : sorted) {
    const float bw = std::max(0.0f, b.x2 - b.x1), bh = std::max(0.0f, b.y2 - b.y1);
    w.beginObject();
    if (decimals == kFullPrecision) {
      w.key("x").exactFloat(b.x1).key("y").exactFloat(b.y1).key("w").exactFloat(bw).key("h").exactFloat(bh);
      w.key("conf").exactFloat(b.conf);
    } else {
      w.key("x").number(b.x1, decimals).key("y").number(b.y1, decimals).key("w").number(bw, decimals);
      w.key("h").number(bh, decimals).key("conf").number(b.conf, decimals + 2);
    }
    w.endObject();
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
  w.key("cameras").beginArray();
  for (const HelloCamera& c : m.cameras)
    w.beginObject().key("id").string(c.id).key("source").string(c.source).key("sourceKind").string(c.sourceKind).endObject();
  w.endArray();
  w.key("batch").beginObject().key("size").integer(m.batchSize).key("timeoutMs").number(m.batchTimeoutMs).endObject();
  if (m.dlaCore >= 0) w.key("dlaCore").integer(m.dlaCore);
  w.key("pid").integer(m.pid).key("ts").integer(m.ts).endObject();
  return w.str();
}

std::string frameLine(const FrameMessage& m) {
  JsonWriter w;
  w.beginObject()
      .key("type").string("frame")
      .key("camera").string(m.camera)
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

namespace {
// At most 1 KiB of a camera's error text, cut at a whole UTF-8 character.
std::string_view errorPrefix(const std::string& error) {
  std::size_t n = std::min<std::size_t>(error.size(), 1024);
  while (n < error.size() && n > 0 && (static_cast<unsigned char>(error[n]) & 0xC0) == 0x80) --n;
  return std::string_view(error).substr(0, n);
}
}  // namespace

std::string cameraLine(const CameraMessage& m) {
  JsonWriter w;
  w.beginObject().key("type").string("camera").key("ts").integer(m.ts).key("id").string(m.id).key("state").string(
      m.state);
  if (!m.error.empty()) w.key("error").string(errorPrefix(m.error));
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
      .key("windowS").number(m.windowS);
  w.key("cameras").beginArray();
  for (const CameraStats& c : m.cameras) {
    w.beginObject()
        .key("id").string(c.id)
        .key("state").string(c.state)
        .key("frames").integer(c.frames)
        .key("processedFps").number(c.processedFps, 2)
        .key("cameraFps").number(c.cameraFps, 2)
        .key("skipped").integer(c.skipped)
        .key("dropped").integer(c.dropped)
        .key("reconnects").integer(c.reconnects);
    if (!c.error.empty()) w.key("error").string(errorPrefix(c.error));
    w.endObject();
  }
  w.endArray();
  w.key("batch").beginObject()
      .key("batches").integer(m.batch.batches)
      .key("meanSize").number(m.batch.meanSize, 2)
      .key("inferFps").number(m.batch.inferFps, 2)
      .key("batchFps").number(m.batch.batchFps, 2)
      .endObject();
  w.endObject();
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

std::string detectionsLine(const Boxes& boxes, int decimals) {
  JsonWriter w;
  w.beginObject().key("type").string("detections").key("count").integer(static_cast<long long>(boxes.size()));
  writeBoxes(w, boxes, decimals);
  w.endObject();
  return w.str();
}

}  // namespace facefleet
