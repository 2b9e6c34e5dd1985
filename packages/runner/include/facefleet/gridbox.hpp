// DetectNet_v2 GridBox decode (FaceNet), as DeepStream's DetectNet_v2 parser and TAO's
// predictions_to_absolute describe it. Pure code on planar float arrays.
#pragma once

#include <string>

#include "facefleet/box.hpp"

namespace facefleet {

// Where decoded corners are clipped (x; y alike with H):
//   Tao:        [0, W]      TAO's predictions_to_absolute clips to the image size;
//   DeepStream: [0, W − 1]  DeepStream's DetectNet_v2 parser clamps to the last pixel.
// They differ by up to 1 network pixel at the right and bottom edges.
enum class BoxClip { Tao, DeepStream };
const char* boxClipName(BoxClip clip);
// Accepts tao|deepstream; returns false for anything else.
bool parseBoxClip(const std::string& name, BoxClip& out);

struct GridBoxParams {
  float threshold = 0.2f;   // pre-cluster threshold on coverage; a cell passes when cov >= threshold
  float bboxScale = 35.0f;  // DetectNet_v2 bbox normalisation (FaceNet model card / TAO)
  float offset = 0.5f;      // cell centre offset in pixels (TAO)
  BoxClip clip = BoxClip::Tao;
};

// bbox: 4 planes of gridH×gridW (o0..o3), cov: 1 plane of gridH×gridW.
// Appends candidate boxes in network-input pixels to `out` (conf = coverage).
//   stride_x = ceil(netW / gridW), stride_y = ceil(netH / gridH)
//   x1 = stride_x·i + offset − scale·o0   y1 = stride_y·j + offset − scale·o1
//   x2 = stride_x·i + offset + scale·o2   y2 = stride_y·j + offset + scale·o3
// clipped as params.clip says ([0,netW]×[0,netH], or [0,netW−1]×[0,netH−1] for DeepStream);
// boxes with x2 < x1 or y2 < y1 after clipping are dropped.
void decodeGridBox(const float* bbox, const float* cov, int gridW, int gridH, int netW, int netH,
                   const GridBoxParams& params, Boxes& out);

}  // namespace facefleet
