#include "facefleet/preprocess_plan.hpp"

#include <algorithm>
#include <cmath>

namespace facefleet {

PreprocessPlan planPreprocess(const InputSpec& spec, int srcW, int srcH) {
  PreprocessPlan out;
  pixel::Plan& p = out.pixels;
  p.srcW = srcW;
  p.srcH = srcH;
  p.netW = spec.width;
  p.netH = spec.height;
  if (spec.letterbox) {
    FrameTransform t = letterboxTransform(srcW, srcH, spec.width, spec.height);
    p.resizedW = std::max(1, static_cast<int>(std::lround(srcW * t.scaleX)));
    p.resizedH = std::max(1, static_cast<int>(std::lround(srcH * t.scaleY)));
    p.padX = std::max(0, (spec.width - p.resizedW) / 2);
    p.padY = std::max(0, (spec.height - p.resizedH) / 2);
    // The integer placement actually drawn, so boxes map back exactly.
    t.padX = static_cast<float>(p.padX);
    t.padY = static_cast<float>(p.padY);
    t.scaleX = static_cast<float>(p.resizedW) / srcW;
    t.scaleY = static_cast<float>(p.resizedH) / srcH;
    out.transform = t;
  } else {
    out.transform = resizeTransform(srcW, srcH, spec.width, spec.height);
    p.resizedW = spec.width;
    p.resizedH = spec.height;
  }
  if (p.resizedW == srcW && p.resizedH == srcH) p.sampling = pixel::Sampling::Copy;
  else if (srcW == 2 * p.resizedW && srcH == 2 * p.resizedH) p.sampling = pixel::Sampling::Area2x;
  else p.sampling = pixel::Sampling::Linear;
  p.rgb = spec.rgb;
  p.nchw = spec.layout == Layout::NCHW;
  p.scale = spec.netScaleFactor;
  for (int c = 0; c < pixel::kChannels; ++c) p.shift[c] = -(spec.netScaleFactor * spec.offsets[c]);
  if (p.sampling == pixel::Sampling::Linear) {
    const double sx = pixel::resizeScale(srcW, p.resizedW), sy = pixel::resizeScale(srcH, p.resizedH);
    out.xTaps.resize(p.resizedW);
    out.yTaps.resize(p.resizedH);
    for (int x = 0; x < p.resizedW; ++x) out.xTaps[x] = pixel::xTap(x, sx, srcW);
    for (int y = 0; y < p.resizedH; ++y) out.yTaps[y] = pixel::yTap(y, sy, srcH);
  }
  return out;
}

void preprocessOnHost(const PreprocessPlan& plan, const std::uint8_t* bgr, std::size_t step, float* out) {
  const pixel::Plan& p = plan.pixels;
  for (int y = 0; y < p.netH; ++y)
    for (int x = 0; x < p.netW; ++x) pixel::writePixel(p, plan.xTaps.data(), plan.yTaps.data(), bgr, step, x, y, out);
}

}  // namespace facefleet
