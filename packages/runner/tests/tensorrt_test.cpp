// The runner's TensorRT backend, compiled against one TensorRT header set, running against the
// TensorRT test double of the same version (tests/trt_double) over the fake CUDA runtime: the same
// golden data as the OpenCV backend, and one test per precondition the double enforces, each of
// which fails when the backend skips the step (see packages/runner/README.md for the list).
// Built once per header version (ctest names start with tensorrt<V>.).
#include <gtest/gtest.h>

#include <opencv2/dnn.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/videoio.hpp>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>

#include "facefleet/backend.hpp"
#include "facefleet/config.hpp"
#include "facefleet/detector.hpp"
#include "facefleet/errors.hpp"
#include "facefleet/preprocess.hpp"
#include "test_support.hpp"
#include "trt_double/fake_cuda.hpp"
#include "trt_double/trt_double.hpp"

using namespace facefleet;
using namespace testsupport;

namespace {

const std::string kDir = tempDir("tensorrt_double");

// An engine file of the double whose ONNX twin is `onnx`: outputs named and shaped as OpenCV reports
// them for `input`, the batch dimension dynamic (-1, profile 1..maxBatch) unless `staticBatch`.
// The outputs (names, shapes) OpenCV reports for `onnx` on `input`, probed once per model.
std::vector<trtdouble::TensorSpec> outputsOf(const std::string& onnx, const std::vector<int>& inputDims) {
  static std::map<std::string, std::vector<trtdouble::TensorSpec>> probed;
  auto& outputs = probed[onnx];
  if (!outputs.empty()) return outputs;
  cv::dnn::Net net = cv::dnn::readNetFromONNX(onnx);
  net.setInput(cv::Mat(static_cast<int>(inputDims.size()), inputDims.data(), CV_32F, cv::Scalar(0)));
  const auto names = net.getUnconnectedOutLayersNames();
  std::vector<cv::Mat> outs;
  net.forward(outs, names);
  for (std::size_t i = 0; i < outs.size(); ++i)
    outputs.push_back({names[i], false, std::vector<int>(outs[i].size.p, outs[i].size.p + outs[i].dims)});
  return outputs;
}

trtdouble::EngineSpec engineFor(const std::string& onnx, const InputSpec& input, int maxBatch = 1,
                                bool staticBatch = false) {
  trtdouble::EngineSpec spec;
  spec.tensorrtVersion = trtdouble::libraryVersion();
  spec.onnxPath = onnx;
  spec.batchMax = maxBatch;
  const int batch = staticBatch ? 1 : -1;
  trtdouble::TensorSpec in{"input", true, {}};
  in.dims = input.layout == Layout::NCHW ? std::vector<int>{batch, input.channels, input.height, input.width}
                                         : std::vector<int>{batch, input.height, input.width, input.channels};
  spec.tensors.push_back(in);
  std::vector<int> dims = in.dims;
  dims[0] = 1;
  for (trtdouble::TensorSpec out : outputsOf(onnx, dims)) {
    out.dims[0] = batch;
    spec.tensors.push_back(out);
  }
  return spec;
}

std::string writeEngine(const std::string& name, const trtdouble::EngineSpec& spec) {
  const std::string path = kDir + "/" + name + ".engine";
  std::ofstream(path) << trtdouble::engineText(spec);
  return path;
}

struct Model {
  std::string decoder, onnx;
  int size = 0;  // BlazeFace input size; 0 = the decoder's default
};
const Model kBlaze{"blazeface", kBlazeBack, 256};
const Model kFaceNet{"detectnet_v2", kDetectNet, 0};

std::vector<std::string> modelFlags(const Model& m, const std::string& backend, const std::string& modelFile) {
  std::vector<std::string> a = {"--backend", backend, "--decoder", m.decoder, "--model", modelFile};
  if (m.size) a.insert(a.end(), {"--input", std::to_string(m.size) + "x" + std::to_string(m.size)});
  return a;
}

// A detector configured through the runner's own flags (the --backend tensorrt path).
std::unique_ptr<Detector> detector(const Model& m, const std::string& backend, const std::string& modelFile,
                                   std::vector<std::string> extra = {}) {
  std::vector<std::string> args = modelFlags(m, backend, modelFile);
  args.insert(args.end(), extra.begin(), extra.end());
  args.insert(args.end(), {"--source", "unused"});
  std::vector<std::string> warnings;
  return Detector::create(parseRunArgs(args, warnings));
}

InputSpec inputOf(const Model& m) {
  std::vector<std::string> args = modelFlags(m, "opencv", modelPath(m.onnx));
  args.insert(args.end(), {"--source", "unused"});
  std::vector<std::string> warnings;
  const RunnerConfig cfg = parseRunArgs(args, warnings);
  return cfg.inputSpec(Decoder::create(cfg.decoder));
}

std::string engineOf(const Model& m, const std::string& name, int dlaCore = -1) {
  auto spec = engineFor(modelPath(m.onnx), inputOf(m));
  spec.dlaCore = dlaCore;
  return writeEngine(name, spec);
}

::testing::AssertionResult sameBoxes(const Boxes& trt, const Boxes& ref) {
  if (trt.size() != ref.size())
    return ::testing::AssertionFailure() << "tensorrt found " << trt.size() << " boxes, opencv " << ref.size();
  for (std::size_t i = 0; i < ref.size(); ++i) {
    const Box &a = trt[i], &b = ref[i];
    const float d = std::max({std::fabs(a.x1 - b.x1), std::fabs(a.y1 - b.y1), std::fabs(a.x2 - b.x2), std::fabs(a.y2 - b.y2)});
    if (!(d <= 1e-3f) || !(std::fabs(a.conf - b.conf) <= 1e-5f))
      return ::testing::AssertionFailure() << "box " << i << ": tensorrt (" << a.x1 << "," << a.y1 << "," << a.x2 << ","
                                           << a.y2 << " conf " << a.conf << ") vs opencv (" << b.x1 << "," << b.y1 << ","
                                           << b.x2 << "," << b.y2 << " conf " << b.conf << "), max corner diff " << d;
  }
  return ::testing::AssertionSuccess();
}

cv::Mat messi() {
  cv::Mat img = cv::imread(samplePath("messi5.jpg"));
  EXPECT_FALSE(img.empty());
  return img;
}

// The OpenCV backend's detections on messi5.jpg, computed once per model.
const Boxes& messiReference(const Model& m) {
  static std::map<std::string, Boxes> reference;
  auto it = reference.find(m.onnx);
  if (it == reference.end()) it = reference.emplace(m.onnx, detector(m, "opencv", modelPath(m.onnx))->detectFrame(messi())).first;
  return it->second;
}

// Runs `m` on messi5.jpg through TensorRT (engine `engine`); it must agree with OpenCV.
void expectMessiMatches(const Model& m, const std::string& engine, std::vector<std::string> extra = {}) {
  const Boxes trt = detector(m, "tensorrt", engine, extra)->detectFrame(messi());
  EXPECT_TRUE(sameBoxes(trt, messiReference(m)));
}

void expectModelLoadError(const std::function<void()>& f, const std::string& inMessage) {
  try {
    f();
    ADD_FAILURE() << "expected a model_load error containing '" << inMessage << "'";
  } catch (const RunnerError& e) {
    EXPECT_EQ(e.code(), ErrorCode::ModelLoad) << e.what();
    EXPECT_NE(std::string(e.what()).find(inMessage), std::string::npos) << e.what();
  }
}

class TensorRt : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(haveModel(kBlazeBack));
    ASSERT_TRUE(haveModel(kDetectNet));
    ASSERT_TRUE(haveSample("messi5.jpg"));
    fakecuda::configure(fakecuda::DeviceConfig{false, 0});
    fakecuda::resetCounters();
    trtdouble::resetCalls();
  }
};

}  // namespace

// --- golden data: the same detections as the OpenCV backend ---------------------------------------

TEST_F(TensorRt, MessiBlazeFaceMatchesOpenCv) {
  expectMessiMatches(kBlaze, engineOf(kBlaze, "blaze"));
  EXPECT_GT(trtdouble::calls().inferences, 0);
}

TEST_F(TensorRt, MessiDetectNetMatchesOpenCv) {
  expectMessiMatches(kFaceNet, engineOf(kFaceNet, "facenet"));
  EXPECT_GT(trtdouble::calls().inferences, 0);
}

TEST_F(TensorRt, MegamindFrames1To60SameFaceCountsAsOpenCvThroughTheCli) {
  ASSERT_TRUE(haveSample("Megamind.avi"));
  const char* bin = std::getenv("FACEFLEET_TRT_RUNNER_BIN");
  ASSERT_TRUE(bin) << "FACEFLEET_TRT_RUNNER_BIN is not set (ctest sets it to this version's runner build)";
  const std::string engine = engineOf(kBlaze, "blaze-cli");
  auto counts = [&](const std::string& backend, const std::string& model) {
    std::vector<std::string> args = modelFlags(kBlaze, backend, model);
    args.insert(args.end(), {"--source", samplePath("Megamind.avi"), "--max-frames", "60"});
    const auto r = run(args, bin);
    EXPECT_EQ(r.exitCode, 0);
    std::vector<double> faces;
    for (const auto& line : r.lines) {
      const auto v = minijson::parse(line);
      if (v["type"].str == "hello") {
        EXPECT_EQ(v["backend"].str, backend);
      }
      if (v["type"].str == "frame") faces.push_back(v["faces"].num);
    }
    return faces;
  };
  const auto trt = counts("tensorrt", engine);
  const auto ref = counts("opencv", modelPath(kBlazeBack));
  ASSERT_EQ(ref.size(), 60u);
  EXPECT_EQ(trt, ref);
  double total = 0;
  for (double f : ref) total += f;
  EXPECT_GE(total, 57);  // the golden video has a face in nearly every frame
}

// --- preconditions: each test fails when the backend skips the step it names -----------------------

// The double's engines have a dynamic batch dimension: enqueue is refused until the input shape is
// set (setInputShape; setBindingDimensions before TensorRT 8.5).
TEST_F(TensorRt, DynamicShapeEngineRunsOnlyAfterItsInputShapeIsSet) {
  auto det = detector(kFaceNet, "tensorrt", engineOf(kFaceNet, "dynamic"));
  EXPECT_EQ(trtdouble::calls().refused, 0);
  EXPECT_TRUE(sameBoxes(det->detectFrame(messi()), messiReference(kFaceNet)));
  EXPECT_EQ(trtdouble::calls().refused, 0);
  EXPECT_GE(trtdouble::calls().enqueued, 2);  // the load-time check and the frame
}

// Every input and output needs a device address (setTensorAddress; the bindings array before 8.5).
TEST_F(TensorRt, EveryTensorIsBoundToDeviceMemoryBeforeEnqueue) {
  expectMessiMatches(kBlaze, engineOf(kBlaze, "addresses"));
  EXPECT_EQ(trtdouble::calls().refused, 0);
  EXPECT_GT(trtdouble::calls().enqueued, 0);
}

// --- memory: zero-copy on an integrated GPU (Jetson), pinned + async copies on a discrete one -----

class TensorRtMemory : public TensorRt, public ::testing::WithParamInterface<bool> {
 protected:
  void SetUp() override {
    TensorRt::SetUp();
    integrated_ = GetParam();
    fakecuda::configure(fakecuda::DeviceConfig{integrated_, integrated_ ? 2 : 0});
  }
  bool integrated_ = false;
};

INSTANTIATE_TEST_SUITE_P(Gpu, TensorRtMemory, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return std::string(info.param ? "Integrated" : "Discrete");
                         });

std::unique_ptr<Backend> backendFor(const Model& m, const std::string& backend, const std::string& file) {
  BackendConfig bc;
  bc.modelPath = file;
  bc.input = inputOf(m);
  return Backend::create(backend, bc);
}

std::vector<float> blobOf(const Model& m, const cv::Mat& frame) {
  Preprocessor pre(inputOf(m));
  std::vector<float> blob;
  pre.run(frame, blob);
  return blob;
}

::testing::AssertionResult sameOutputs(const std::vector<TensorView>& trt, const std::vector<TensorView>& ref) {
  if (trt.size() != ref.size()) return ::testing::AssertionFailure() << trt.size() << " outputs vs " << ref.size();
  for (const TensorView& r : ref) {
    const TensorView* t = nullptr;
    for (const TensorView& c : trt) t = c.name == r.name ? &c : t;
    if (!t) return ::testing::AssertionFailure() << "no output '" << r.name << "'";
    if (t->shape != r.shape || t->count() != r.count()) return ::testing::AssertionFailure() << r.name << ": shapes differ";
    for (std::size_t i = 0; i < r.count(); ++i)
      if (!(std::fabs(t->data[i] - r.data[i]) <= 1e-6f))
        return ::testing::AssertionFailure() << r.name << "[" << i << "]: " << t->data[i] << " vs " << r.data[i];
  }
  return ::testing::AssertionSuccess();
}

// Outputs are read only after synchronization: until the fake GPU has run the work, pinned output
// memory (discrete) and mapped output memory (integrated) hold NaN.
TEST_P(TensorRtMemory, OutputsAreReadOnlyAfterTheStreamIsSynchronized) {
  expectMessiMatches(kBlaze, engineOf(kBlaze, "sync"));
  const auto c = fakecuda::counters();
  EXPECT_GT(c.streamSyncs + c.eventSyncs, 0);
}

TEST_P(TensorRtMemory, BuffersFitTheGpu) {
  expectMessiMatches(kBlaze, engineOf(kBlaze, "memory"));
  const auto c = fakecuda::counters();
  EXPECT_EQ(c.pageableCopies, 0) << "pageable host memory makes every copy synchronous";
  if (integrated_) {  // mapped host memory, read by the GPU in place: no device buffers, no copies
    EXPECT_GT(c.mappedAllocs, 0);
    EXPECT_EQ(c.mappedAllocs, c.devicePointerQueries);
    EXPECT_EQ(c.pinnedAllocs + c.deviceAllocs + c.asyncCopies, 0);
  } else {  // pinned host memory and device memory, asynchronous copies
    EXPECT_GT(c.pinnedAllocs, 0);
    EXPECT_EQ(c.pinnedAllocs, c.deviceAllocs);
    EXPECT_EQ(c.mappedAllocs, 0);
    EXPECT_GT(c.asyncCopies, 0);
  }
}

// Two batches in flight (submit, submit, collect, collect) give each its own outputs: the second's
// input and outputs must not share memory with the first while it is queued.
TEST_P(TensorRtMemory, TwoBatchesInFlightGiveEachBatchItsOwnOutputs) {
  ASSERT_TRUE(haveSample("Megamind.avi"));
  cv::VideoCapture cap(samplePath("Megamind.avi"));
  cv::Mat frame;
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(cap.read(frame));
  const std::vector<float> a = blobOf(kBlaze, messi()), b = blobOf(kBlaze, frame);
  auto ref = backendFor(kBlaze, "opencv", modelPath(kBlazeBack));
  auto trt = backendFor(kBlaze, "tensorrt", engineOf(kBlaze, "in-flight"));
  ASSERT_EQ(trt->inFlight(), 2);
  for (int round = 0; round < 2; ++round) {  // the second round reuses both slots
    trt->submit(a.data(), 1);
    trt->submit(b.data(), 1);
    try {
      trt->submit(a.data(), 1);
      ADD_FAILURE() << "a third batch in flight must be refused";
    } catch (const RunnerError& e) {
      EXPECT_EQ(e.code(), ErrorCode::Runtime);
    }
    const std::vector<TensorView> outA = trt->collect();  // views of slot A stay valid until A is reused
    const std::vector<TensorView>& outB = trt->collect();
    EXPECT_TRUE(sameOutputs(outA, ref->infer(a.data(), 1))) << "round " << round;
    EXPECT_TRUE(sameOutputs(outB, ref->infer(b.data(), 1))) << "round " << round;
  }
  EXPECT_EQ(trtdouble::calls().refused, 0);
}

// --- batch: one engine with an optimization profile up to the camera count ---------------------------

std::unique_ptr<Detector> batchedDetector(const Model& m, const std::string& backend, const std::string& file,
                                          int maxBatch) {
  std::vector<std::string> args = modelFlags(m, backend, file);
  args.insert(args.end(), {"--source", "unused"});
  std::vector<std::string> warnings;
  return Detector::create(parseRunArgs(args, warnings), maxBatch);
}

// messi5.jpg and Megamind frames 10, 20, …: different sizes and faces, as from several cameras.
std::vector<cv::Mat> cameraFrames(int n) {
  std::vector<cv::Mat> out{messi()};
  cv::VideoCapture cap(samplePath("Megamind.avi"));
  cv::Mat f;
  for (int i = 1; static_cast<int>(out.size()) < n && cap.read(f); ++i)
    if (i % 10 == 0) out.push_back(f.clone());
  return out;
}

// Runs `frames` through detectBatch on `det` and each frame alone through OpenCV: same boxes; the
// double must have seen `enqueues` enqueue calls and one inference per frame.
void expectBatchMatches(const Model& m, Detector& det, const std::vector<cv::Mat>& frames, long enqueues) {
  std::vector<float> blob, one;
  std::vector<FrameTransform> transforms;
  Preprocessor pre(det.input());
  for (const cv::Mat& f : frames) {
    transforms.push_back(pre.run(f, one));
    blob.insert(blob.end(), one.begin(), one.end());
  }
  trtdouble::resetCalls();
  std::vector<Boxes> out;
  det.detectBatch(blob.data(), transforms, out, nullptr);
  EXPECT_EQ(trtdouble::calls().enqueued, enqueues);
  EXPECT_EQ(trtdouble::calls().inferences, static_cast<long>(frames.size()));
  auto ref = detector(m, "opencv", modelPath(m.onnx));
  ASSERT_EQ(out.size(), frames.size());
  for (std::size_t f = 0; f < frames.size(); ++f) EXPECT_TRUE(sameBoxes(out[f], ref->detectFrame(frames[f]))) << "frame " << f;
}

TEST_P(TensorRtMemory, BatchOfFourCamerasRunsInOneEnqueueAndMatchesOpenCv) {
  ASSERT_TRUE(haveSample("Megamind.avi"));
  auto spec = engineFor(modelPath(kDetectNet), inputOf(kFaceNet), 4);
  auto det = batchedDetector(kFaceNet, "tensorrt", writeEngine("batch4", spec), 4);
  EXPECT_EQ(det->maxBatch(), 4);
  expectBatchMatches(kFaceNet, *det, cameraFrames(4), 1);
  expectBatchMatches(kFaceNet, *det, cameraFrames(3), 1);  // a smaller batch: the input shape follows
}

TEST_F(TensorRt, BatchBeyondTheProfileIsSplitIntoSeveralEnqueues) {
  ASSERT_TRUE(haveSample("Megamind.avi"));
  auto spec = engineFor(modelPath(kBlazeBack), inputOf(kBlaze), 2);
  auto det = batchedDetector(kBlaze, "tensorrt", writeEngine("batch2", spec), 8);
  EXPECT_EQ(det->maxBatch(), 2) << "the engine's profile ends at 2";
  expectBatchMatches(kBlaze, *det, cameraFrames(3), 2);
  try {
    std::vector<float> blob(3 * det->input().elementCount());
    det->backend().infer(blob.data(), 3);
    ADD_FAILURE() << "a batch beyond maxBatch() must be refused";
  } catch (const RunnerError& e) {
    EXPECT_EQ(e.code(), ErrorCode::Runtime);
  }
}

TEST_F(TensorRt, ProfileThatCannotRunOneFrameIsAModelLoadError) {
  auto spec = engineFor(modelPath(kBlazeBack), inputOf(kBlaze), 4);
  spec.batchMin = spec.batchOpt = 2;
  const std::string engine = writeEngine("min2", spec);
  expectModelLoadError([&] { detector(kBlaze, "tensorrt", engine); }, "build it with a profile from batch 1");
}

// trtexec --useDLACore=N engines (Xavier, Orin): IRuntime::setDLACore before deserializeCudaEngine.
TEST_F(TensorRt, DlaEngineRunsOnceTheDlaCoreIsSetBeforeDeserialization) {
  fakecuda::configure(fakecuda::DeviceConfig{true, 2});  // an AGX Xavier: integrated GPU, 2 DLA cores
  expectMessiMatches(kBlaze, engineOf(kBlaze, "dla", 0), {"--dla-core", "1"});
}

TEST_F(TensorRt, DlaEngineWithoutADlaCoreIsRefusedByTensorRt) {
  fakecuda::configure(fakecuda::DeviceConfig{true, 2});
  const std::string engine = engineOf(kFaceNet, "dla-unset", 0);
  expectModelLoadError([&] { detector(kFaceNet, "tensorrt", engine); }, "call IRuntime::setDLACore");
}

TEST_F(TensorRt, DlaCoreTheDeviceLacksIsAModelLoadError) {
  fakecuda::configure(fakecuda::DeviceConfig{true, 2});
  const std::string engine = engineOf(kFaceNet, "dla-range", 0);
  expectModelLoadError([&] { detector(kFaceNet, "tensorrt", engine, {"--dla-core", "2"}); },
                       "--dla-core 2: this device has 2 DLA cores");
  fakecuda::configure(fakecuda::DeviceConfig{false, 0});  // a T4: no DLA at all
  expectModelLoadError([&] { detector(kFaceNet, "tensorrt", engine, {"--dla-core", "0"}); },
                       "--dla-core 0: this device has 0 DLA cores");
}

TEST_F(TensorRt, DlaCoreIsForTheTensorRtBackendOnly) {
  try {
    detector(kFaceNet, "opencv", modelPath(kDetectNet), {"--dla-core", "0"});
    ADD_FAILURE() << "expected bad_args";
  } catch (const RunnerError& e) {
    EXPECT_EQ(e.code(), ErrorCode::BadArgs);
    EXPECT_NE(std::string(e.what()).find("only the tensorrt backend"), std::string::npos) << e.what();
  }
}

// nvinfer's enable-dla / use-dla-core reach setDLACore, and hello reports the core.
TEST_F(TensorRt, HelloReportsTheDlaCoreFromTheNvinferConfig) {
  const char* bin = std::getenv("FACEFLEET_TRT_RUNNER_BIN");
  ASSERT_TRUE(bin) << "FACEFLEET_TRT_RUNNER_BIN is not set (ctest sets it to this version's runner build)";
  const std::string config = kDir + "/dla.txt";
  writeText(config, "[property]\nmodel-engine-file=" + engineOf(kBlaze, "dla-cli", 0) +
                        "\nenable-dla=1\nuse-dla-core=1\n");
  ::setenv("FACEFLEET_FAKE_GPU", "integrated", 1);
  const auto r = run({"--backend", "tensorrt", "--decoder", "blazeface", "--input", "256x256", "--config", config,
                      "--source", samplePath("messi5.jpg")},
                     bin);
  ::unsetenv("FACEFLEET_FAKE_GPU");
  ASSERT_EQ(r.exitCode, 0);
  ASSERT_GE(r.lines.size(), 2u);
  const auto hello = minijson::parse(r.lines[0]);
  EXPECT_EQ(hello.keys(), (std::vector<std::string>{"type", "v", "runner", "backend", "model", "modelPath",
                                                    "modelSha256", "input", "source", "sourceKind", "cluster",
                                                    "cameras", "batch", "dlaCore", "pid", "ts"}));
  EXPECT_EQ(hello["backend"].str, "tensorrt");
  EXPECT_EQ(hello["dlaCore"].num, 1);
}

namespace {

// Frame lines by camera and index: the detections (faces, then x, y, w, h, conf per box).
std::map<std::string, std::map<long long, std::vector<double>>> detectionsByCamera(const RunResult& r) {
  std::map<std::string, std::map<long long, std::vector<double>>> out;
  for (const auto& line : r.lines) {
    const auto v = parseLine(line);
    if (v["type"].str != "frame") continue;
    std::vector<double> d{v["faces"].num};
    for (const auto& b : v["boxes"].items)
      for (const char* k : {"x", "y", "w", "h", "conf"}) d.push_back(b[k].num);
    out[v["camera"].str][static_cast<long long>(v["index"].num)] = d;
  }
  return out;
}

}  // namespace

// A deepstream-app config, as a Jetson deployment has it: three cameras ([sourceN], folders of real
// frames with faces), nvstreammux's batch of 3, and [primary-gie]'s nvinfer config with the engine
// (a batch profile up to 3, built for a DLA) and enable-dla / use-dla-core. Through the runner
// binary on an AGX Xavier-like fake GPU: TensorRT runs the cameras' frames in batches of 3 on DLA
// core 1, and every camera gets what the OpenCV backend gives it alone.
TEST_F(TensorRt, DeepStreamAppConfigRunsItsCamerasInBatchesOnTheDlaCore) {
  const char* bin = std::getenv("FACEFLEET_TRT_RUNNER_BIN");
  ASSERT_TRUE(bin) << "FACEFLEET_TRT_RUNNER_BIN is not set (ctest sets it to this version's runner build)";
  ASSERT_TRUE(haveSample("Megamind.avi"));
  const std::vector<cv::Mat> frames = cameraFrames(9);  // messi5.jpg and Megamind frames 10..80
  ASSERT_EQ(frames.size(), 9u);
  const std::string dir = kDir + "/dsapp";
  ::mkdir(dir.c_str(), 0755);
  std::string app;
  for (int cam = 0; cam < 3; ++cam) {
    const std::string folder = dir + "/cam" + std::to_string(cam);
    ::mkdir(folder.c_str(), 0755);
    for (int i = 0; i < 3; ++i)  // PNG: the pixels the reference run reads are the same
      ASSERT_TRUE(cv::imwrite(folder + "/" + std::to_string(i) + ".png", frames[cam * 3 + i]));
    app += "[source" + std::to_string(cam) + "]\nenable=1\ntype=2\nuri=file://" + folder + "\n";
  }
  auto spec = engineFor(modelPath(kBlazeBack), inputOf(kBlaze), 3);
  spec.dlaCore = 0;
  writeText(dir + "/config_infer_primary.txt", "[property]\nmodel-engine-file=" + writeEngine("dsapp-dla", spec) +
                                                   "\nenable-dla=1\nuse-dla-core=1\n");
  // A 5 s batch timeout: a batch waits for every camera's frame however slow the machine is.
  app += "[streammux]\nbatch-size=3\nbatched-push-timeout=5000000\n"
         "[primary-gie]\nenable=1\nconfig-file=config_infer_primary.txt\n";
  writeText(dir + "/deepstream_app_config.txt", app);
  const std::vector<std::string> common = {"--config", dir + "/deepstream_app_config.txt", "--decoder", "blazeface",
                                           "--input", "256x256", "--stats-interval", "1000"};

  ::setenv("FACEFLEET_FAKE_GPU", "integrated", 1);
  std::vector<std::string> args = common;
  args.insert(args.end(), {"--backend", "tensorrt"});
  const auto trt = run(args, bin);
  ::unsetenv("FACEFLEET_FAKE_GPU");
  ASSERT_EQ(trt.exitCode, 0);
  const auto hello = parseLine(trt.lines.front());
  EXPECT_EQ(hello["backend"].str, "tensorrt");
  EXPECT_EQ(hello["dlaCore"].num, 1);
  EXPECT_EQ(hello["batch"]["size"].num, 3) << "the engine's profile and the streammux batch";
  ASSERT_EQ(hello["cameras"].items.size(), 3u);
  const auto stats = parseLine(trt.lines.back());
  ASSERT_EQ(stats["type"].str, "stats");
  EXPECT_EQ(stats["frames"].num, 9);
  EXPECT_EQ(stats["batch"]["batches"].num, 3) << "one enqueue per three cameras' frames";
  const auto got = detectionsByCamera(trt);

  int faces = 0;
  for (int cam = 0; cam < 3; ++cam) {
    const std::string id = std::to_string(cam);
    std::vector<std::string> alone = common;
    alone.insert(alone.end(), {"--backend", "opencv", "--model", modelPath(kBlazeBack), "--dla-core", "-1",
                               "--batch-size", "1", "--source", dir + "/cam" + id});
    const auto ref = run(alone, bin);
    ASSERT_EQ(ref.exitCode, 0) << "camera " << id;
    const auto expected = detectionsByCamera(ref)["0"];
    ASSERT_EQ(expected.size(), 3u);
    ASSERT_EQ(got.count(id), 1u) << "camera " << id;
    const auto& actual = got.at(id);
    ASSERT_EQ(actual.size(), 3u) << "camera " << id;
    for (const auto& [index, e] : expected) {
      ASSERT_EQ(actual.count(index), 1u) << "camera " << id << " frame " << index;
      const auto& a = actual.at(index);
      ASSERT_EQ(a.size(), e.size()) << "camera " << id << " frame " << index;
      for (std::size_t k = 0; k < e.size(); ++k)  // printed to 0.01 px and 0.0001
        EXPECT_NEAR(a[k], e[k], 0.011) << "camera " << id << " frame " << index << " value " << k;
      faces += static_cast<int>(e[0]);
    }
  }
  EXPECT_GE(faces, 7) << "the frames have faces to compare";
}

TEST_F(TensorRt, EngineOfAnotherTensorRtVersionIsRefusedAsTensorRtRefusesIt) {
  auto spec = engineFor(modelPath(kDetectNet), inputOf(kFaceNet));
  spec.tensorrtVersion = "7.1.3";  // JetPack 4.4's TensorRT
  const std::string engine = writeEngine("old-version", spec);
  expectModelLoadError([&] { detector(kFaceNet, "tensorrt", engine); },
                       "not compatible with this version of TensorRT, expecting library version " +
                           trtdouble::libraryVersion() + " got 7.1.3");
}

// --- other engine shapes and errors ---------------------------------------------------------------

TEST_F(TensorRt, StaticShapeEngineMatchesOpenCv) {
  auto spec = engineFor(modelPath(kDetectNet), inputOf(kFaceNet), 1, true);
  expectMessiMatches(kFaceNet, writeEngine("static", spec));
}

// tao-converter's implicit-batch DetectNet_v2 engines: TensorRT < 8.5 runs them with enqueue(batch);
// 8.5 and 8.6 would need deprecated calls (the backend refuses them); 10+ cannot load them.
TEST_F(TensorRt, ImplicitBatchEngine) {
  auto spec = engineFor(modelPath(kBlazeBack), inputOf(kBlaze), 1, true);
  spec.implicitBatch = true;
  spec.batchMax = 4;  // getMaxBatchSize()
  for (auto& t : spec.tensors) t.dims.erase(t.dims.begin());
  const std::string engine = writeEngine("implicit", spec);
  if (!trtdouble::namedTensorApi()) {
    expectMessiMatches(kBlaze, engine);
    ASSERT_TRUE(haveSample("Megamind.avi"));
    auto det = batchedDetector(kBlaze, "tensorrt", engine, 4);
    EXPECT_EQ(det->maxBatch(), 4);
    expectBatchMatches(kBlaze, *det, cameraFrames(3), 1);  // enqueue(3, …)
  } else if (trtdouble::implicitBatchEngines()) {
    expectModelLoadError([&] { detector(kBlaze, "tensorrt", engine); }, "implicit batch dimension");
  } else {
    expectModelLoadError([&] { detector(kBlaze, "tensorrt", engine); }, "implicit-batch engines do not exist");
  }
}

TEST_F(TensorRt, UnknownOutputBlobNameIsAModelLoadError) {
  const std::string engine = engineOf(kFaceNet, "blobs");
  expectModelLoadError([&] { detector(kFaceNet, "tensorrt", engine, {"--output-blob-names", "output_cov/Sigmoid;nope"}); },
                       "'nope'");
}

TEST_F(TensorRt, EngineForAnotherInputSizeIsAModelLoadError) {
  const std::string engine = engineOf(kFaceNet, "size");
  expectModelLoadError([&] { detector(kFaceNet, "tensorrt", engine, {"--input", "640x480"}); },
                       "the configured input has 921600 values");
}

TEST_F(TensorRt, NotAnEngineIsAModelLoadErrorWithTensorRtsReason) {
  expectModelLoadError([&] { detector(kFaceNet, "tensorrt", modelPath(kDetectNet)); },
                       "not a facefleet TensorRT double engine");
}
