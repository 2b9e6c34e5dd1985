// The per-pixel maths of preprocessing, in one header compiled both as host code (the CPU
// reference, its tests, the bench) and as CUDA device code (src/cuda/gpu_preprocess.cu): where a
// network-input pixel comes from in the frame (plain resize or letterbox), its value resized the way
// OpenCV's cv::resize(INTER_LINEAR) computes it on 8-bit BGR frames, colour order, DeepStream's
// y = net-scale-factor · (x − offset[c]), and its place in an NCHW or NHWC blob.
//
// cv::resize INTER_LINEAR on CV_8U (OpenCV 4.x, modules/imgproc/src/resize.cpp, no IPP, no custom
// HAL, 128-bit baseline SIMD as Debian's x86-64 and aarch64 builds have), reproduced exactly:
//  - per destination column dx: fx = (float)((dx + 0.5)·scale − 0.5) with scale = 1/(dst/src) in
//    double, sx = floor(fx), fx −= sx; sx < 0 → sx = 0, fx = 0; sx ≥ src−1 → sx = src−1, fx = 0;
//    weights round((1−fx)·2048) and round(fx·2048) (round half to even, 11 fractional bits);
//  - rows the same, but neither row index nor fraction is clamped: the two source rows are clamped
//    when read (an upscaled top row blends row 0 with itself);
//  - horizontal pass: S = p[sx]·w0 + p[sx+1]·w1, exact in int32;
//  - vertical pass: ((((S0>>4)·b0)>>16) + (((S1>>4)·b1)>>16) + 2) >> 2, the formula of OpenCV's
//    SIMD loop, which its uchar specialisation of VResizeLinear also uses for the elements after
//    the last full vector (the textbook (S0·b0 + S1·b1 + 2^21) >> 22 differs by one in some pixels:
//    the tests on real frames tell them apart);
//  - an exact 2× downscale is INTER_AREA's (a + b + c + d + 2) >> 2, as cv::resize switches to it;
//  - equal sizes are a copy.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#if defined(__CUDACC__)
#define FACEFLEET_HD __host__ __device__
#else
#define FACEFLEET_HD
#endif

namespace facefleet {
namespace pixel {

constexpr int kCoefScale = 2048;  // OpenCV's INTER_RESIZE_COEF_SCALE
constexpr int kChannels = 3;      // BGR frames, 3-channel networks

// A destination column: its left source column and the weights (×2048) of it and the next.
struct XTap {
  int src;
  short w0, w1;
};
// A destination row: its two source rows (clamped) and their weights (×2048).
struct YTap {
  int row0, row1;
  short w0, w1;
};

enum class Sampling : std::uint8_t { Copy, Linear, Area2x };

// Everything about one frame size → network input, computed once per frame size on the host
// (preprocess_plan.hpp); taps go with it (one XTap per resized column, one YTap per resized row).
struct Plan {
  int srcW = 0, srcH = 0;              // the BGR frame
  int netW = 0, netH = 0;              // the network input
  int resizedW = 0, resizedH = 0;      // the resized frame inside the input
  int padX = 0, padY = 0;              // its top-left corner (letterbox); 0 for a plain resize
  Sampling sampling = Sampling::Copy;
  bool rgb = true;                     // network channel 0 is red
  bool nchw = true;                    // planar; else interleaved (NHWC)
  float scale = 1.0f;                  // net-scale-factor
  float shift[kChannels] = {0, 0, 0};  // −(scale · offset) per network channel
};

FACEFLEET_HD inline int clampInt(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

// cvFloor for floats.
FACEFLEET_HD inline int floorToInt(float v) {
  const int i = static_cast<int>(v);
  return i - (static_cast<float>(i) > v ? 1 : 0);
}

// saturate_cast<short>(w · 2048): round half to even, as cvRound.
FACEFLEET_HD inline short weight(float w) {
  const float v = w * kCoefScale;
#if defined(__CUDA_ARCH__)
  const int r = __float2int_rn(v);
#else
  const int r = static_cast<int>(std::nearbyint(v));
#endif
  return static_cast<short>(clampInt(r, -32768, 32767));
}

// cv::resize's scale: the reciprocal of its inverse scale dst/src, in double.
FACEFLEET_HD inline double resizeScale(int srcSize, int dstSize) {
  return 1.0 / (static_cast<double>(dstSize) / srcSize);
}

FACEFLEET_HD inline XTap xTap(int dx, double scale, int srcW) {
  float fx = static_cast<float>((dx + 0.5) * scale - 0.5);
  int sx = floorToInt(fx);
  fx -= static_cast<float>(sx);
  if (sx < 0) fx = 0, sx = 0;
  if (sx >= srcW - 1) fx = 0, sx = srcW - 1;
  return XTap{sx, weight(1.0f - fx), weight(fx)};
}

FACEFLEET_HD inline YTap yTap(int dy, double scale, int srcH) {
  float fy = static_cast<float>((dy + 0.5) * scale - 0.5);
  const int sy = floorToInt(fy);
  fy -= static_cast<float>(sy);
  return YTap{clampInt(sy, 0, srcH - 1), clampInt(sy + 1, 0, srcH - 1), weight(1.0f - fy), weight(fy)};
}

// Horizontal pass of source row `row` for destination column tap `t`, BGR channel `c`.
FACEFLEET_HD inline int horizontal(const std::uint8_t* row, XTap t, int c) {
  int v = row[t.src * kChannels + c] * t.w0;
  if (t.w1 != 0) v += row[(t.src + 1) * kChannels + c] * t.w1;
  return v;
}

// Vertical pass of two horizontal results with row weights b0, b1.
FACEFLEET_HD inline std::uint8_t vertical(int s0, int s1, short b0, short b1) {
  const int v = ((((s0 >> 4) * b0) >> 16) + (((s1 >> 4) * b1) >> 16) + 2) >> 2;
  return static_cast<std::uint8_t>(clampInt(v, 0, 255));
}

// BGR channel `c` of resized pixel (rx, ry).
FACEFLEET_HD inline std::uint8_t resized(const Plan& p, const XTap* xt, const YTap* yt, const std::uint8_t* src,
                                         std::size_t step, int rx, int ry, int c) {
  if (p.sampling == Sampling::Copy) return src[ry * step + rx * kChannels + c];
  if (p.sampling == Sampling::Area2x) {
    const std::uint8_t* a = src + 2 * ry * step + 2 * rx * kChannels + c;
    const std::uint8_t* b = a + step;
    return static_cast<std::uint8_t>((a[0] + a[kChannels] + b[0] + b[kChannels] + 2) >> 2);
  }
  const XTap tx = xt[rx];
  const YTap ty = yt[ry];
  const int s0 = horizontal(src + ty.row0 * step, tx, c);
  const int s1 = horizontal(src + ty.row1 * step, tx, c);
  return vertical(s0, s1, ty.w0, ty.w1);
}

// Writes the three channels of network-input pixel (x, y) into `out` (netW·netH·3 floats).
FACEFLEET_HD inline void writePixel(const Plan& p, const XTap* xt, const YTap* yt, const std::uint8_t* src,
                                    std::size_t step, int x, int y, float* out) {
  const int rx = x - p.padX, ry = y - p.padY;
  const bool inside = rx >= 0 && ry >= 0 && rx < p.resizedW && ry < p.resizedH;
  const std::size_t plane = static_cast<std::size_t>(p.netW) * p.netH;
  const std::size_t at = static_cast<std::size_t>(y) * p.netW + x;
  for (int c = 0; c < kChannels; ++c) {
    const int bgr = p.rgb ? kChannels - 1 - c : c;
    const int v = inside ? resized(p, xt, yt, src, step, rx, ry, bgr) : 0;  // letterbox bars are black
    const float value = static_cast<float>(v) * p.scale + p.shift[c];
    if (p.nchw) out[c * plane + at] = value;
    else out[at * kChannels + c] = value;
  }
}

}  // namespace pixel
}  // namespace facefleet
