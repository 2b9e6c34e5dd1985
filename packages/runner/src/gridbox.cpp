#include "facefleet/gridbox.hpp"

#include <algorithm>

namespace facefleet {

const char* boxClipName(BoxClip clip) { return clip == BoxClip::DeepStream ? "deepstream" : "tao"; }

bool parseBoxClip(const std::string& name, BoxClip& out) {
  if (name == "tao") out = BoxClip::Tao;
  else if (name == "deepstream") out = BoxClip::DeepStream;
  else return false;
  return true;
}

void decodeGridBox(const float* bbox, const float* cov, int gridW, int gridH, int netW, int netH,
                   const GridBoxParams& p, Boxes& out) {
  if (gridW <= 0 || gridH <= 0) return;
  const int strideX = (netW + gridW - 1) / gridW;  // ceil, as DeepStream's parser computes it
  const int strideY = (netH + gridH - 1) / gridH;
  const int plane = gridW * gridH;
  const float* o0 = bbox;
  const float* o1 = bbox + plane;
  const float* o2 = bbox + 2 * plane;
  const float* o3 = bbox + 3 * plane;
  const float last = p.clip == BoxClip::DeepStream ? 1.0f : 0.0f;
  const float w = static_cast<float>(netW) - last, h = static_cast<float>(netH) - last;
  for (int j = 0; j < gridH; ++j) {
    const float cy = static_cast<float>(strideY * j) + p.offset;
    const int row = j * gridW;
    for (int i = 0; i < gridW; ++i) {
      const int k = row + i;
      const float c = cov[k];
      if (!(c >= p.threshold)) continue;  // also rejects NaN
      const float cx = static_cast<float>(strideX * i) + p.offset;
      Box b;
      b.x1 = std::clamp(cx - p.bboxScale * o0[k], 0.0f, w);
      b.y1 = std::clamp(cy - p.bboxScale * o1[k], 0.0f, h);
      b.x2 = std::clamp(cx + p.bboxScale * o2[k], 0.0f, w);
      b.y2 = std::clamp(cy + p.bboxScale * o3[k], 0.0f, h);
      // Drop inverted boxes (x2 < x1 or y2 < y1); written as !(>=) so NaN outputs drop too.
      if (!(b.x2 >= b.x1 && b.y2 >= b.y1)) continue;
      b.conf = c;
      out.push_back(b);
    }
  }
}

}  // namespace facefleet
