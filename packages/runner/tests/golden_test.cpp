// Golden tests on real data: MediaPipe BlazeFace on OpenCV's sample images/video, and the generated
// DetectNet_v2-shaped model through the OpenCV backend. Missing models FAIL (run fetch-models).
#include <gtest/gtest.h>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/videoio.hpp>

#include <cmath>
#include <cstdio>

#include "facefleet/backend.hpp"
#include "facefleet/detector.hpp"
#include "facefleet/errors.hpp"
#include "facefleet/preprocess.hpp"
#include "test_support.hpp"

using namespace facefleet;
using namespace testsupport;

namespace {
std::unique_ptr<Detector> blazeface(const std::string& file, int size) {
  RunnerConfig cfg;
  cfg.decoder = "blazeface";
  cfg.model = modelPath(file);
  cfg.inferDims = std::array<int, 3>{3, size, size};
  return Detector::create(cfg);
}
}  // namespace

// Reference: a colleague's independent check found the face at about x=221, y=96, 36×36, score 0.87.
TEST(GoldenBlazeFace, MessiHasExactlyOneFaceWhereExpected) {
  ASSERT_TRUE(haveModel(kBlazeBack));
  ASSERT_TRUE(haveSample("messi5.jpg"));
  auto det = blazeface(kBlazeBack, 256);
  const cv::Mat img = cv::imread(samplePath("messi5.jpg"));
  ASSERT_FALSE(img.empty());
  const Boxes faces = det->detectFrame(img);
  ASSERT_EQ(faces.size(), 1u);
  EXPECT_NEAR(faces[0].x1, 221.0f, 5.0f);
  EXPECT_NEAR(faces[0].y1, 96.0f, 5.0f);
  EXPECT_NEAR(faces[0].width(), 36.0f, 5.0f);
  EXPECT_NEAR(faces[0].height(), 36.0f, 5.0f);
  EXPECT_NEAR(faces[0].conf, 0.87f, 0.03f);
}

TEST(GoldenBlazeFace, MegamindFaceInAtLeast57OfTheFirst60Frames) {
  ASSERT_TRUE(haveModel(kBlazeBack));
  ASSERT_TRUE(haveSample("Megamind.avi"));
  auto det = blazeface(kBlazeBack, 256);
  cv::VideoCapture cap(samplePath("Megamind.avi"));
  ASSERT_TRUE(cap.isOpened());
  int withFace = 0, frames = 0;
  cv::Mat frame;
  while (frames < 60 && cap.read(frame)) {
    ++frames;
    if (!det->detectFrame(frame).empty()) ++withFace;
  }
  ASSERT_EQ(frames, 60);
  EXPECT_GE(withFace, 57);
}

// The 128×128 "front" model and the 256×256 "back" model must agree on Megamind's large face
// (frame 29, about 136 px): an independent check of the letterbox mapping at two input sizes.
TEST(GoldenBlazeFace, FrontAndBackModelsAgreeOnALargeFace) {
  ASSERT_TRUE(haveModel(kBlazeFront));
  ASSERT_TRUE(haveModel(kBlazeBack));
  ASSERT_TRUE(haveSample("Megamind.avi"));
  cv::VideoCapture cap(samplePath("Megamind.avi"));
  cv::Mat frame;
  for (int i = 0; i <= 29; ++i) ASSERT_TRUE(cap.read(frame));
  auto front = blazeface(kBlazeFront, 128);
  auto back = blazeface(kBlazeBack, 256);
  EXPECT_EQ(front->input().width, 128);
  const Boxes f = front->detectFrame(frame), b = back->detectFrame(frame);
  ASSERT_GE(f.size(), 1u);
  ASSERT_GE(b.size(), 1u);
  EXPECT_GT(f[0].height(), 100.0f);
  EXPECT_GT(iou(f[0], b[0]), 0.8f) << "front " << f[0].x1 << "," << f[0].y1 << " back " << b[0].x1 << "," << b[0].y1;
}

TEST(GoldenDetectNet, GeneratedModelHasFaceNetTensorNamesAndShapes) {
  ASSERT_TRUE(haveModel(kDetectNet));
  BackendConfig bc;
  bc.modelPath = modelPath(kDetectNet);
  bc.input = Decoder::create("detectnet_v2").defaultInput;
  bc.outputNames = {"output_bbox/BiasAdd", "output_cov/Sigmoid"};
  auto backend = Backend::create("opencv", bc);
  std::vector<float> input(bc.input.elementCount(), 0.5f);
  const auto& outs = backend->infer(input.data(), 1);
  ASSERT_EQ(outs.size(), 2u);
  EXPECT_EQ(outs[0].name, "output_bbox/BiasAdd");
  EXPECT_EQ(outs[0].shape, (std::vector<int>{1, 4, 26, 46}));
  EXPECT_EQ(outs[1].name, "output_cov/Sigmoid");
  EXPECT_EQ(outs[1].shape, (std::vector<int>{1, 1, 26, 46}));
  for (std::size_t i = 0; i < outs[1].count(); ++i) {
    ASSERT_GT(outs[1].data[i], 0.0f);
    ASSERT_LT(outs[1].data[i], 1.0f);
  }
}

TEST(GoldenDetectNet, WrongOutputNameIsAModelLoadError) {
  ASSERT_TRUE(haveModel(kDetectNet));
  BackendConfig bc;
  bc.modelPath = modelPath(kDetectNet);
  bc.input = Decoder::create("detectnet_v2").defaultInput;
  bc.outputNames = {"output_bbox/BiasAdd", "nope"};
  try {
    Backend::create("opencv", bc);
    FAIL() << "expected a model_load error";
  } catch (const RunnerError& e) {
    EXPECT_EQ(e.code(), ErrorCode::ModelLoad);
    EXPECT_NE(std::string(e.what()).find("'nope'"), std::string::npos);
  }
}

namespace {

// Four real frames (Megamind 0, 10, 20, 30), preprocessed for `spec`, one after the other.
std::vector<float> megamindBlob(const InputSpec& spec, int frames) {
  cv::VideoCapture cap(samplePath("Megamind.avi"));
  Preprocessor pre(spec);
  std::vector<float> all, one;
  cv::Mat frame;
  for (int i = 0; static_cast<int>(all.size() / spec.elementCount()) < frames && cap.read(frame); ++i) {
    if (i % 10 != 0) continue;
    pre.run(frame, one);
    all.insert(all.end(), one.begin(), one.end());
  }
  return all;
}

// Runs the frames one by one and then as one batch; returns the largest |difference| over every
// output value, and checks the batched shapes.
float batchedVersusSingle(Backend& backend, const InputSpec& spec, const std::vector<float>& blob, int frames) {
  const std::size_t n = spec.elementCount();
  std::vector<std::vector<std::vector<float>>> single(frames);
  for (int f = 0; f < frames; ++f)
    for (const TensorView& v : backend.infer(blob.data() + f * n, 1)) {
      EXPECT_EQ(v.shape.at(0), 1) << v.name;
      single[f].emplace_back(v.data, v.data + v.count());
    }
  const auto& outs = backend.infer(blob.data(), frames);
  float worst = 0;
  for (std::size_t i = 0; i < outs.size(); ++i) {
    EXPECT_EQ(outs[i].shape.at(0), frames) << outs[i].name;
    for (int f = 0; f < frames; ++f) {
      const TensorView s = frameSlice(outs[i], f);
      EXPECT_EQ(s.shape.at(0), 1);
      EXPECT_EQ(s.count(), single[f][i].size());
      for (std::size_t k = 0; k < s.count(); ++k) worst = std::max(worst, std::fabs(s.data[k] - single[f][i][k]));
    }
  }
  return worst;
}

}  // namespace

TEST(GoldenBatch, DetectNetRunsBatchedAndEachFrameEqualsItsSingleRun) {
  ASSERT_TRUE(haveModel(kDetectNet));
  ASSERT_TRUE(haveSample("Megamind.avi"));
  BackendConfig bc;
  bc.modelPath = modelPath(kDetectNet);
  bc.input = Decoder::create("detectnet_v2").defaultInput;
  bc.maxBatch = 4;
  auto backend = Backend::create("opencv", bc);
  ASSERT_EQ(backend->maxBatch(), 4) << "the generated model has a dynamic batch dimension";
  const auto blob = megamindBlob(bc.input, 4);
  ASSERT_EQ(blob.size(), 4 * bc.input.elementCount());
  const float worst = batchedVersusSingle(*backend, bc.input, blob, 4);
  std::printf("detectnet batch 4 vs single: max |diff| %g\n", worst);
  EXPECT_EQ(worst, 0.0f);
  // A batch larger than maxBatch() is refused rather than read past the caller's buffer.
  EXPECT_THROW(backend->infer(blob.data(), 5), RunnerError);
}

namespace {

// Runs Megamind's first `frames` frames through `batched` in one detectBatch() call and through
// `single` one by one; checks the boxes are identical frame by frame; returns frames per call.
std::vector<int> batchVersusSingleRuns(Detector& batched, Detector& single, int frames) {
  cv::VideoCapture cap(samplePath("Megamind.avi"));
  Preprocessor pre(batched.input());
  std::vector<float> all, one;
  std::vector<FrameTransform> transforms;
  std::vector<Boxes> expected;
  cv::Mat frame;
  for (int i = 0; i < frames && cap.read(frame); ++i) {
    transforms.push_back(pre.run(frame, one));
    all.insert(all.end(), one.begin(), one.end());
    expected.push_back(single.detect(one, transforms.back(), nullptr, nullptr));
  }
  EXPECT_EQ(transforms.size(), static_cast<std::size_t>(frames));
  std::vector<Boxes> got;
  Detector::BatchTiming timing;
  batched.detectBatch(all.data(), transforms, got, &timing);
  EXPECT_EQ(got.size(), expected.size());
  for (std::size_t f = 0; f < got.size() && f < expected.size(); ++f) {
    EXPECT_EQ(got[f].size(), expected[f].size()) << "frame " << f;
    for (std::size_t k = 0; k < got[f].size() && k < expected[f].size(); ++k) {
      EXPECT_EQ(got[f][k].x1, expected[f][k].x1);
      EXPECT_EQ(got[f][k].y2, expected[f][k].y2);
      EXPECT_EQ(got[f][k].conf, expected[f][k].conf);
    }
  }
  return timing.callFrames;
}

}  // namespace

// The Barracuda export of BlazeFace pads channels by concatenating a constant zero tensor whose
// batch is fixed at 1, so OpenCV DNN cannot run it batched: the backend finds that out at load time
// and reports maxBatch() 1, and the Detector then infers frame by frame. If a future model or
// OpenCV changes that, this test says so (and the batched outputs must then equal single runs).
TEST(GoldenBatch, BlazeFaceBarracudaExportRunsOneFrameAtATime) {
  ASSERT_TRUE(haveModel(kBlazeBack));
  ASSERT_TRUE(haveSample("Megamind.avi"));
  RunnerConfig cfg;
  cfg.decoder = "blazeface";
  cfg.model = modelPath(kBlazeBack);
  auto det = Detector::create(cfg, 4);
  EXPECT_EQ(det->maxBatch(), 1);
  auto single = Detector::create(cfg, 1);
  EXPECT_EQ(batchVersusSingleRuns(*det, *single, 3), (std::vector<int>{1, 1, 1}));
}

TEST(GoldenBatch, DetectorBatchGivesEachFrameTheBoxesOfItsOwnRun) {
  ASSERT_TRUE(haveModel(kDetectNet));
  ASSERT_TRUE(haveSample("Megamind.avi"));
  RunnerConfig cfg;
  cfg.model = modelPath(kDetectNet);
  cfg.cluster.mode = ClusterMode::Dbscan;
  auto batched = Detector::create(cfg, 3);
  auto single = Detector::create(cfg, 1);
  // 5 frames: one call of 3, one of 2.
  EXPECT_EQ(batchVersusSingleRuns(*batched, *single, 5), (std::vector<int>{3, 2}));
}
