// The CUDA preprocessing kernel on a real GPU against the CPU path, on real frames: every value
// within 1e-6. Where no GPU is usable the binary prints NOT APPLICABLE and exits 77, which ctest
// reports as skipped and scripts/test-all.mjs as not applicable (never as a pass).
#include <gtest/gtest.h>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include <cmath>
#include <cstdio>

#include "facefleet/decode.hpp"
#include "facefleet/gpu_preprocess.hpp"
#include "facefleet/preprocess.hpp"
#include "test_support.hpp"

using namespace facefleet;
using namespace testsupport;

namespace {

std::vector<cv::Mat> frames() {
  std::vector<cv::Mat> out;
  cv::VideoCapture cap(samplePath("Megamind.avi"));
  cv::Mat f;
  for (int i = 0; i < 60 && cap.read(f); ++i) out.push_back(f.clone());
  out.push_back(cv::imread(samplePath("messi5.jpg")));
  return out;
}

InputSpec blazeFace() {
  InputSpec s = Decoder::create("blazeface").defaultInput;
  s.width = s.height = 256;
  return s;
}

void expectKernelEqualsCpu(const InputSpec& spec, const std::vector<cv::Mat>& input, const std::string& what) {
  Preprocessor cpu(spec);
  GpuPreprocessor gpu(spec);
  double worst = 0;
  for (const cv::Mat& f : input) {
    std::vector<float> a, b;
    cpu.run(f, a);
    gpu.runFromHost(f.data, f.cols, f.rows, f.step, b);
    ASSERT_EQ(a.size(), b.size());
    for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(static_cast<double>(a[i]) - b[i]));
  }
  std::printf("%s: %zu frames, max |kernel - CPU| = %.3g\n", what.c_str(), input.size(), worst);
  EXPECT_LE(worst, 1e-6) << what;
}

}  // namespace

TEST(GpuPreprocess, KernelEqualsTheCpuPathForDetectNetOnMegamindAndMessi) {
  ASSERT_TRUE(haveSample("Megamind.avi"));
  expectKernelEqualsCpu(Decoder::create("detectnet_v2").defaultInput, frames(), "DetectNet_v2 736x416 NCHW");
}

TEST(GpuPreprocess, KernelEqualsTheCpuPathForBlazeFaceLetterbox) {
  ASSERT_TRUE(haveSample("Megamind.avi"));
  expectKernelEqualsCpu(blazeFace(), frames(), "BlazeFace 256 letterbox NHWC");
}

TEST(GpuPreprocess, KernelEqualsTheCpuPathOnFullHdFrames) {
  ASSERT_TRUE(haveSample("Megamind.avi"));
  std::vector<cv::Mat> hd;
  for (const cv::Mat& f : frames()) {
    cv::Mat big;
    cv::resize(f, big, cv::Size(1920, 1080), 0, 0, cv::INTER_CUBIC);
    hd.push_back(big);
  }
  expectKernelEqualsCpu(Decoder::create("detectnet_v2").defaultInput, hd, "1920x1080 -> 736x416");
}

int main(int argc, char** argv) {
  std::string why;
  if (!cudaDeviceAvailable(&why)) {
    std::printf("NOT APPLICABLE: no CUDA GPU here, the preprocessing kernel did not run (%s)\n", why.c_str());
    return 77;
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
