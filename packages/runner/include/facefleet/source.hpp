// Frame sources: image file, folder of images, video file, RTSP/HTTP URL, V4L2 device, GStreamer.
#pragma once

#include <opencv2/core.hpp>

#include <memory>
#include <string>
#include <vector>

namespace facefleet {

enum class SourceKind { File, Images, Camera, Stream, Gstreamer };

// "file" | "images" | "camera" | "stream" | "gstreamer" (the hello line's sourceKind)
const char* sourceKindName(SourceKind kind);

// Classification by the spec alone (plus whether it names a directory):
//   contains '!' -> gstreamer; scheme rtsp/rtsps/http/https/rtmp/udp/tcp -> stream;
//   /dev/video* or an integer -> camera; a directory or an image file (by extension) -> images;
//   anything else -> file (a video).
SourceKind classifySource(const std::string& spec, bool isDirectory);
bool isImagePath(const std::string& path);

class FrameSource {
 public:
  virtual ~FrameSource() = default;
  // Next frame (8-bit BGR); false at the end of a file/folder or when a live source fails.
  virtual bool read(cv::Mat& frame) = 0;
  // Back to the first frame (files and folders); false when not possible.
  virtual bool restart() = 0;
  // Cameras and streams: frames keep coming whether or not we read them.
  virtual bool live() const = 0;
  // Native frame rate if known, else 0.
  virtual double fps() const = 0;
  virtual SourceKind kind() const = 0;
  // Human-readable reason for the last read() failure of a live source.
  virtual std::string lastError() const { return ""; }

  // Throws RunnerError(Source) when the source cannot be opened.
  static std::unique_ptr<FrameSource> open(const std::string& spec);
};

std::string sourceUsage();

}  // namespace facefleet
