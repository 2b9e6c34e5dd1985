#include "facefleet/source.hpp"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/core/version.hpp>
#include <opencv2/videoio.hpp>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <dirent.h>
#include <sys/stat.h>

#include "facefleet/errors.hpp"

namespace facefleet {
namespace {

std::string lowerExt(const std::string& path) {
  const auto dot = path.rfind('.');
  const auto slash = path.rfind('/');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return "";
  std::string e = path.substr(dot + 1);
  for (char& c : e) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return e;
}

bool isDirectory(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool isInteger(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
}

class ImageSource final : public FrameSource {
 public:
  ImageSource(std::vector<std::string> files) : files_(std::move(files)) {}
  bool read(cv::Mat& frame) override {
    while (next_ < files_.size()) {
      const std::string& f = files_[next_++];
      frame = cv::imread(f, cv::IMREAD_COLOR);
      if (!frame.empty()) return true;
      std::fprintf(stderr, "facefleet-runner: warning: cannot decode image %s (skipped)\n", f.c_str());
    }
    return false;
  }
  bool restart() override {
    next_ = 0;
    return true;
  }
  bool live() const override { return false; }
  double fps() const override { return 0; }
  SourceKind kind() const override { return SourceKind::Images; }

 private:
  std::vector<std::string> files_;
  std::size_t next_ = 0;
};

constexpr int kStreamTimeoutMs = 5000;

class CaptureSource final : public FrameSource {
 public:
  CaptureSource(const std::string& spec, SourceKind kind) : spec_(spec), kind_(kind) { openCapture(); }
  bool read(cv::Mat& frame) override {
    if (!cap_.read(frame) || frame.empty()) {
      error_ = live() ? "no frame from " + spec_ + " (device or stream stopped delivering)" : "";
      return false;
    }
    return true;
  }
  bool restart() override {
    if (live()) return false;
    if (cap_.set(cv::CAP_PROP_POS_FRAMES, 0)) return true;
    cap_.release();  // some containers cannot seek: reopen instead
    return cap_.open(spec_) && cap_.isOpened();
  }
  bool live() const override { return kind_ != SourceKind::File; }
  double fps() const override { return fps_; }
  SourceKind kind() const override { return kind_; }
  std::string lastError() const override { return error_; }

 private:
  void openCapture() {
    bool ok = false;
    try {
      switch (kind_) {
        case SourceKind::Gstreamer: ok = cap_.open(spec_, cv::CAP_GSTREAMER); break;
        case SourceKind::Camera:
          ok = isInteger(spec_) ? cap_.open(std::stoi(spec_), cv::CAP_V4L2) : cap_.open(spec_, cv::CAP_V4L2);
          break;
        case SourceKind::Stream:
#if CV_VERSION_MAJOR > 4 || (CV_VERSION_MAJOR == 4 && CV_VERSION_MINOR >= 6)
          // Bounded open and read, so a dead server is noticed and reconnected instead of hanging
          // (OpenCV >= 4.5.2 has these FFmpeg parameters; JetPack 4's OpenCV 4.1 keeps FFmpeg's
          // defaults, about 30 s).
          ok = cap_.open(spec_, cv::CAP_FFMPEG,
                         {cv::CAP_PROP_OPEN_TIMEOUT_MSEC, kStreamTimeoutMs, cv::CAP_PROP_READ_TIMEOUT_MSEC,
                          kStreamTimeoutMs});
#else
          ok = cap_.open(spec_, cv::CAP_FFMPEG);
#endif
          break;
        default: ok = cap_.open(spec_); break;
      }
    } catch (const cv::Exception& e) {
      throw RunnerError(ErrorCode::Source, "--source: cannot open '" + spec_ + "': " + e.what());
    }
    if (!ok || !cap_.isOpened())
      throw RunnerError(ErrorCode::Source, std::string("--source: cannot open '") + spec_ + "' as " +
                                               sourceKindName(kind_) +
                                               (kind_ == SourceKind::Gstreamer
                                                    ? " (is OpenCV built with GStreamer?)"
                                                    : kind_ == SourceKind::File ? " (missing file or unsupported codec)" : ""));
    fps_ = cap_.get(cv::CAP_PROP_FPS);
    if (!(fps_ > 0 && fps_ < 1000)) fps_ = 0;
  }

  std::string spec_;
  SourceKind kind_;
  cv::VideoCapture cap_;
  double fps_ = 0;
  std::string error_;
};

}  // namespace

const char* sourceKindName(SourceKind kind) {
  switch (kind) {
    case SourceKind::File: return "file";
    case SourceKind::Images: return "images";
    case SourceKind::Camera: return "camera";
    case SourceKind::Stream: return "stream";
    case SourceKind::Gstreamer: return "gstreamer";
  }
  return "file";
}

bool isImagePath(const std::string& path) {
  static const char* kExt[] = {"jpg", "jpeg", "png", "bmp", "tif", "tiff", "webp", "ppm", "pgm"};
  const std::string e = lowerExt(path);
  return std::any_of(std::begin(kExt), std::end(kExt), [&](const char* x) { return e == x; });
}

SourceKind classifySource(const std::string& spec, bool directory) {
  if (spec.find('!') != std::string::npos) return SourceKind::Gstreamer;
  static const char* kSchemes[] = {"rtsp://", "rtsps://", "http://", "https://", "rtmp://", "udp://", "tcp://"};
  for (const char* s : kSchemes)
    if (spec.rfind(s, 0) == 0) return SourceKind::Stream;
  if (spec.rfind("/dev/video", 0) == 0 || isInteger(spec)) return SourceKind::Camera;
  if (directory || isImagePath(spec)) return SourceKind::Images;
  return SourceKind::File;
}

std::unique_ptr<FrameSource> FrameSource::open(const std::string& spec) {
  const bool dir = isDirectory(spec);
  const SourceKind kind = classifySource(spec, dir);
  if (kind == SourceKind::Images) {
    std::vector<std::string> files;
    if (dir) {
      DIR* d = ::opendir(spec.c_str());
      if (!d) throw RunnerError(ErrorCode::Source, "--source: cannot read directory '" + spec + "'");
      while (dirent* e = ::readdir(d)) {
        const std::string name = e->d_name;
        if (name[0] != '.' && isImagePath(name)) files.push_back(spec + (spec.back() == '/' ? "" : "/") + name);
      }
      ::closedir(d);
      std::sort(files.begin(), files.end());
      if (files.empty()) throw RunnerError(ErrorCode::Source, "--source: no images in directory '" + spec + "'");
    } else {
      struct stat st {};
      if (::stat(spec.c_str(), &st) != 0) throw RunnerError(ErrorCode::Source, "--source: no such file '" + spec + "'");
      files.push_back(spec);
    }
    return std::make_unique<ImageSource>(std::move(files));
  }
  if (kind == SourceKind::File) {
    struct stat st {};
    if (::stat(spec.c_str(), &st) != 0) throw RunnerError(ErrorCode::Source, "--source: no such file '" + spec + "'");
  }
  return std::make_unique<CaptureSource>(spec, kind);
}

std::string sourceUsage() {
  return "  --source [ID=]SRC                 a camera: image file, folder of images (sorted), video file,\n"
         "                                    rtsp:// or http(s):// URL, /dev/videoN or N (V4L2), or a\n"
         "                                    GStreamer pipeline (contains '!', ends in appsink). Repeat\n"
         "                                    it for several cameras; ID names the camera in the output\n"
         "                                    (default: its position, 0, 1, ...)\n"
         "  --sources FILE                    cameras from a file, one [ID=]SRC per line ('#' comments)\n"
         "  --batch-size N                    frames per inference at most (default: one per camera\n"
         "                                    with tensorrt; 1 with opencv: CPU batches save nothing)\n"
         "  --batch-timeout-ms MS             how long a batch waits for a slow camera (default 40)\n"
         "  --inference-lanes N               model instances inferring side by side, cameras shared\n"
         "                                    among them (default: min(cores, cameras) with opencv,\n"
         "                                    1 with tensorrt)\n"
         "  --no-reconnect                    a live source that fails stays failed (default: reopen it\n"
         "                                    with exponential backoff and jitter)\n"
         "  --reconnect-max-s S               longest wait between reopen attempts (default 30)\n"
         "  --loop                            restart a video file or folder at its end\n"
         "  --pace                            deliver file frames at the file's native FPS, like a\n"
         "                                    camera (stale frames are then dropped, as for live sources)\n"
         "  --max-frames N                    stop after N processed frames, all cameras together\n"
         "                                    (0 = no limit)\n"
         "  --max-fps F                       process at most F frames per second per camera (0 = no\n"
         "                                    limit): live and paced sources skip frames, other files are\n"
         "                                    read slower\n"
         "  --stats-interval S                seconds between stats lines (default 5)\n";
}

}  // namespace facefleet
