// nvinfer config files and flags: values land where they should, errors name key and line.
#include <gtest/gtest.h>

#include "facefleet/config.hpp"
#include "facefleet/errors.hpp"

using namespace facefleet;

namespace {

// The published FaceNet config (deepstream_tao_apps configs/nvinfer/facial_tao), trimmed of its
// licence header, plus keys this runner adds or maps.
const char* kFacenet = R"(# comment
[property]
gpu-id=0
net-scale-factor=0.0039215697906911373
tlt-model-key=nvidia_tlt
tlt-encoded-model=../../../models/facenet/facenet.etlt
labelfile-path=labels_facenet.txt
int8-calib-file=../../../models/facenet/facenet_cal.txt
model-engine-file=../../../models/facenet/facenet.etlt_b1_gpu0_int8.engine
onnx-file=facenet.onnx
infer-dims=3;416;736
uff-input-order=0
uff-input-blob-name=input_1
batch-size=1
process-mode=1
model-color-format=0
## 0=FP32, 1=INT8, 2=FP16 mode
network-mode=1
num-detected-classes=1
interval=0
gie-unique-id=1
output-blob-names=output_bbox/BiasAdd;output_cov/Sigmoid
cluster-mode=1

[class-attrs-all]
pre-cluster-threshold=0.3
group-threshold=1
## Set eps=0.7 and minBoxes for cluster-mode=1(DBSCAN)
eps=0.6
minBoxes=3
dbscan-min-score=0.9
nms-iou-threshold=0.4
topk=20
detected-min-h=12
)";

std::string errorOf(const std::string& text) {
  RunnerConfig c;
  std::vector<std::string> w;
  try {
    applyNvinferConfig(c, text, "f.txt", "/cfg", w);
  } catch (const RunnerError& e) {
    EXPECT_EQ(e.code(), ErrorCode::BadArgs);
    return e.what();
  }
  return "";
}

}  // namespace

TEST(NvinferConfig, ReadsFaceNetConfig) {
  RunnerConfig c;
  std::vector<std::string> warnings;
  applyNvinferConfig(c, kFacenet, "facenet.txt", "/etc/ds", warnings);
  EXPECT_TRUE(warnings.empty()) << warnings.front();
  ASSERT_TRUE(c.netScaleFactor.has_value());
  EXPECT_FLOAT_EQ(*c.netScaleFactor, 1.0f / 255.0f);
  ASSERT_TRUE(c.inferDims.has_value());
  EXPECT_EQ((*c.inferDims)[1], 416);
  EXPECT_EQ((*c.inferDims)[2], 736);
  EXPECT_EQ(c.outputBlobNames, (std::vector<std::string>{"output_bbox/BiasAdd", "output_cov/Sigmoid"}));
  EXPECT_EQ(c.engineFile, "/etc/ds/../../../models/facenet/facenet.etlt_b1_gpu0_int8.engine");
  EXPECT_EQ(c.onnxFile, "/etc/ds/facenet.onnx");
  EXPECT_EQ(c.inputBlobName, "input_1");
  EXPECT_EQ(c.cluster.mode, ClusterMode::Dbscan);
  EXPECT_FLOAT_EQ(*c.preClusterThreshold, 0.3f);
  EXPECT_FLOAT_EQ(c.cluster.eps, 0.6f);
  EXPECT_FLOAT_EQ(c.cluster.minSamples, 3.0f);
  EXPECT_FLOAT_EQ(c.cluster.minScore, 0.9f);
  EXPECT_FLOAT_EQ(c.cluster.nmsIou, 0.4f);
  EXPECT_EQ(c.cluster.topk, 20);
  EXPECT_FLOAT_EQ(c.cluster.minHeight, 12.0f);
  // Model path follows the backend.
  EXPECT_EQ(c.modelPath(), "/etc/ds/facenet.onnx");
  c.backend = "tensorrt";
  EXPECT_EQ(c.modelPath(), c.engineFile);
  c.model = "/x.plan";
  EXPECT_EQ(c.modelPath(), "/x.plan");
}

TEST(NvinferConfig, ClusterModeNumbering) {
  const std::pair<const char*, ClusterMode> cases[] = {
      {"1", ClusterMode::Dbscan}, {"2", ClusterMode::Nms}, {"3", ClusterMode::Hybrid}, {"4", ClusterMode::None}};
  for (const auto& [num, mode] : cases) {
    RunnerConfig c;
    c.cluster.mode = ClusterMode::Hybrid == mode ? ClusterMode::None : ClusterMode::Hybrid;
    std::vector<std::string> w;
    applyNvinferConfig(c, std::string("[property]\ncluster-mode=") + num + "\n", "f", "", w);
    EXPECT_EQ(c.cluster.mode, mode) << num;
    EXPECT_TRUE(w.empty());
  }
  RunnerConfig c;
  c.cluster.mode = ClusterMode::Dbscan;
  std::vector<std::string> w;
  applyNvinferConfig(c, "[property]\ncluster-mode=0\n", "f", "", w);
  EXPECT_EQ(c.cluster.mode, ClusterMode::Nms);  // groupRectangles -> NMS, with a warning
  ASSERT_EQ(w.size(), 1u);
  EXPECT_NE(w[0].find("groupRectangles"), std::string::npos);
  EXPECT_NE(w[0].find("f:2: cluster-mode"), std::string::npos);
}

TEST(NvinferConfig, BadValuesNameKeyAndLine) {
  EXPECT_EQ(errorOf("[property]\n\nnet-scale-factor=abc\n"), "f.txt:3: net-scale-factor: 'abc' is not a number");
  EXPECT_NE(errorOf("[class-attrs-all]\npre-cluster-threshold=1.5\n").find("f.txt:2: pre-cluster-threshold"),
            std::string::npos);
  EXPECT_NE(errorOf("[property]\ninfer-dims=3;416\n").find("f.txt:2: infer-dims"), std::string::npos);
  EXPECT_NE(errorOf("[property]\ncluster-mode=7\n").find("f.txt:2: cluster-mode"), std::string::npos);
  EXPECT_NE(errorOf("[property]\nmodel-color-format=2\n").find("f.txt:2: model-color-format"), std::string::npos);
  EXPECT_NE(errorOf("[class-attrs-all]\ntopk=2.5\n").find("f.txt:2: topk: '2.5' is not an integer"),
            std::string::npos);
  EXPECT_NE(errorOf("[property]\nnum-detected-classes=4\n").find("f.txt:2: num-detected-classes"),
            std::string::npos);
  EXPECT_NE(errorOf("[property]\njust a line\n").find("f.txt:2:"), std::string::npos);
  EXPECT_NE(errorOf("gpu-id=0\n").find("f.txt:1: gpu-id: key outside a [group]"), std::string::npos);
  EXPECT_EQ(errorOf("[property]\ngpu-id=0\n"), "");
}

TEST(NvinferConfig, UnknownKeysWarnWithLine) {
  RunnerConfig c;
  std::vector<std::string> w;
  applyNvinferConfig(c,
                     "[property]\nnet-scale-factr=1\n[class-attrs-all]\ndetected-min-w=4\nfoo=1\n[class-attrs-2]\n"
                     "eps=0.1\n",
                     "f", "", w);
  ASSERT_EQ(w.size(), 4u);
  EXPECT_NE(w[0].find("f:2: net-scale-factr: unknown key"), std::string::npos);
  EXPECT_NE(w[1].find("f:4: detected-min-w: not applied"), std::string::npos);
  EXPECT_NE(w[2].find("f:5: foo: unknown key"), std::string::npos);
  EXPECT_NE(w[3].find("f:6: unknown group [class-attrs-2]"), std::string::npos);
  EXPECT_FALSE(c.netScaleFactor.has_value());
  EXPECT_FLOAT_EQ(c.cluster.eps, ClusterParams{}.eps);  // [class-attrs-2] ignored
}

TEST(NvinferConfig, InlineCommentsAndInputSpec) {
  RunnerConfig c;
  std::vector<std::string> w;
  applyNvinferConfig(c, "[property]\nmodel-color-format=1 # BGR\noffsets=1;2;3\nmaintain-aspect-ratio=1\n", "f", "", w);
  const InputSpec s = c.inputSpec(Decoder::create("detectnet_v2"));
  EXPECT_FALSE(s.rgb);
  EXPECT_TRUE(s.letterbox);
  EXPECT_FLOAT_EQ(s.offsets[2], 3.0f);
  EXPECT_EQ(s.width, 736);  // decoder default kept
  EXPECT_FLOAT_EQ(c.threshold(Decoder::create("detectnet_v2")), 0.2f);
  EXPECT_FLOAT_EQ(c.threshold(Decoder::create("blazeface")), 0.5f);
}

TEST(Flags, OverrideTheConfigFile) {
  const std::string path = ::testing::TempDir() + "facefleet_cfg_test.txt";
  {
    FILE* f = std::fopen(path.c_str(), "w");
    std::fputs("[property]\nonnx-file=model.onnx\ncluster-mode=1\n[class-attrs-all]\nnms-iou-threshold=0.3\n", f);
    std::fclose(f);
  }
  std::vector<std::string> w;
  // Flag before --config still wins: the file is applied first, then every flag.
  RunnerConfig c = parseRunArgs({"--nms-iou-threshold", "0.45", "--config", path, "--source=/v.avi", "--loop",
                                 "--max-frames", "10"},
                                w);
  EXPECT_FLOAT_EQ(c.cluster.nmsIou, 0.45f);
  EXPECT_EQ(c.cluster.mode, ClusterMode::Dbscan);
  EXPECT_EQ(c.source, "/v.avi");
  EXPECT_TRUE(c.loop);
  EXPECT_FALSE(c.pace);
  EXPECT_EQ(c.maxFrames, 10);
  EXPECT_EQ(c.maxFps, 0);
  EXPECT_EQ(c.modelPath(), ::testing::TempDir() + "model.onnx");
  c = parseRunArgs({"--config", path, "--source", "x", "--cluster", "hybrid", "--model", "/m.onnx"}, w);
  EXPECT_EQ(c.cluster.mode, ClusterMode::Hybrid);
  EXPECT_EQ(c.modelPath(), "/m.onnx");
  std::remove(path.c_str());
}

TEST(Flags, ErrorsNameTheFlag) {
  auto err = [](std::vector<std::string> args) -> std::string {
    std::vector<std::string> w;
    try {
      parseRunArgs(args, w);
    } catch (const RunnerError& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_EQ(err({"--model", "m", "--source", "s", "--bogus"}), "--bogus: unknown flag (see --help)");
  EXPECT_EQ(err({"--model", "m", "--source"}), "--source: missing value");
  EXPECT_EQ(err({"--model", "m", "--source", "s", "--cluster", "kmeans"}),
            "--cluster: 'kmeans' is not one of none, nms, dbscan, hybrid");
  EXPECT_EQ(err({"--model", "m", "--source", "s", "--stats-interval", "0"}), "--stats-interval: 0 must be > 0");
  EXPECT_EQ(err({"--model", "m", "--source", "s", "--max-fps", "-1"}),
            "--max-fps: -1 must be >= 0 and <= 1000 (0 = no limit)");
  EXPECT_EQ(err({"--model", "m", "--source", "s", "--loop=1"}), "--loop: takes no value");
  EXPECT_NE(err({"--model", "m"}).find("--source: required"), std::string::npos);
  EXPECT_NE(err({"--source", "s"}).find("--model: required"), std::string::npos);
  EXPECT_NE(err({"--model", "m", "--source", "s", "--config", "/nonexistent/x.txt"}).find("--config: cannot read"),
            std::string::npos);
  EXPECT_EQ(err({"--model", "m", "--source", "s", "--pre-cluster-threshold", "nan"}),
            "--pre-cluster-threshold: 'nan' is not a number");
}

// DeepStream's enable-dla / use-dla-core, and --dla-core over them (-1 = back to the GPU).
TEST(NvinferConfig, DlaKeysAndTheDlaCoreFlag) {
  RunnerConfig c;
  std::vector<std::string> w;
  EXPECT_EQ(c.dlaCore(), -1);
  applyNvinferConfig(c, "[property]\nuse-dla-core=1\n", "f.txt", "/cfg", w);
  EXPECT_EQ(c.dlaCore(), -1) << "use-dla-core alone does not enable the DLA";
  applyNvinferConfig(c, "[property]\nenable-dla=1\n", "f.txt", "/cfg", w);
  EXPECT_EQ(c.dlaCore(), 1);
  RunnerConfig d;
  applyNvinferConfig(d, "[property]\nenable-dla=1\n", "f.txt", "/cfg", w);
  EXPECT_EQ(d.dlaCore(), 0) << "DeepStream's default use-dla-core is 0";
  EXPECT_TRUE(w.empty());
  EXPECT_EQ(errorOf("[property]\nenable-dla=2\n"), "f.txt:2: enable-dla: 2 must be 0 or 1");
  EXPECT_EQ(errorOf("[property]\nuse-dla-core=-1\n"), "f.txt:2: use-dla-core: -1 is not a DLA core (0..15)");

  const std::string path = ::testing::TempDir() + "facefleet_dla_test.txt";
  {
    FILE* f = std::fopen(path.c_str(), "w");
    std::fputs("[property]\nenable-dla=1\nuse-dla-core=1\n", f);
    std::fclose(f);
  }
  EXPECT_EQ(parseRunArgs({"--config", path, "--source", "s", "--model", "m"}, w).dlaCore(), 1);
  EXPECT_EQ(parseRunArgs({"--config", path, "--source", "s", "--model", "m", "--dla-core", "0"}, w).dlaCore(), 0);
  EXPECT_EQ(parseRunArgs({"--config", path, "--source", "s", "--model", "m", "--dla-core=-1"}, w).dlaCore(), -1);
  std::remove(path.c_str());
  try {
    parseRunArgs({"--source", "s", "--model", "m", "--dla-core", "x"}, w);
    ADD_FAILURE() << "expected bad_args";
  } catch (const RunnerError& e) {
    EXPECT_EQ(std::string(e.what()), "--dla-core: 'x' is not an integer");
  }
}
