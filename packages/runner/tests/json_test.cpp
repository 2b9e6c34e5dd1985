// The stdout contract: exact key sets per line type, escaping, finite numbers.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>

#include "facefleet/json.hpp"
#include "facefleet/stats.hpp"
#include "mini_json.hpp"

using namespace facefleet;
using Keys = std::vector<std::string>;

TEST(Json, EscapesQuotesBackslashesAndControls) {
  EXPECT_EQ(jsonEscape("a\"b\\c"), "a\\\"b\\\\c");
  EXPECT_EQ(jsonEscape("l1\nl2\t\r"), "l1\\nl2\\t\\r");
  EXPECT_EQ(jsonEscape(std::string("\x01\x1f", 2)), "\\u0001\\u001f");
  EXPECT_EQ(jsonEscape("caf\xc3\xa9"), "caf\xc3\xa9");  // UTF-8 untouched
  const std::string line = errorLine(ErrorCode::Source, "can't open \"/tmp/a\\b\"\n", 5);
  EXPECT_EQ(minijson::parse(line)["message"].str, "can't open \"/tmp/a\\b\"\n");
}

TEST(Json, NumbersAreFiniteAndTrimmed) {
  EXPECT_EQ(formatNumber(12.0, 3), "12");
  EXPECT_EQ(formatNumber(10.5, 3), "10.5");
  EXPECT_EQ(formatNumber(0.87654, 2), "0.88");
  EXPECT_EQ(formatNumber(-0.0001, 2), "0");
  EXPECT_EQ(formatNumber(std::nan(""), 3), "0");
  EXPECT_EQ(formatNumber(std::numeric_limits<double>::infinity(), 3), "0");
  FrameMessage f;
  f.boxes.push_back(Box{std::nanf(""), 1, 2, std::numeric_limits<float>::infinity(), 0.5f});
  f.ms.infer = std::nan("");
  const std::string line = frameLine(f);
  const auto v = minijson::parse(line);  // NaN/Inf would not parse as JSON
  EXPECT_EQ(v["boxes"].items[0]["x"].num, 0);
  EXPECT_EQ(v["ms"]["infer"].num, 0);
}

TEST(Json, HelloHasExactlyTheContractKeys) {
  HelloMessage h;
  h.backend = "opencv";
  h.model = "blazeface";
  h.modelPath = "/m.onnx";
  h.modelSha256 = std::string(64, 'a');
  h.inputWidth = 256;
  h.inputHeight = 128;
  h.source = "/v.avi";
  h.sourceKind = "file";
  h.cluster = "nms";
  h.cameras = {{"0", "/v.avi", "file"}, {"door", "rtsp://cam/s", "stream"}};
  h.batchSize = 2;
  h.batchTimeoutMs = 40;
  h.pid = 42;
  h.ts = 1764270000123;
  const auto v = minijson::parse(helloLine(h));
  EXPECT_EQ(v.keys(), (Keys{"type", "v", "runner", "backend", "model", "modelPath", "modelSha256", "input",
                            "source", "sourceKind", "cluster", "cameras", "batch", "pid", "ts"}));
  ASSERT_EQ(v["cameras"].items.size(), 2u);
  EXPECT_EQ(v["cameras"].items[1].keys(), (Keys{"id", "source", "sourceKind"}));
  EXPECT_EQ(v["cameras"].items[1]["id"].str, "door");
  EXPECT_EQ(v["batch"].keys(), (Keys{"size", "timeoutMs"}));
  EXPECT_EQ(v["batch"]["size"].num, 2);
  EXPECT_EQ(v["input"].keys(), (Keys{"width", "height"}));
  EXPECT_EQ(v["type"].str, "hello");
  EXPECT_EQ(v["v"].num, 1);
  EXPECT_EQ(v["runner"].str, kRunnerVersion);
  EXPECT_EQ(v["input"]["height"].num, 128);
  EXPECT_EQ(v["ts"].num, 1764270000123.0);
  EXPECT_EQ(helloLine(h).find("1764270000123"), helloLine(h).find("\"ts\":") + 5);  // integer, not 1.76e12
}

TEST(Json, FrameHasExactKeysBoxesAsXywhAndAtMost256) {
  FrameMessage f;
  f.camera = "door";
  f.index = 3;
  f.ts = 1000;
  f.width = 720;
  f.height = 528;
  for (int i = 0; i < 300; ++i) f.boxes.push_back(Box{10.5f, 20, 46.5f, 56, i / 1000.0f});
  f.ms = {1.2, 0.8, 12.3, 0.05, 14.5};
  const auto v = minijson::parse(frameLine(f));
  EXPECT_EQ(v.keys(), (Keys{"type", "camera", "index", "ts", "width", "height", "faces", "boxes", "ms"}));
  EXPECT_EQ(v["camera"].str, "door");
  EXPECT_EQ(v["ms"].keys(), (Keys{"capture", "pre", "infer", "post", "total"}));
  EXPECT_EQ(v["faces"].num, 300);
  ASSERT_EQ(v["boxes"].items.size(), 256u);
  const auto& b = v["boxes"].items[0];
  EXPECT_EQ(b.keys(), (Keys{"x", "y", "w", "h", "conf"}));
  EXPECT_EQ(b["x"].num, 10.5);
  EXPECT_EQ(b["w"].num, 36);
  EXPECT_EQ(b["h"].num, 36);
  EXPECT_NEAR(b["conf"].num, 0.299, 1e-9);                         // most confident first
  EXPECT_NEAR(v["boxes"].items[255]["conf"].num, 0.044, 1e-9);     // 300 - 256 least confident cut
  EXPECT_EQ(v["ms"]["post"].num, 0.05);
}

TEST(Json, CameraLineHasExactKeysAndABoundedError) {
  CameraMessage m;
  m.ts = 1764270000123;
  m.id = "yard";
  m.state = "online";
  auto c = minijson::parse(cameraLine(m));
  EXPECT_EQ(c.keys(), (Keys{"type", "ts", "id", "state"}));  // error only when there is one
  EXPECT_EQ(c["type"].str, "camera");
  m.state = "reconnecting";
  m.error = std::string(1023, 'x') + "\xc3\xa9" + std::string(100, 'y');  // é across the 1 KiB cut
  c = minijson::parse(cameraLine(m));
  EXPECT_EQ(c.keys(), (Keys{"type", "ts", "id", "state", "error"}));
  EXPECT_EQ(c["error"].str, std::string(1023, 'x')) << "cut before a split UTF-8 character";
}

TEST(Json, StatsAndErrorHaveExactKeys) {
  StatsWindow w(0);
  for (double ms : {10.0, 20.0, 30.0, 40.0}) w.addFrame(ms);
  w.addDropped(2);
  StatsMessage m = w.take(2000);
  CameraStats cam;
  cam.id = "door";
  cam.state = "reconnecting";
  cam.error = "no frame from rtsp://cam/s";
  cam.reconnects = 1;
  m.cameras = {cam};
  cam.error.clear();
  cam.state = "online";
  m.cameras.push_back(cam);
  const auto s = minijson::parse(statsLine(m));
  EXPECT_EQ(s.keys(),
            (Keys{"type", "ts", "frames", "fps", "inferFps", "latencyMs", "dropped", "windowS", "cameras", "batch"}));
  EXPECT_EQ(s["cameras"].items[0].keys(), (Keys{"id", "state", "frames", "processedFps", "cameraFps", "skipped",
                                                "dropped", "reconnects", "error"}));
  EXPECT_EQ(s["cameras"].items[1].keys().size(), 8u);  // error only when there is one
  EXPECT_EQ(s["batch"].keys(), (Keys{"batches", "meanSize", "inferFps", "batchFps"}));
  EXPECT_EQ(s["batch"]["batches"].num, 4);
  EXPECT_EQ(s["batch"]["meanSize"].num, 1);
  EXPECT_EQ(s["latencyMs"].keys(), (Keys{"p50", "p95", "p99"}));
  EXPECT_EQ(s["frames"].num, 4);
  EXPECT_EQ(s["fps"].num, 2);        // 4 frames / 2 s
  EXPECT_EQ(s["inferFps"].num, 40);  // 1000 / mean 25 ms
  EXPECT_EQ(s["latencyMs"]["p50"].num, 25);
  EXPECT_EQ(s["latencyMs"]["p95"].num, 38.5);
  EXPECT_EQ(s["dropped"].num, 2);
  EXPECT_EQ(s["windowS"].num, 2);
  // The window restarts: an empty window reports zeros, not NaN.
  const auto e = minijson::parse(statsLine(w.take(2000)));
  EXPECT_EQ(e["fps"].num, 0);
  EXPECT_EQ(e["inferFps"].num, 0);
  EXPECT_EQ(e["dropped"].num, 0);
  // Batches: 8 frames in two calls of 4 at 20 ms: 200 frames and 50 calls per second of inference.
  StatsWindow b(0);
  b.addInference(4, 20.0);
  b.addInference(4, 20.0);
  b.addCompleted(7);  // the last frame of the second call never completed (--max-frames reached)
  const StatsMessage bm = b.take(1000);
  EXPECT_EQ(bm.frames, 7);
  EXPECT_DOUBLE_EQ(bm.fps, 7);
  EXPECT_DOUBLE_EQ(bm.batch.meanSize, 4);
  EXPECT_DOUBLE_EQ(bm.inferFps, 200);
  EXPECT_DOUBLE_EQ(bm.batch.batchFps, 50);

  const auto err = minijson::parse(errorLine(ErrorCode::ModelLoad, "x", 7));
  EXPECT_EQ(err.keys(), (Keys{"type", "ts", "code", "message"}));
  EXPECT_EQ(err["code"].str, "model_load");
}

TEST(Json, ErrorCodesAndExitCodes) {
  EXPECT_STREQ(errorCodeName(ErrorCode::BadArgs), "bad_args");
  EXPECT_STREQ(errorCodeName(ErrorCode::Runtime), "runtime");
  EXPECT_EQ(exitCodeFor(ErrorCode::BadArgs), 2);
  EXPECT_EQ(exitCodeFor(ErrorCode::ModelLoad), 3);
  EXPECT_EQ(exitCodeFor(ErrorCode::Source), 4);
  EXPECT_EQ(exitCodeFor(ErrorCode::Runtime), 5);
}

TEST(Json, DetectionsLine) {
  const auto v = minijson::parse(detectionsLine(Boxes{{1, 2, 4, 8, 0.5f}}));
  EXPECT_EQ(v.keys(), (Keys{"type", "count", "boxes"}));
  EXPECT_EQ(v["count"].num, 1);
  EXPECT_EQ(v["boxes"].items[0]["h"].num, 6);
}

TEST(Json, ExactFloatsReadBackBitForBit) {
  for (float f : {0.1f, 0.9f, 313.5f, 1.0f / 3.0f, 735.99994f, 1e-7f, -2.5f, 0.0f}) {
    JsonWriter w;
    w.exactFloat(f);
    EXPECT_EQ(std::strtof(w.str().c_str(), nullptr), f) << w.str();
  }
  JsonWriter w;
  w.beginArray().exactFloat(0.5f).exactFloat(NAN).exactFloat(-0.0f).endArray();
  EXPECT_EQ(w.str(), "[0.5,0,0]");
  const std::string line = detectionsLine(Boxes{{1.0f / 3.0f, 2, 4, 8, 0.5f}}, kFullPrecision);
  EXPECT_NE(line.find("\"x\":0.33333334,"), std::string::npos) << line;  // shortest exact text
  EXPECT_NE(detectionsLine(Boxes{{1.0f / 3.0f, 2, 4, 8, 0.5f}}, 4).find("\"x\":0.3333,"), std::string::npos);
}

TEST(Stats, PercentileInterpolates) {
  EXPECT_EQ(percentile({}, 50), 0);
  EXPECT_EQ(percentile({5}, 99), 5);
  EXPECT_EQ(percentile({4, 1, 3, 2}, 50), 2.5);
  EXPECT_NEAR(percentile({1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 99), 9.91, 1e-9);
}

TEST(Stats, LatencyStatsExactWhileSmall) {
  LatencyStats s;
  for (double ms : {4.0, 1.0, 3.0, 2.0}) s.add(ms);
  EXPECT_EQ(s.count(), 4);
  EXPECT_EQ(s.mean(), 2.5);
  EXPECT_EQ(s.percentile(50), 2.5);
  EXPECT_EQ(s.min(), 1);
  EXPECT_EQ(s.max(), 4);
  s.clear();
  EXPECT_EQ(s.count(), 0);
  EXPECT_EQ(s.percentile(99), 0);
}

// Past kExactSamples the percentiles come from the histogram: within 1% of the exact answer over a
// wide, skewed distribution, with count/mean/min/max still exact.
TEST(Stats, LatencyStatsHistogramStaysWithinOnePercent) {
  LatencyStats s;
  std::vector<double> all;
  std::uint32_t x = 12345;
  for (int i = 0; i < 100000; ++i) {
    x = x * 1664525u + 1013904223u;
    const double u = (x >> 8) / 16777216.0;
    const double ms = 0.05 * std::exp(6.0 * u * u);  // 0.05 ms .. 20 ms, skewed low
    s.add(ms);
    all.push_back(ms);
  }
  EXPECT_EQ(s.count(), 100000);
  double sum = 0;
  for (double v : all) sum += v;
  EXPECT_NEAR(s.mean(), sum / all.size(), 1e-9 * sum);
  for (double p : {1.0, 50.0, 90.0, 95.0, 99.0, 99.9}) {
    const double exact = percentile(all, p);
    EXPECT_NEAR(s.percentile(p), exact, 0.01 * exact) << "p" << p;
  }
  EXPECT_EQ(s.percentile(100), *std::max_element(all.begin(), all.end()));
  EXPECT_EQ(s.percentile(0), *std::min_element(all.begin(), all.end()));
}
