#include "facefleet/geometry.hpp"

#include <algorithm>

namespace facefleet {

FrameTransform resizeTransform(int srcW, int srcH, int netW, int netH) {
  FrameTransform t;
  t.srcWidth = srcW;
  t.srcHeight = srcH;
  t.scaleX = srcW > 0 ? static_cast<float>(netW) / srcW : 1.0f;
  t.scaleY = srcH > 0 ? static_cast<float>(netH) / srcH : 1.0f;
  return t;
}

FrameTransform letterboxTransform(int srcW, int srcH, int netW, int netH) {
  FrameTransform t;
  t.srcWidth = srcW;
  t.srcHeight = srcH;
  if (srcW <= 0 || srcH <= 0) return t;
  const float s = std::min(static_cast<float>(netW) / srcW, static_cast<float>(netH) / srcH);
  t.scaleX = t.scaleY = s;
  t.padX = (netW - srcW * s) * 0.5f;
  t.padY = (netH - srcH * s) * 0.5f;
  return t;
}

Box toSource(const Box& b, const FrameTransform& t) {
  const float w = static_cast<float>(t.srcWidth), h = static_cast<float>(t.srcHeight);
  Box s;
  s.x1 = std::clamp((b.x1 - t.padX) / t.scaleX, 0.0f, w);
  s.y1 = std::clamp((b.y1 - t.padY) / t.scaleY, 0.0f, h);
  s.x2 = std::clamp((b.x2 - t.padX) / t.scaleX, 0.0f, w);
  s.y2 = std::clamp((b.y2 - t.padY) / t.scaleY, 0.0f, h);
  s.conf = b.conf;
  return s;
}

}  // namespace facefleet
