// Axis-aligned detection box and the overlap measure every clustering mode uses.
#pragma once

#include <vector>

namespace facefleet {

// Corner form (x1,y1 top-left, x2,y2 bottom-right), in whatever pixel space the producer states
// (network input pixels after decoding, source-frame pixels after toSource()).
struct Box {
  float x1 = 0, y1 = 0, x2 = 0, y2 = 0;
  float conf = 0;

  float width() const { return x2 - x1; }
  float height() const { return y2 - y1; }
  float area() const { return width() * height(); }
};

// Intersection over union; 0 when either box has no area.
inline float iou(const Box& a, const Box& b) {
  const float ix1 = a.x1 > b.x1 ? a.x1 : b.x1;
  const float iy1 = a.y1 > b.y1 ? a.y1 : b.y1;
  const float ix2 = a.x2 < b.x2 ? a.x2 : b.x2;
  const float iy2 = a.y2 < b.y2 ? a.y2 : b.y2;
  const float iw = ix2 - ix1, ih = iy2 - iy1;
  if (iw <= 0 || ih <= 0) return 0.0f;
  const float inter = iw * ih;
  const float uni = a.area() + b.area() - inter;
  return uni > 0 ? inter / uni : 0.0f;
}

using Boxes = std::vector<Box>;

}  // namespace facefleet
