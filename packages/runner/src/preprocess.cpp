#include "facefleet/preprocess.hpp"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <memory>
#include <stdexcept>

namespace facefleet {

FrameTransform Preprocessor::run(const cv::Mat& frame, std::vector<float>& blob) {
  const FrameTransform t = stage(frame, staged_);
  blob.resize(spec_.elementCount());
  toBlob(staged_.data(), blob.data());
  return t;
}

FrameTransform Preprocessor::stage(const cv::Mat& frame, std::vector<std::uint8_t>& staged) {
  const int W = spec_.width, H = spec_.height;
  cv::Mat bgr = frame;
  if (frame.channels() == 1) cv::cvtColor(frame, bgr, cv::COLOR_GRAY2BGR);
  else if (frame.channels() == 4) cv::cvtColor(frame, bgr, cv::COLOR_BGRA2BGR);
  if (bgr.depth() != CV_8U) throw std::runtime_error("preprocess: expected an 8-bit frame");

  // Geometry from the plan the CUDA kernel uses too, so both place the frame identically.
  if (!plan_ || plan_->pixels.srcW != bgr.cols || plan_->pixels.srcH != bgr.rows)
    plan_ = std::make_unique<PreprocessPlan>(planPreprocess(spec_, bgr.cols, bgr.rows));
  const pixel::Plan& p = plan_->pixels;
  if (spec_.letterbox) {
    canvas_.create(H, W, CV_8UC3);
    canvas_.setTo(cv::Scalar::all(0));
    cv::resize(bgr, resized_, cv::Size(p.resizedW, p.resizedH), 0, 0, cv::INTER_LINEAR);
    resized_.copyTo(canvas_(cv::Rect(p.padX, p.padY, std::min(p.resizedW, W), std::min(p.resizedH, H))));
  } else {
    if (bgr.cols == W && bgr.rows == H) bgr.copyTo(canvas_);
    else cv::resize(bgr, canvas_, cv::Size(W, H), 0, 0, cv::INTER_LINEAR);
  }
  staged.resize(stagedSize());
  cv::Mat out(H, W, CV_8UC3, staged.data());  // same size and type: written in place
  if (spec_.rgb) cv::cvtColor(canvas_, out, cv::COLOR_BGR2RGB);
  else canvas_.copyTo(out);
  return plan_->transform;
}

void Preprocessor::toBlob(const std::uint8_t* staged, float* blob) {
  const int W = spec_.width, H = spec_.height;
  const cv::Mat ordered(H, W, CV_8UC3, const_cast<std::uint8_t*>(staged));
  // y = netScaleFactor · (x − offset[c]), in the network's channel order.
  const float s = spec_.netScaleFactor;
  if (spec_.layout == Layout::NHWC) {
    cv::Mat dst(H, W, CV_32FC3, blob);
    ordered.convertTo(dst, CV_32F, s);
    cv::subtract(dst, cv::Scalar(s * spec_.offsets[0], s * spec_.offsets[1], s * spec_.offsets[2]), dst);
  } else {
    cv::split(ordered, planes_);  // into member buffers: no allocation per frame
    for (int c = 0; c < 3; ++c) {
      cv::Mat dst(H, W, CV_32F, blob + static_cast<std::size_t>(c) * W * H);
      planes_[c].convertTo(dst, CV_32F, s, -s * spec_.offsets[c]);
    }
  }
}

}  // namespace facefleet
