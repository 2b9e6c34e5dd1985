// facefleet-preprocess-bench: what preprocessing a 1080p frame for FaceNet (1920×1080 → 736×416,
// RGB, ×1/255, planar) costs on this machine's CPU, as the runner does it (Preprocessor: OpenCV
// resize, colour swap, convert), with OpenCV's default threads and with one thread; set against the
// frame budget of NVIDIA's model card rate on an AGX Xavier (537 FPS, batch 1, INT8: 1.86 ms a
// frame); and the CUDA kernel's time on the same frames when a GPU is here (else why not).
// Prints one JSON line.
//   facefleet-preprocess-bench [--frames N] [--source VIDEO]
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "facefleet/decode.hpp"
#include "facefleet/json.hpp"
#include "facefleet/preprocess.hpp"
#ifdef FACEFLEET_HAVE_CUDA_KERNEL
#include "facefleet/gpu_preprocess.hpp"
#endif

using namespace facefleet;

namespace {

constexpr double kXavierFps = 537.0;  // FaceNet model card: AGX Xavier, INT8, batch 1, trtexec

struct Timing {
  double meanMs = 0, p50Ms = 0;
};

Timing summarize(std::vector<double> ms) {
  Timing t;
  if (ms.empty()) return t;
  for (double m : ms) t.meanMs += m / ms.size();
  std::nth_element(ms.begin(), ms.begin() + ms.size() / 2, ms.end());
  t.p50Ms = ms[ms.size() / 2];
  return t;
}

// The CPU path with OpenCV's default threads and with one, measured in alternating rounds (the
// first seconds of a run are slower on this VM, which would otherwise favour whichever goes second).
void timeCpu(const InputSpec& spec, const std::vector<cv::Mat>& frames, int iterations, int threads, Timing& many,
             Timing& one) {
  Preprocessor pre(spec);
  std::vector<float> blob;
  std::vector<double> ms[2];
  const int rounds = 10, perRound = std::max(1, iterations / rounds);
  for (int warm = 0; warm < 2; ++warm)
    for (const cv::Mat& f : frames) pre.run(f, blob);
  for (int r = 0; r < rounds; ++r)
    for (int k = 0; k < 2; ++k) {
      cv::setNumThreads(k == 0 ? threads : 1);
      for (int i = 0; i < perRound; ++i) {
        const cv::Mat& f = frames[(r * perRound + i) % frames.size()];
        const auto t0 = std::chrono::steady_clock::now();
        pre.run(f, blob);
        ms[k].push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      }
    }
  cv::setNumThreads(threads);
  many = summarize(ms[0]);
  one = summarize(ms[1]);
}

void writeTiming(JsonWriter& w, const char* key, const Timing& t) {
  w.key(key).beginObject().key("meanMs").number(t.meanMs, 4).key("p50Ms").number(t.p50Ms, 4).endObject();
}

}  // namespace

int main(int argc, char** argv) {
  int iterations = 200;
  std::string source = "/usr/share/doc/opencv-doc/examples/data/Megamind.avi";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--frames") iterations = std::max(1, std::atoi(argv[i + 1]));
    else if (a == "--source") source = argv[i + 1];
  }
  // Real content at 1080p: the sample video's frames scaled up once, before timing.
  std::vector<cv::Mat> frames;
  cv::VideoCapture cap(source);
  cv::Mat f;
  for (int i = 0; i < 30 && cap.read(f); ++i) {
    cv::Mat hd;
    cv::resize(f, hd, cv::Size(1920, 1080), 0, 0, cv::INTER_CUBIC);
    frames.push_back(hd);
  }
  if (frames.empty()) {
    std::fprintf(stderr, "facefleet-preprocess-bench: cannot read frames from %s\n", source.c_str());
    return 1;
  }
  const InputSpec spec = Decoder::create("detectnet_v2").defaultInput;
  const int threads = cv::getNumThreads();
  Timing cpu, cpu1;
  timeCpu(spec, frames, iterations, threads, cpu, cpu1);
  const double budgetMs = 1000.0 / kXavierFps;

  JsonWriter w;
  w.beginObject()
      .key("type").string("preprocess-bench")
      .key("source").string("1920x1080")
      .key("input").string("736x416")
      .key("frames").integer(iterations)
      .key("cpuThreads").integer(threads);
  writeTiming(w, "cpu", cpu);
  writeTiming(w, "cpu1Thread", cpu1);
  w.key("budgetMs").number(budgetMs, 4)
      .key("cpuShareOfBudget").number(cpu.meanMs / budgetMs, 4)
      .key("cpu1ThreadShareOfBudget").number(cpu1.meanMs / budgetMs, 4);
#ifdef FACEFLEET_HAVE_CUDA_KERNEL
  std::string why;
  if (cudaDeviceAvailable(&why)) {
    GpuPreprocessor gpu(spec);
    std::vector<float> blob;
    std::vector<double> ms;
    for (int i = 0; i < 10 + iterations; ++i) {
      const cv::Mat& hd = frames[i % frames.size()];
      double k = 0;
      gpu.runFromHost(hd.data, hd.cols, hd.rows, hd.step, blob, &k);
      if (i >= 10) ms.push_back(k);
    }
    w.key("gpu").string("yes");
    writeTiming(w, "gpuKernel", summarize(ms));
  } else {
    w.key("gpu").string("no GPU: " + why);
  }
#else
  w.key("gpu").string("no GPU: the CUDA kernel is not built here (no nvcc)");
#endif
  w.endObject();
  std::printf("%s\n", w.str().c_str());
  return 0;
}
