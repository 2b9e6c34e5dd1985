#include "facefleet/synthetic.hpp"

#include <algorithm>
#include <cmath>
#include <random>

namespace facefleet {

SyntheticGrid makeSyntheticGrid(std::uint32_t seed) {
  SyntheticGrid g;
  std::mt19937 rng(seed);
  auto uni = [&](float a, float b) { return std::uniform_real_distribution<float>(a, b)(rng); };
  const int plane = g.gridW * g.gridH;
  const float stride = 16.0f, scale = 35.0f, offset = 0.5f;
  g.bbox.assign(4 * plane, 0.0f);
  g.cov.assign(plane, 0.0f);
  for (float& c : g.cov) c = uni(0.0f, 0.1f);  // background below the 0.2 threshold
  std::normal_distribution<float> jitter(0.0f, 0.04f);
  auto setCell = [&](int k, float cov, const Box& b, float cx, float cy) {
    g.cov[k] = cov;
    g.bbox[k] = (cx - b.x1) / scale + jitter(rng);
    g.bbox[plane + k] = (cy - b.y1) / scale + jitter(rng);
    g.bbox[2 * plane + k] = (b.x2 - cx) / scale + jitter(rng);
    g.bbox[3 * plane + k] = (b.y2 - cy) / scale + jitter(rng);
  };
  const int faces = std::uniform_int_distribution<int>(2, 6)(rng);
  for (int f = 0; f < faces; ++f) {
    const float h = uni(40.0f, 110.0f), w = h * 0.8f;
    const float fx = uni(w / 2, g.netW - w / 2), fy = uni(h / 2, g.netH - h / 2);
    const Box face{fx - w / 2, fy - h / 2, fx + w / 2, fy + h / 2, 1.0f};
    g.faces.push_back(face);
    // A blob of radius 22-40 px lights about 6-20 cells (π r² / 16²).
    const float r = uni(22.0f, 40.0f);
    for (int j = 0; j < g.gridH; ++j)
      for (int i = 0; i < g.gridW; ++i) {
        const float cx = stride * i + offset, cy = stride * j + offset;
        const float d = std::hypot(cx - fx, cy - fy);
        if (d > r) continue;
        const float cov = std::clamp(0.25f + 0.7f * (1.0f - d / r) + uni(-0.05f, 0.05f), 0.2f, 0.99f);
        setCell(j * g.gridW + i, std::max(cov, g.cov[j * g.gridW + i]), face, cx, cy);
      }
  }
  // A few isolated false-positive cells with small boxes.
  const int noise = std::uniform_int_distribution<int>(2, 5)(rng);
  for (int n = 0; n < noise; ++n) {
    const int i = std::uniform_int_distribution<int>(0, g.gridW - 1)(rng);
    const int j = std::uniform_int_distribution<int>(0, g.gridH - 1)(rng);
    const float cx = stride * i + offset, cy = stride * j + offset, s = uni(10.0f, 30.0f);
    const int k = j * g.gridW + i;
    if (g.cov[k] >= 0.2f) continue;
    setCell(k, uni(0.2f, 0.35f), Box{cx - s / 2, cy - s / 2, cx + s / 2, cy + s / 2, 1.0f}, cx, cy);
  }
  g.litCells = static_cast<int>(std::count_if(g.cov.begin(), g.cov.end(), [](float c) { return c >= 0.2f; }));
  return g;
}

}  // namespace facefleet
