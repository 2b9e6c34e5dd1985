// Mapping between source-frame pixels and network-input pixels (plain resize or letterbox).
#pragma once

#include "facefleet/box.hpp"

namespace facefleet {

// net = src · scale + pad, per axis.
struct FrameTransform {
  int srcWidth = 0, srcHeight = 0;
  float scaleX = 1, scaleY = 1;
  float padX = 0, padY = 0;
};

// Plain resize to netW×netH (DetectNet_v2 / DeepStream without maintain-aspect-ratio).
FrameTransform resizeTransform(int srcW, int srcH, int netW, int netH);
// Aspect-preserving scale, centred padding (letterbox).
FrameTransform letterboxTransform(int srcW, int srcH, int netW, int netH);

// Network-input pixels -> source pixels, clipped to the source frame.
Box toSource(const Box& netBox, const FrameTransform& t);

}  // namespace facefleet
