// The per-pixel maths the CUDA kernel runs (preprocess_pixel.hpp), compiled here as host code, must
// equal the CPU preprocessing (OpenCV cv::resize + cvtColor + convertTo) on real frames: every
// value within 1e-6 (the float scale/offset may round differently by one ulp; the resized 8-bit
// pixels must be identical, or the difference would be ≥ 1/255).
#include <gtest/gtest.h>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include <cmath>
#include <cstdio>

#include "facefleet/decode.hpp"
#include "facefleet/preprocess.hpp"
#include "facefleet/preprocess_plan.hpp"
#include "test_support.hpp"

using namespace facefleet;
using namespace testsupport;

namespace {

struct Diff {
  double max = 0;
  std::size_t at = 0, over = 0;
};

Diff compare(const InputSpec& spec, const cv::Mat& bgr) {
  std::vector<float> cpu;
  Preprocessor(spec).run(bgr, cpu);
  const PreprocessPlan plan = planPreprocess(spec, bgr.cols, bgr.rows);
  std::vector<float> shared(spec.elementCount(), -99.0f);
  preprocessOnHost(plan, bgr.data, bgr.step, shared.data());
  Diff d;
  EXPECT_EQ(cpu.size(), shared.size());
  for (std::size_t i = 0; i < cpu.size() && i < shared.size(); ++i) {
    const double e = std::fabs(static_cast<double>(cpu[i]) - shared[i]);
    if (!(e <= d.max)) d.max = e, d.at = i;
    if (!(e <= 1e-6)) ++d.over;
  }
  return d;
}

InputSpec detectNet() { return Decoder::create("detectnet_v2").defaultInput; }

InputSpec blazeFace() {
  InputSpec s = Decoder::create("blazeface").defaultInput;
  s.width = s.height = 256;
  return s;
}

// Sizes whose rows are no multiple of OpenCV's 16-byte vectors (its non-vector tail), BGR order
// with per-channel offsets, and plain resizes with one or both axes upscaled.
InputSpec odd(int w, int h) {
  InputSpec s = detectNet();
  s.width = w;
  s.height = h;
  s.rgb = false;
  s.netScaleFactor = 0.0173f;
  s.offsets = {103.94f, 116.78f, 123.68f};
  return s;
}

std::vector<cv::Mat> frames() {
  std::vector<cv::Mat> out;
  cv::VideoCapture cap(samplePath("Megamind.avi"));
  cv::Mat f;
  for (int i = 0; i < 60 && cap.read(f); ++i)
    if (i % 15 == 0) out.push_back(f.clone());
  out.push_back(cv::imread(samplePath("messi5.jpg")));
  return out;
}

void expectEqual(const InputSpec& spec, const cv::Mat& bgr, const std::string& what) {
  const Diff d = compare(spec, bgr);
  EXPECT_EQ(d.over, 0u) << what << ": " << d.over << " values differ by more than 1e-6, max " << d.max << " at " << d.at;
  EXPECT_LE(d.max, 1e-6) << what;
  char max[32];
  std::snprintf(max, sizeof max, "%.3g", d.max);
  ::testing::Test::RecordProperty(what, max);
}

class SharedPixelMaths : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(haveSample("Megamind.avi"));
    ASSERT_TRUE(haveSample("messi5.jpg"));
  }
};

}  // namespace

TEST_F(SharedPixelMaths, DetectNetInputEqualsTheCpuPathOnRealFrames) {
  for (const cv::Mat& f : frames()) expectEqual(detectNet(), f, std::to_string(f.cols) + "x" + std::to_string(f.rows));
}

TEST_F(SharedPixelMaths, BlazeFaceLetterboxEqualsTheCpuPathOnRealFrames) {
  for (const cv::Mat& f : frames()) expectEqual(blazeFace(), f, std::to_string(f.cols) + "x" + std::to_string(f.rows));
}

// The benchmark's case: a 1080p frame (Megamind scaled up, so real content) to 736×416.
TEST_F(SharedPixelMaths, FullHdFrameToFaceNetInputEqualsTheCpuPath) {
  for (const cv::Mat& f : frames()) {
    cv::Mat hd;
    cv::resize(f, hd, cv::Size(1920, 1080), 0, 0, cv::INTER_CUBIC);
    expectEqual(detectNet(), hd, "1920x1080");
    expectEqual(blazeFace(), hd, "1920x1080 letterboxed");
  }
}

TEST_F(SharedPixelMaths, OddSizesBgrAndOffsetsEqualTheCpuPath) {
  for (const cv::Mat& f : frames())
    for (const auto& size : std::vector<std::pair<int, int>>{{255, 143}, {737, 417}, {1001, 601}, {97, 1103}, {13, 7}})
      expectEqual(odd(size.first, size.second), f, std::to_string(size.first) + "x" + std::to_string(size.second));
}

// cv::resize switches an exact 2× downscale to INTER_AREA, and copies equal sizes.
TEST_F(SharedPixelMaths, ExactHalfAndEqualSizesEqualTheCpuPath) {
  for (const cv::Mat& f : frames()) {
    cv::Mat big, same;
    cv::resize(f, big, cv::Size(1472, 832), 0, 0, cv::INTER_CUBIC);
    cv::resize(f, same, cv::Size(736, 416), 0, 0, cv::INTER_CUBIC);
    EXPECT_EQ(planPreprocess(detectNet(), 1472, 832).pixels.sampling, pixel::Sampling::Area2x);
    expectEqual(detectNet(), big, "1472x832");
    EXPECT_EQ(planPreprocess(detectNet(), 736, 416).pixels.sampling, pixel::Sampling::Copy);
    expectEqual(detectNet(), same, "736x416");
  }
}
