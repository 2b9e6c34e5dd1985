// nvinfer config files and flags: values land where they should, errors name key and line.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

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
  ASSERT_EQ(c.cameras.size(), 1u);
  EXPECT_EQ(c.cameras[0].id, "0");  // one camera without an id: camera "0"
  EXPECT_EQ(c.cameras[0].source, "/v.avi");
  EXPECT_EQ(c.maxBatch(), 1);
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

// Settings from a DeepStream config get DeepStream's clamp to the last pixel; flags alone keep
// TAO's [0, W] clip; --bbox-clip decides over both.
TEST(Config, BoxClipFollowsWhereTheSettingsCameFrom) {
  std::vector<std::string> warnings;
  RunnerConfig plain;
  EXPECT_EQ(plain.boxClip(), BoxClip::Tao);
  RunnerConfig ds;
  applyNvinferConfig(ds, kFacenet, "facenet.txt", "/cfg", warnings);
  EXPECT_EQ(ds.boxClip(), BoxClip::DeepStream);
  EXPECT_EQ(ds.decodeOptions(Decoder::create("detectnet_v2")).clip, BoxClip::DeepStream);
  applyFlag(ds, Flag{"bbox-clip", "tao"});
  EXPECT_EQ(ds.boxClip(), BoxClip::Tao);
  applyFlag(plain, Flag{"bbox-clip", "deepstream"});
  EXPECT_EQ(plain.boxClip(), BoxClip::DeepStream);
  try {
    applyFlag(plain, Flag{"bbox-clip", "w-1"});
    FAIL() << "expected bad_args";
  } catch (const RunnerError& e) {
    EXPECT_EQ(e.code(), ErrorCode::BadArgs);
    EXPECT_NE(std::string(e.what()).find("--bbox-clip"), std::string::npos);
  }
}

TEST(Cameras, SourceFlagsNameCamerasAndRejectDuplicates) {
  std::vector<std::string> w;
  RunnerConfig c = parseRunArgs({"--model", "/m.onnx", "--source", "door=rtsp://10.0.0.5/live?user=a", "--source",
                                 "/data/a=b.avi", "--source", "rtsp://10.0.0.6/s?x=1", "--source",
                                 "v4l2src device=/dev/video0 ! videoconvert ! appsink", "--batch-timeout-ms", "25"},
                                w);
  ASSERT_EQ(c.cameras.size(), 4u);
  EXPECT_EQ(c.cameras[0].id, "door");
  EXPECT_EQ(c.cameras[0].source, "rtsp://10.0.0.5/live?user=a");
  EXPECT_EQ(c.cameras[1].id, "1");  // "/data/a" is not an id: the whole text is the path
  EXPECT_EQ(c.cameras[1].source, "/data/a=b.avi");
  EXPECT_EQ(c.cameras[2].id, "2");
  EXPECT_EQ(c.cameras[2].source, "rtsp://10.0.0.6/s?x=1");
  EXPECT_EQ(c.cameras[3].source, "v4l2src device=/dev/video0 ! videoconvert ! appsink");
  EXPECT_EQ(c.maxBatch(), 1);  // opencv on a CPU: cameras take turns (batches save nothing there)
  c.backend = "tensorrt";
  EXPECT_EQ(c.maxBatch(), 4);  // one frame per camera, as nvstreammux's batch-size = sources
  EXPECT_EQ(c.batchTimeoutMs, 25);
  c = parseRunArgs({"--model", "/m.onnx", "--backend", "tensorrt", "--source", "a=x.avi", "--source", "b=y.avi",
                    "--batch-size", "1"},
                   w);
  EXPECT_EQ(c.maxBatch(), 1);  // --batch-size decides over the default
  c = parseRunArgs({"--model", "/m.onnx", "--source", "a=x.avi", "--batch-size", "3"}, w);
  EXPECT_EQ(c.maxBatch(), 3);
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"--model", "/m.onnx", "--source", "a=x.avi", "--source", "a=y.avi"},  // same id twice
           {"--model", "/m.onnx", "--source", "a="},                              // empty source
           {"--model", "/m.onnx", "--source", "a=x.avi", "--batch-size", "0"}}) {
    try {
      parseRunArgs(args, w);
      FAIL() << "expected bad_args for " << args[3];
    } catch (const RunnerError& e) {
      EXPECT_EQ(e.code(), ErrorCode::BadArgs);
      EXPECT_EQ(std::string(e.what()).rfind("--", 0), 0u) << e.what();
    }
  }
}

TEST(Cameras, InferenceLanesDefaultToCoresOrCamerasWithOpenCvAndOneWithTensorRt) {
  std::vector<std::string> w;
  const std::vector<std::string> four = {"--model", "/m.onnx", "--source", "a=x.avi", "--source", "b=y.avi",
                                         "--source", "c=z.avi", "--source", "d=w.avi"};
  RunnerConfig c = parseRunArgs(four, w);
  EXPECT_EQ(c.lanes(2), 2);   // opencv: one lane per core...
  EXPECT_EQ(c.lanes(16), 4);  // ...but never more than the cameras
  EXPECT_EQ(c.lanes(0), 1);   // cores unknown
  EXPECT_EQ(c.cpuThreads(2), 1);   // two lanes on two cores: one OpenCV thread each
  EXPECT_EQ(c.cpuThreads(16), 4);  // four lanes (the cameras) share sixteen cores
  EXPECT_EQ(c.cpuThreads(0), 0);   // one lane: OpenCV's default
  c.threads = 3;
  EXPECT_EQ(c.cpuThreads(2), 3);  // --threads decides
  c.threads = 0;
  c.backend = "tensorrt";
  EXPECT_EQ(c.lanes(16), 1);  // one engine, batched
  EXPECT_EQ(c.cpuThreads(16), 0);
  std::vector<std::string> args = four;
  args.insert(args.end(), {"--inference-lanes", "3"});
  c = parseRunArgs(args, w);
  EXPECT_EQ(c.lanes(2), 3);  // the flag decides over the cores
  c = parseRunArgs({"--model", "/m.onnx", "--source", "x.avi", "--inference-lanes", "4"}, w);
  EXPECT_EQ(c.lanes(8), 1);  // one camera: one lane, whatever was asked
  c = parseRunArgs({"--model", "/m.e", "--backend", "tensorrt", "--source", "x.avi", "--inference-lanes", "1"}, w);
  EXPECT_EQ(c.lanes(8), 1);
  for (const auto& bad : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"--model", "/m.onnx", "--source", "x.avi", "--inference-lanes", "0"}, "--inference-lanes: 0 must be 1..64"},
           {{"--model", "/m.onnx", "--source", "x.avi", "--inference-lanes", "65"}, "--inference-lanes: 65 must be 1..64"},
           {{"--model", "/m.e", "--backend", "tensorrt", "--source", "x.avi", "--inference-lanes", "2"},
            "--inference-lanes: the tensorrt backend runs one lane"}}) {
    try {
      parseRunArgs(bad.first, w);
      FAIL() << "expected bad_args: " << bad.second;
    } catch (const RunnerError& e) {
      EXPECT_EQ(e.code(), ErrorCode::BadArgs);
      EXPECT_EQ(std::string(e.what()).rfind(bad.second, 0), 0u) << e.what();
    }
  }
}

TEST(Cameras, SourcesFileAndIds) {
  std::vector<CameraSpec> cams;
  parseSourcesText("# site A\nlobby=/v/lobby.mp4\n\n  rtsp://cam2/stream?a=b  \n/dev/video0\n", "cams.txt", cams);
  ASSERT_EQ(cams.size(), 3u);
  EXPECT_EQ(cams[0].id, "lobby");
  EXPECT_EQ(cams[1].id, "1");
  EXPECT_EQ(cams[1].source, "rtsp://cam2/stream?a=b");
  EXPECT_EQ(cams[2].source, "/dev/video0");
  try {
    parseSourcesText("ok=/a.avi\nbroken=\n", "cams.txt", cams);
    FAIL();
  } catch (const RunnerError& e) {
    EXPECT_STREQ(e.what(), "cams.txt:2: camera 'broken' has an empty source");
  }
  EXPECT_TRUE(isCameraId("cam-1.left_2"));
  EXPECT_FALSE(isCameraId(""));
  EXPECT_FALSE(isCameraId("a b"));
  EXPECT_FALSE(isCameraId(".hidden"));
  EXPECT_FALSE(isCameraId("a/b"));
  EXPECT_FALSE(isCameraId(std::string(65, 'a')));
}

TEST(Cameras, ReconnectBackoffGrowsToItsCapWithBoundedJitter) {
  ReconnectPolicy p;  // 0.5 s doubling to 30 s, ±25%
  EXPECT_DOUBLE_EQ(reconnectDelayS(p, 1, 0.5), 0.5);
  EXPECT_DOUBLE_EQ(reconnectDelayS(p, 2, 0.5), 1.0);
  EXPECT_DOUBLE_EQ(reconnectDelayS(p, 4, 0.5), 4.0);
  EXPECT_DOUBLE_EQ(reconnectDelayS(p, 20, 0.5), 30.0);   // capped
  EXPECT_DOUBLE_EQ(reconnectDelayS(p, 3, 0.0), 1.5);     // -25%
  EXPECT_NEAR(reconnectDelayS(p, 3, 0.999999), 2.5, 1e-5);  // +25%
  EXPECT_STREQ(cameraStateName(CameraState::Reconnecting), "reconnecting");
}

// A whole deepstream-app config: cameras from [sourceN] (file:// uris become paths, disabled ones
// are left out, ids are N), batching from [streammux], the model from [primary-gie]'s nvinfer
// config-file (relative to the app config), display and sink groups accepted without noise.
TEST(Config, DeepStreamAppConfigGivesCamerasBatchingAndTheModel) {
  const std::string dir = ::testing::TempDir() + "facefleet_dsapp_" + std::to_string(::getpid());
  ::mkdir(dir.c_str(), 0755);
  {
    std::ofstream(dir + "/config_infer_primary_facenet.txt")
        << "[property]\nonnx-file=facenet.onnx\ninfer-dims=3;416;736\ncluster-mode=2\n[class-attrs-all]\n"
           "pre-cluster-threshold=0.3\n";
    std::ofstream(dir + "/deepstream_app_config.txt")
        << "[application]\nenable-perf-measurement=1\n[tiled-display]\nenable=1\nrows=2\n"
           "[source0]\nenable=1\ntype=3\nuri=file:///opt/videos/lobby.mp4\nnum-sources=1\n"
           "[source1]\nenable=0\ntype=3\nuri=file:///opt/videos/unused.mp4\n"
           "[source2]\nenable=1\ntype=4\nuri=rtsp://10.0.0.7/stream1\nrtsp-reconnect-interval-sec=2\n"
           "[source3]\nenable=1\ntype=1\ncamera-v4l2-dev-node=2\n"
           "[sink0]\nenable=1\ntype=2\n[osd]\nenable=1\n"
           "[streammux]\nbatch-size=3\nbatched-push-timeout=33000\nwidth=1920\n"
           "[primary-gie]\nenable=1\nconfig-file=config_infer_primary_facenet.txt\nbatch-size=3\n";
  }
  std::vector<std::string> w;
  RunnerConfig c = parseRunArgs({"--config", dir + "/deepstream_app_config.txt"}, w);
  ASSERT_EQ(c.cameras.size(), 3u);
  EXPECT_EQ(c.cameras[0].id, "0");
  EXPECT_EQ(c.cameras[0].source, "/opt/videos/lobby.mp4");
  EXPECT_EQ(c.cameras[1].id, "2");
  EXPECT_EQ(c.cameras[1].source, "rtsp://10.0.0.7/stream1");
  EXPECT_EQ(c.cameras[2].source, "/dev/video2");
  EXPECT_EQ(c.maxBatch(), 3);
  EXPECT_DOUBLE_EQ(c.batchTimeoutMs, 33.0);
  EXPECT_DOUBLE_EQ(c.reconnect.initialS, 2.0);
  EXPECT_EQ(c.modelPath(), dir + "/facenet.onnx");
  EXPECT_EQ(c.cluster.mode, ClusterMode::Nms);
  EXPECT_FLOAT_EQ(*c.preClusterThreshold, 0.3f);
  EXPECT_EQ(c.boxClip(), BoxClip::DeepStream);
  ASSERT_EQ(w.size(), 1u) << "only type=3's num-sources is worth a warning";
  EXPECT_NE(w[0].find("num-sources"), std::string::npos);
  // --source on the command line replaces the config's cameras.
  c = parseRunArgs({"--config", dir + "/deepstream_app_config.txt", "--source", "only=/v.avi"}, w);
  ASSERT_EQ(c.cameras.size(), 1u);
  EXPECT_EQ(c.cameras[0].id, "only");
}

// The DLA keys live in the nvinfer config a deepstream-app config names in [primary-gie]: they reach
// the runner through that path as through --config of the nvinfer file itself, and --dla-core
// still decides over them.
TEST(Config, DeepStreamAppConfigCarriesTheNvinferDlaKeys) {
  const std::string dir = ::testing::TempDir() + "facefleet_dsapp_dla_" + std::to_string(::getpid());
  ::mkdir(dir.c_str(), 0755);
  ::mkdir((dir + "/infer").c_str(), 0755);
  {
    std::ofstream(dir + "/infer/config_infer_primary_facenet.txt")
        << "[property]\nmodel-engine-file=facenet_dla1.engine\nenable-dla=1\nuse-dla-core=1\n";
    std::ofstream(dir + "/app.txt") << "[source0]\nenable=1\ntype=2\nuri=file:///v/a.mp4\n"
                                       "[source1]\nenable=1\ntype=2\nuri=file:///v/b.mp4\n"
                                       "[streammux]\nbatch-size=2\n"
                                       "[primary-gie]\nenable=1\nconfig-file=infer/config_infer_primary_facenet.txt\n";
  }
  std::vector<std::string> w;
  RunnerConfig c = parseRunArgs({"--config", dir + "/app.txt", "--backend", "tensorrt"}, w);
  EXPECT_EQ(c.dlaCore(), 1);
  EXPECT_EQ(c.modelPath(), dir + "/infer/facenet_dla1.engine");  // relative to the nvinfer file
  ASSERT_EQ(c.cameras.size(), 2u);
  EXPECT_EQ(c.maxBatch(), 2);
  EXPECT_EQ(parseRunArgs({"--config", dir + "/app.txt", "--backend", "tensorrt", "--dla-core", "0"}, w).dlaCore(), 0);
  EXPECT_EQ(parseRunArgs({"--dla-core=-1", "--config", dir + "/app.txt", "--backend", "tensorrt"}, w).dlaCore(), -1)
      << "a flag decides over the config wherever it appears";
  EXPECT_TRUE(w.empty()) << (w.empty() ? "" : w.front());
}

TEST(Config, DeepStreamSourceListNamesCamerasBySensorId) {
  RunnerConfig c;
  std::vector<std::string> w;
  applyNvinferConfig(c,
                     "[source-list]\nnum-source-bins=2\nlist=file:///a.mp4;rtsp://cam/b\n"
                     "sensor-id-list=lobby;door\n",
                     "app.txt", "/", w);
  ASSERT_EQ(c.cameras.size(), 2u);
  EXPECT_EQ(c.cameras[0].id, "lobby");
  EXPECT_EQ(c.cameras[0].source, "/a.mp4");
  EXPECT_EQ(c.cameras[1].id, "door");
  EXPECT_TRUE(w.empty());
  for (const char* text : {"[source-list]\nlist=a.mp4\nsensor-id-list=a;b\n", "[source0]\ntype=5\n",
                           "[source0]\ntype=2\n", "[streammux]\nbatch-size=0\n"}) {
    RunnerConfig bad;
    try {
      applyNvinferConfig(bad, text, "app.txt", "/", w);
      FAIL() << text;
    } catch (const RunnerError& e) {
      EXPECT_EQ(e.code(), ErrorCode::BadArgs);
      EXPECT_EQ(std::string(e.what()).rfind("app.txt:", 0), 0u) << e.what();
    }
  }
}
