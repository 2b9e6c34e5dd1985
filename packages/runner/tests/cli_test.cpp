// The real binary as the agent sees it: stdout lines, exit codes, signals, the tool subcommands.
#include <gtest/gtest.h>

#include <csignal>
#include <fstream>

#include "facefleet/sha256.hpp"
#include "test_support.hpp"

using namespace testsupport;
using Keys = std::vector<std::string>;

namespace {

void expectError(const RunResult& r, int exitCode, const std::string& code, const std::string& inMessage) {
  EXPECT_EQ(r.exitCode, exitCode);
  ASSERT_FALSE(r.lines.empty());
  const auto v = parseLine(r.lines.back());
  EXPECT_EQ(v.keys(), (Keys{"type", "ts", "code", "message"}));
  EXPECT_EQ(v["type"].str, "error");
  EXPECT_EQ(v["code"].str, code);
  EXPECT_NE(v["message"].str.find(inMessage), std::string::npos) << v["message"].str;
}

}  // namespace

TEST(Cli, DetectNetModelRunsEndToEndOnVideo) {
  ASSERT_TRUE(haveModel(kDetectNet));
  ASSERT_TRUE(haveSample("Megamind.avi"));
  const auto r = run({"--model", modelPath(kDetectNet), "--source", samplePath("Megamind.avi"), "--max-frames", "4",
                      "--cluster", "dbscan"});
  ASSERT_EQ(r.exitCode, 0);
  ASSERT_EQ(r.lines.size(), 7u);  // hello, the camera's state, 4 frames, final stats
  const auto hello = parseLine(r.lines[0]);
  const auto camera = parseLine(r.lines[1]);
  EXPECT_EQ(camera.keys(), (Keys{"type", "ts", "id", "state"}));
  EXPECT_EQ(camera["type"].str, "camera");
  EXPECT_EQ(camera["id"].str, "0");
  EXPECT_EQ(camera["state"].str, "online");
  EXPECT_EQ(hello.keys(), (Keys{"type", "v", "runner", "backend", "model", "modelPath", "modelSha256", "input",
                                "source", "sourceKind", "cluster", "cameras", "batch", "pid", "ts"}));
  ASSERT_EQ(hello["cameras"].items.size(), 1u);
  EXPECT_EQ(hello["cameras"].items[0]["id"].str, "0");
  EXPECT_EQ(hello["cameras"].items[0]["source"].str, hello["source"].str);
  EXPECT_EQ(hello["batch"]["size"].num, 1);
  EXPECT_EQ(hello["type"].str, "hello");
  EXPECT_EQ(hello["backend"].str, "opencv");
  EXPECT_EQ(hello["model"].str, "detectnet_v2");
  EXPECT_EQ(hello["modelSha256"].str, facefleet::sha256File(modelPath(kDetectNet)));
  EXPECT_EQ(hello["modelPath"].str.front(), '/');
  EXPECT_EQ(hello["input"]["width"].num, 736);
  EXPECT_EQ(hello["input"]["height"].num, 416);
  EXPECT_EQ(hello["sourceKind"].str, "file");
  EXPECT_EQ(hello["cluster"].str, "dbscan");
  for (int i = 2; i <= 5; ++i) {
    const auto f = parseLine(r.lines[i]);
    EXPECT_EQ(f["type"].str, "frame");
    EXPECT_EQ(f["camera"].str, "0");  // one camera without an id is camera "0"
    EXPECT_EQ(f["index"].num, i - 2);
    EXPECT_EQ(f["width"].num, 720);
    EXPECT_EQ(f["height"].num, 528);
    EXPECT_EQ(f["faces"].num, static_cast<double>(f["boxes"].items.size()));
    EXPECT_GT(f["ms"]["infer"].num, 0);
    EXPECT_GE(f["ts"].num, hello["ts"].num);
  }
  const auto stats = parseLine(r.lines[6]);
  EXPECT_EQ(stats["type"].str, "stats");
  EXPECT_EQ(stats["frames"].num, 4);
  EXPECT_EQ(stats["dropped"].num, 0);
}

TEST(Cli, ReadsADeepStreamConfigAndFlagsOverrideIt) {
  ASSERT_TRUE(haveModel(kDetectNet));
  ASSERT_TRUE(haveSample("messi5.jpg"));
  const std::string dir = tempDir("cfg");
  writeText(dir + "/config_infer_primary_facenet.txt",
            "[property]\nnet-scale-factor=0.0039215697906911373\ninfer-dims=3;416;736\n"
            "output-blob-names=output_bbox/BiasAdd;output_cov/Sigmoid\nonnx-file=" + modelPath(kDetectNet) +
                "\ncluster-mode=3\nsome-typo=1\n[class-attrs-all]\npre-cluster-threshold=0.2\n");
  auto r = run({"--config", dir + "/config_infer_primary_facenet.txt", "--source", samplePath("messi5.jpg")});
  ASSERT_EQ(r.exitCode, 0);
  EXPECT_EQ(parseLine(r.lines[0])["cluster"].str, "hybrid");
  EXPECT_EQ(parseLine(r.lines[0])["sourceKind"].str, "images");
  r = run({"--config", dir + "/config_infer_primary_facenet.txt", "--source", samplePath("messi5.jpg"), "--cluster",
           "none"});
  ASSERT_EQ(r.exitCode, 0);
  EXPECT_EQ(parseLine(r.lines[0])["cluster"].str, "none");
  writeText(dir + "/bad.txt", "[property]\n# c\ninfer-dims=3;416;x\n");
  expectError(run({"--config", dir + "/bad.txt", "--source", samplePath("messi5.jpg")}), 2, "bad_args",
              "bad.txt:3: infer-dims");
}

TEST(Cli, ExitCodesPerErrorClass) {
  ASSERT_TRUE(haveModel(kDetectNet));
  ASSERT_TRUE(haveSample("messi5.jpg"));
  const std::string img = samplePath("messi5.jpg");
  expectError(run({"--model", modelPath(kDetectNet), "--source", img, "--cluster", "kmeans"}), 2, "bad_args",
              "--cluster");
  expectError(run({"--source", img}), 2, "bad_args", "--model");
  expectError(run({"frobnicate"}), 2, "bad_args", "unknown command");
  expectError(run({"--model", "/nonexistent/model.onnx", "--source", img}), 3, "model_load", "/nonexistent/model.onnx");
  // A model that does not fit the decoder's input layout is a load error, not a runtime one.
  expectError(run({"--model", modelPath(kDetectNet), "--decoder", "blazeface", "--input", "736x416", "--source", img}),
              3, "model_load", "does not accept the configured input");
  expectError(run({"--model", modelPath(kDetectNet), "--source", "/nonexistent/video.avi"}), 4, "source",
              "/nonexistent/video.avi");
  // A live source that cannot be opened: with --no-reconnect it is the runner's error, as a file is
  // (by default it is retried: tests/multicam_test.cpp).
  expectError(run({"--model", modelPath(kDetectNet), "--source", "/dev/video99", "--no-reconnect"}), 4, "source",
              "/dev/video99");
  expectError(run({"--model", modelPath(kDetectNet), "--backend", "tensorrt", "--source", img}), 2, "bad_args",
              "tensorrt");
}

TEST(Cli, SigtermFinishesTheFrameAndPrintsFinalStats) {
  ASSERT_TRUE(haveModel(kBlazeBack));
  ASSERT_TRUE(haveSample("Megamind.avi"));
  Runner r({"--decoder", "blazeface", "--model", modelPath(kBlazeBack), "--source", samplePath("Megamind.avi"),
            "--loop"});
  std::string line;
  int frames = 0;
  while (frames < 3 && r.readLine(line))
    if (line.find("\"type\":\"frame\"") != std::string::npos) ++frames;
  ASSERT_EQ(frames, 3);
  r.signal(SIGTERM);
  std::vector<std::string> rest = r.readAll();
  EXPECT_EQ(r.wait(), 0);
  ASSERT_FALSE(rest.empty());
  const auto last = parseLine(rest.back());
  EXPECT_EQ(last["type"].str, "stats");
  for (const auto& l : rest) EXPECT_NO_THROW(minijson::parse(l)) << l;
}

TEST(Cli, MaxFpsSkipsFramesOfAPacedVideo) {
  ASSERT_TRUE(haveModel(kBlazeBack));
  ASSERT_TRUE(haveSample("Megamind.avi"));
  // Megamind.avi plays at 24 FPS; at most 4 of its frames per second are taken.
  const auto r = run({"--decoder", "blazeface", "--model", modelPath(kBlazeBack), "--source", samplePath("Megamind.avi"),
                      "--pace", "--max-fps", "4", "--max-frames", "4"});
  ASSERT_EQ(r.exitCode, 0);
  ASSERT_EQ(r.lines.size(), 7u);  // hello, the camera's state, 4 frames, final stats
  const auto hello = parseLine(r.lines[0]);
  EXPECT_EQ(parseLine(r.lines[1])["type"].str, "camera");
  std::vector<long long> index;
  std::vector<double> captured;
  for (int i = 2; i <= 5; ++i) {
    const auto f = parseLine(r.lines[i]);
    ASSERT_EQ(f["type"].str, "frame");
    index.push_back(static_cast<long long>(f["index"].num));
    // When the frame was captured: the line's time less its end-to-end latency.
    captured.push_back(f["ts"].num - f["ms"]["total"].num);
  }
  // A paced frame's time is its place in the file, so at 24 FPS exactly every 6th frame is taken,
  // however busy the machine is; the frames in between are skipped yet keep their source index
  // (without the limit the indices would be 0, 1, 2, 3). A taken frame is processed unless the
  // detector is still busy with the one before: a paced file is a live source, whose stale frame
  // is dropped — which a loaded machine makes happen, so a gap may be 12 or 18, never another step.
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(index[i] % 6, 0) << "frame " << i << " has index " << index[i];
    if (i > 0) {
      EXPECT_GT(index[i], index[i - 1]);
    }
  }
  // Paced: frame n is not read before n/24 s after the runner started (hello precedes the capture
  // threads; 5 ms for the millisecond rounding of both times). Unpaced, all four took ~50 ms here.
  EXPECT_GE(captured[3] - hello["ts"].num, index[3] * 1000.0 / 24 - 5);
  // Skipped frames are not "dropped" (stale frames the detector could not keep up with): the stats
  // count the taken frames that were not processed as dropped and the others as skipped.
  const auto stats = parseLine(r.lines[6]);
  ASSERT_EQ(stats["type"].str, "stats");
  ASSERT_EQ(stats["cameras"].items.size(), 1u);
  const double skipped = stats["cameras"].items[0]["skipped"].num;
  const double dropped = stats["dropped"].num;
  EXPECT_GE(skipped, index[3] - index[3] / 6);
  EXPECT_GE(dropped, index[3] / 6 + 1 - 4);
  EXPECT_LT(dropped, skipped);
}

TEST(Cli, LoopRestartsTheFolderAndMaxFramesStops) {
  ASSERT_TRUE(haveModel(kBlazeBack));
  ASSERT_TRUE(haveSample("messi5.jpg"));
  const std::string dir = tempDir("imgs");
  copyFile(samplePath("messi5.jpg"), dir + "/b.jpg");
  copyFile(samplePath("fruits.jpg"), dir + "/a.jpg");
  writeText(dir + "/notes.txt", "not an image");
  const auto r = run({"--decoder", "blazeface", "--model", modelPath(kBlazeBack), "--source", dir, "--loop",
                      "--max-frames", "5"});
  ASSERT_EQ(r.exitCode, 0);
  ASSERT_EQ(r.lines.size(), 8u);  // hello, camera, 5 frames, stats
  EXPECT_EQ(parseLine(r.lines[0])["sourceKind"].str, "images");
  // Sorted: a.jpg (fruits, 0 faces), b.jpg (messi, 1 face), a, b, a.
  const double expected[] = {0, 1, 0, 1, 0};
  for (int i = 0; i < 5; ++i) EXPECT_EQ(parseLine(r.lines[2 + i])["faces"].num, expected[i]) << i;
}

TEST(Cli, DecodeToolOnRawTensors) {
  const std::string dir = tempDir("decode");
  const int W = 46, H = 26, P = W * H;
  std::vector<float> bbox(4 * P, 0.0f), cov(P, 0.0f);
  const int k = 10 * W + 20;  // column 20, row 10
  cov[k] = 0.9f;
  bbox[k] = 0.2f;
  bbox[P + k] = 0.4f;
  bbox[2 * P + k] = 0.6f;
  bbox[3 * P + k] = 0.8f;
  std::ofstream(dir + "/bbox.bin", std::ios::binary).write(reinterpret_cast<char*>(bbox.data()), bbox.size() * 4);
  std::ofstream(dir + "/cov.bin", std::ios::binary).write(reinterpret_cast<char*>(cov.data()), cov.size() * 4);
  auto r = run({"decode", "--bbox", dir + "/bbox.bin", "--cov", dir + "/cov.bin", "--grid", "46x26", "--input",
                "736x416", "--cluster", "nms"});
  ASSERT_EQ(r.exitCode, 0);
  ASSERT_EQ(r.lines.size(), 1u);
  const auto v = parseLine(r.lines[0]);
  EXPECT_EQ(v["type"].str, "detections");
  ASSERT_EQ(v["count"].num, 1);
  const auto& b = v["boxes"].items[0];
  EXPECT_NEAR(b["x"].num, 16 * 20 + 0.5 - 35 * 0.2, 0.01);  // 313.5
  EXPECT_NEAR(b["y"].num, 16 * 10 + 0.5 - 35 * 0.4, 0.01);  // 146.5
  EXPECT_NEAR(b["w"].num, 35 * (0.2 + 0.6), 0.01);
  EXPECT_NEAR(b["h"].num, 35 * (0.4 + 0.8), 0.01);
  EXPECT_NEAR(b["conf"].num, 0.9, 1e-4);
  // --precision full: every float32 exactly as the decoder computed it (parity checks beyond the
  // 0.01 px of the default), read back bit for bit.
  r = run({"decode", "--bbox", dir + "/bbox.bin", "--cov", dir + "/cov.bin", "--grid", "46x26", "--precision",
           "full"});
  ASSERT_EQ(r.exitCode, 0);
  const auto full = parseLine(r.lines[0])["boxes"].items[0];
  const float x1 = 16 * 20 + 0.5f - 35.0f * 0.2f, y1 = 16 * 10 + 0.5f - 35.0f * 0.4f;
  EXPECT_EQ(static_cast<float>(full["x"].num), x1);
  EXPECT_EQ(static_cast<float>(full["y"].num), y1);
  EXPECT_EQ(static_cast<float>(full["w"].num), (16 * 20 + 0.5f + 35.0f * 0.6f) - x1);
  EXPECT_EQ(static_cast<float>(full["conf"].num), 0.9f);
  r = run({"decode", "--bbox", dir + "/bbox.bin", "--cov", dir + "/cov.bin", "--grid", "46x26", "--precision", "0"});
  EXPECT_EQ(parseLine(r.lines[0])["boxes"].items[0]["x"].num, 314);  // 313.5 to 0 decimals
  expectError(run({"decode", "--bbox", dir + "/bbox.bin", "--cov", dir + "/cov.bin", "--grid", "46x26",
                   "--precision", "12"}),
              2, "bad_args", "--precision");
  r = run({"decode", "--bbox", dir + "/bbox.bin", "--cov", dir + "/cov.bin", "--grid", "46x26",
           "--pre-cluster-threshold", "0.95"});
  ASSERT_EQ(r.exitCode, 0);
  EXPECT_EQ(parseLine(r.lines[0])["count"].num, 0);
  expectError(run({"decode", "--bbox", dir + "/bbox.bin", "--cov", dir + "/cov.bin", "--grid", "40x26"}), 2,
              "bad_args", "--bbox");
}

TEST(Cli, EvalScoresALabelledFolder) {
  ASSERT_TRUE(haveModel(kBlazeBack));
  ASSERT_TRUE(haveSample("messi5.jpg"));
  const std::string dir = tempDir("eval");
  ::mkdir((dir + "/images").c_str(), 0755);
  ::mkdir((dir + "/labels").c_str(), 0755);
  copyFile(samplePath("messi5.jpg"), dir + "/images/messi.jpg");
  copyFile(samplePath("fruits.jpg"), dir + "/images/fruits.jpg");
  writeText(dir + "/labels/messi.txt", "face 0.00 0 0.00 221.00 96.00 257.00 132.00 0 0 0 0 0 0 0\n");
  writeText(dir + "/labels/fruits.txt", "");
  auto r = run({"eval", "--decoder", "blazeface", "--model", modelPath(kBlazeBack), "--images", dir + "/images",
                "--labels", dir + "/labels"});
  ASSERT_EQ(r.exitCode, 0);
  auto v = parseLine(r.lines.back());
  EXPECT_EQ(v["type"].str, "eval");
  EXPECT_EQ(v["images"].num, 2);
  EXPECT_EQ(v["groundTruths"].num, 1);
  EXPECT_EQ(v["apMode"].str, "voc2010");
  EXPECT_EQ(v["ap"].num, 1);
  EXPECT_EQ(v["apAll"].keys(), (Keys{"voc2007", "voc2010", "tao", "tao-sample"}));
  EXPECT_EQ(v["apAll"]["voc2007"].num, 1);
  EXPECT_EQ(v["apAll"]["tao-sample"].num, 1);
  EXPECT_EQ(v["apAll"]["tao"].num, 0);  // one detection: TAO INTEGRATE leaves its precision out
  EXPECT_EQ(v["recall"].num, 1);
  r = run({"eval", "--decoder", "blazeface", "--model", modelPath(kBlazeBack), "--images", dir + "/images",
           "--labels", dir + "/labels", "--ap-mode", "tao-sample"});
  ASSERT_EQ(r.exitCode, 0);
  EXPECT_EQ(parseLine(r.lines.back())["apMode"].str, "tao-sample");
  EXPECT_EQ(parseLine(r.lines.back())["ap"].num, 1);
  expectError(run({"eval", "--decoder", "blazeface", "--model", modelPath(kBlazeBack), "--images", dir + "/images",
                   "--labels", dir + "/labels", "--ap-mode", "integrate"}),
              2, "bad_args", "--ap-mode");
  // A label somewhere else: the detection becomes a false positive and the face a miss.
  writeText(dir + "/labels/messi.txt", "face 0 0 0 10 10 40 40 0 0 0 0 0 0 0\n");
  r = run({"eval", "--decoder", "blazeface", "--model", modelPath(kBlazeBack), "--images", dir + "/images",
           "--labels", dir + "/labels"});
  ASSERT_EQ(r.exitCode, 0);
  v = parseLine(r.lines.back());
  EXPECT_EQ(v["ap"].num, 0);
  EXPECT_EQ(v["falsePositives"].num, 1);
}

TEST(Cli, BenchReportsInferenceEndToEndAndPostProcessing) {
  ASSERT_TRUE(haveModel(kBlazeBack));
  ASSERT_TRUE(haveSample("Megamind.avi"));
  const auto r = run({"bench", "--decoder", "blazeface", "--model", modelPath(kBlazeBack), "--source",
                      samplePath("Megamind.avi"), "--iterations", "5", "--warmup", "1", "--frames", "6"});
  ASSERT_EQ(r.exitCode, 0);
  ASSERT_EQ(r.lines.size(), 1u);
  const auto v = parseLine(r.lines[0]);
  EXPECT_EQ(v["type"].str, "bench");
  EXPECT_EQ(v["inferOnly"]["iterations"].num, 5);
  EXPECT_GT(v["inferOnly"]["fps"].num, 0);
  EXPECT_EQ(v["endToEnd"]["frames"].num, 6);
  EXPECT_GT(v["endToEnd"]["fps"].num, 0);
  EXPECT_GT(v["post"]["decodeNmsUs"].num, 0);
  EXPECT_GT(v["post"]["decodeDbscanUs"].num, 0);
  // The synthetic grids hold 2-6 faces: clustering must end near that count, not at the candidates.
  EXPECT_GT(v["post"]["candidatesMean"].num, 20);
  EXPECT_LT(v["post"]["dbscanBoxesMean"].num, 8);
}
