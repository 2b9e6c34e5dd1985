// Golden tests on real data: MediaPipe BlazeFace on OpenCV's sample images/video, and the generated
// DetectNet_v2-shaped model through the OpenCV backend. Missing models FAIL (run fetch-models).
#include <gtest/gtest.h>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/videoio.hpp>

#include "facefleet/backend.hpp"
#include "facefleet/detector.hpp"
#include "facefleet/errors.hpp"
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
  const auto& outs = backend->infer(input.data());
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
