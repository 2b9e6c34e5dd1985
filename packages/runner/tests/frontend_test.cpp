// Source classification, preprocessing into the network blob, synthetic benchmark grids.
#include <gtest/gtest.h>

#include <opencv2/core.hpp>

#include "facefleet/preprocess.hpp"
#include "facefleet/source.hpp"
#include "facefleet/synthetic.hpp"

using namespace facefleet;

TEST(Source, ClassifiesSpecs) {
  EXPECT_EQ(classifySource("v4l2src ! videoconvert ! appsink", false), SourceKind::Gstreamer);
  EXPECT_EQ(classifySource("rtsp://cam.local/stream1", false), SourceKind::Stream);
  EXPECT_EQ(classifySource("https://example.com/live.m3u8", false), SourceKind::Stream);
  EXPECT_EQ(classifySource("/dev/video0", false), SourceKind::Camera);
  EXPECT_EQ(classifySource("1", false), SourceKind::Camera);
  EXPECT_EQ(classifySource("/data/frames", true), SourceKind::Images);
  EXPECT_EQ(classifySource("/data/a.JPG", false), SourceKind::Images);
  EXPECT_EQ(classifySource("/data/Megamind.avi", false), SourceKind::File);
  EXPECT_EQ(classifySource("/data/clip.mp4", false), SourceKind::File);
  EXPECT_STREQ(sourceKindName(SourceKind::Gstreamer), "gstreamer");
}

namespace {
// 2×2 BGR image: pixel (x,y) has B = 10+x, G = 20+y, R = 30+x+y.
cv::Mat tiny() {
  cv::Mat m(2, 2, CV_8UC3);
  for (int y = 0; y < 2; ++y)
    for (int x = 0; x < 2; ++x) m.at<cv::Vec3b>(y, x) = cv::Vec3b(10 + x, 20 + y, 30 + x + y);
  return m;
}
}  // namespace

TEST(Preprocess, NchwRgbPlanesWithScaleAndOffsets) {
  InputSpec s;
  s.width = 2;
  s.height = 2;
  s.layout = Layout::NCHW;
  s.rgb = true;
  s.netScaleFactor = 0.5f;
  s.offsets = {1, 2, 3};
  std::vector<float> blob;
  Preprocessor(s).run(tiny(), blob);
  ASSERT_EQ(blob.size(), 12u);
  // Plane 0 = R: (30+x+y - 1) * 0.5 for (x,y) = (0,0),(1,0),(0,1),(1,1).
  EXPECT_FLOAT_EQ(blob[0], (30 - 1) * 0.5f);
  EXPECT_FLOAT_EQ(blob[1], (31 - 1) * 0.5f);
  EXPECT_FLOAT_EQ(blob[3], (32 - 1) * 0.5f);
  // Plane 1 = G (offset 2), plane 2 = B (offset 3).
  EXPECT_FLOAT_EQ(blob[4 + 2], (21 - 2) * 0.5f);
  EXPECT_FLOAT_EQ(blob[8 + 1], (11 - 3) * 0.5f);
}

TEST(Preprocess, NhwcInterleavedBgrWhenAsked) {
  InputSpec s;
  s.width = 2;
  s.height = 2;
  s.layout = Layout::NHWC;
  s.rgb = false;
  s.netScaleFactor = 1.0f / 127.5f;
  s.offsets = {127.5f, 127.5f, 127.5f};
  std::vector<float> blob;
  Preprocessor(s).run(tiny(), blob);
  // Pixel (1,0): B=11, G=20, R=31, interleaved in BGR order.
  EXPECT_NEAR(blob[3 + 0], (11 - 127.5f) / 127.5f, 1e-6);
  EXPECT_NEAR(blob[3 + 1], (20 - 127.5f) / 127.5f, 1e-6);
  EXPECT_NEAR(blob[3 + 2], (31 - 127.5f) / 127.5f, 1e-6);
}

TEST(Preprocess, LetterboxPadsCentredAndReportsTheTransform) {
  InputSpec s;
  s.width = 4;
  s.height = 4;
  s.layout = Layout::NHWC;
  s.letterbox = true;
  cv::Mat img(2, 4, CV_8UC3, cv::Scalar(200, 200, 200));
  std::vector<float> blob;
  const FrameTransform t = Preprocessor(s).run(img, blob);
  EXPECT_FLOAT_EQ(t.scaleX, 1.0f);
  EXPECT_FLOAT_EQ(t.padY, 1.0f);
  EXPECT_FLOAT_EQ(t.padX, 0.0f);
  // Row 0 is padding (black), rows 1-2 are the image, row 3 padding.
  EXPECT_FLOAT_EQ(blob[0], 0.0f);
  EXPECT_FLOAT_EQ(blob[1 * 4 * 3], 200.0f);
  EXPECT_FLOAT_EQ(blob[2 * 4 * 3 + 5], 200.0f);
  EXPECT_FLOAT_EQ(blob[3 * 4 * 3], 0.0f);
}

TEST(Synthetic, GridsLookLikeFaceNetOutput) {
  for (std::uint32_t seed = 1; seed <= 20; ++seed) {
    const SyntheticGrid g = makeSyntheticGrid(seed);
    ASSERT_GE(g.faces.size(), 2u);
    ASSERT_LE(g.faces.size(), 6u);
    // Each face lights ~6-20 cells, plus 0-5 noise cells (blobs may overlap).
    EXPECT_GE(g.litCells, 6 * 1) << seed;
    EXPECT_LE(g.litCells, 20 * static_cast<int>(g.faces.size()) + 5) << seed;
  }
  EXPECT_EQ(makeSyntheticGrid(5).cov, makeSyntheticGrid(5).cov);  // deterministic per seed
}
