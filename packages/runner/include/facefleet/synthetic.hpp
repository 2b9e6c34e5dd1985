// Synthetic DetectNet_v2 output grids at realistic coverage, for the post-processing benchmark:
// 2-6 faces per frame, each lighting a blob of cells above the threshold whose bbox channels point at
// the face (with jitter), plus low background coverage and a few isolated noise cells. Pure code.
#pragma once

#include <cstdint>
#include <vector>

#include "facefleet/box.hpp"

namespace facefleet {

struct SyntheticGrid {
  int gridW = 46, gridH = 26, netW = 736, netH = 416;
  std::vector<float> bbox, cov;  // planar 4×H×W and 1×H×W
  Boxes faces;                   // ground truth, network pixels
  int litCells = 0;              // cells with coverage >= 0.2
};

SyntheticGrid makeSyntheticGrid(std::uint32_t seed);

}  // namespace facefleet
