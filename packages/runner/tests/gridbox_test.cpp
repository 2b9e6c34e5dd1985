// GridBox decode (detectnet_v2), BlazeFace decode and the source mapping, on hand-built tensors.
#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>
#include <vector>

#include "facefleet/decode.hpp"
#include "facefleet/geometry.hpp"
#include "facefleet/gridbox.hpp"

using namespace facefleet;

namespace {

// Planar tensors for a gridW×gridH grid, everything zero.
struct Grid {
  int w, h;
  std::vector<float> bbox, cov;
  Grid(int w_, int h_) : w(w_), h(h_), bbox(4 * w_ * h_, 0.0f), cov(w_ * h_, 0.0f) {}
  void set(int i, int j, float c, float o0, float o1, float o2, float o3) {
    const int k = j * w + i, p = w * h;
    cov[k] = c;
    bbox[k] = o0;
    bbox[p + k] = o1;
    bbox[2 * p + k] = o2;
    bbox[3 * p + k] = o3;
  }
  Boxes decode(int netW, int netH, float threshold = 0.2f) const {
    GridBoxParams p;
    p.threshold = threshold;
    Boxes out;
    decodeGridBox(bbox.data(), cov.data(), w, h, netW, netH, p, out);
    return out;
  }
};

}  // namespace

TEST(GridBox, EveryFormulaTerm) {
  Grid g(4, 3);
  // Column i=2, row j=1, distinct o0..o3 so a swapped or missing term changes the answer.
  g.set(2, 1, 0.9f, 0.1f, 0.2f, 0.3f, 0.4f);
  const Boxes out = g.decode(64, 48);  // stride 16 both ways
  ASSERT_EQ(out.size(), 1u);
  EXPECT_FLOAT_EQ(out[0].x1, 16 * 2 + 0.5f - 35 * 0.1f);  // 29
  EXPECT_FLOAT_EQ(out[0].y1, 16 * 1 + 0.5f - 35 * 0.2f);  // 9.5
  EXPECT_FLOAT_EQ(out[0].x2, 16 * 2 + 0.5f + 35 * 0.3f);  // 43
  EXPECT_FLOAT_EQ(out[0].y2, 16 * 1 + 0.5f + 35 * 0.4f);  // 30.5
  EXPECT_FLOAT_EQ(out[0].conf, 0.9f);
}

TEST(GridBox, StrideIsCeilPerAxis) {
  Grid g(4, 3);
  g.set(1, 2, 0.5f, 0, 0, 0, 0);
  // netW 70 / 4 = 17.5 -> 18; netH 40 / 3 = 13.3 -> 14.
  const Boxes out = g.decode(70, 40);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_FLOAT_EQ(out[0].x1, 18 * 1 + 0.5f);
  EXPECT_FLOAT_EQ(out[0].y1, 14 * 2 + 0.5f);
  EXPECT_FLOAT_EQ(out[0].x2, 18.5f);
  EXPECT_FLOAT_EQ(out[0].y2, 28.5f);
}

TEST(GridBox, FaceNetGeometry) {
  // FaceNet's own sizes: 46×26 grid on 736×416 -> stride 16; last cell centre 45*16+0.5.
  Grid g(46, 26);
  g.set(45, 25, 0.6f, 0.2f, 0.2f, 0.0f, 0.0f);
  const Boxes out = g.decode(736, 416);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_FLOAT_EQ(out[0].x1, 720.5f - 7.0f);
  EXPECT_FLOAT_EQ(out[0].y1, 400.5f - 7.0f);
  EXPECT_FLOAT_EQ(out[0].x2, 720.5f);
  EXPECT_FLOAT_EQ(out[0].y2, 400.5f);
}

TEST(GridBox, ClipsAtEachEdge) {
  Grid g(4, 3);
  g.set(0, 1, 0.9f, 1.0f, 0.0f, 0.1f, 0.1f);  // x1 = 0.5 - 35 -> 0
  g.set(3, 1, 0.9f, 0.1f, 0.0f, 1.0f, 0.1f);  // x2 = 48.5 + 35 -> 64
  g.set(1, 0, 0.9f, 0.1f, 1.0f, 0.1f, 0.1f);  // y1 = 0.5 - 35 -> 0
  g.set(1, 2, 0.9f, 0.1f, 0.1f, 0.1f, 1.0f);  // y2 = 32.5 + 35 -> 48
  const Boxes out = g.decode(64, 48);
  ASSERT_EQ(out.size(), 4u);
  // Row-major order: (1,0), (0,1), (3,1), (1,2).
  EXPECT_FLOAT_EQ(out[0].y1, 0.0f);
  EXPECT_FLOAT_EQ(out[0].x1, 16.5f - 3.5f);
  EXPECT_FLOAT_EQ(out[1].x1, 0.0f);
  EXPECT_FLOAT_EQ(out[1].x2, 0.5f + 3.5f);
  EXPECT_FLOAT_EQ(out[2].x2, 64.0f);
  EXPECT_FLOAT_EQ(out[2].x1, 48.5f - 3.5f);
  EXPECT_FLOAT_EQ(out[3].y2, 48.0f);
  EXPECT_FLOAT_EQ(out[3].y1, 32.5f - 3.5f);
}

TEST(GridBox, DropsInvertedBoxesKeepsDegenerate) {
  Grid g(4, 3);
  g.set(1, 1, 0.9f, -0.2f, 0.0f, -0.2f, 0.0f);  // x1 = cx + 7, x2 = cx - 7: inverted in x
  g.set(2, 1, 0.9f, 0.0f, -0.2f, 0.0f, -0.2f);  // inverted in y
  g.set(3, 2, 0.9f, 0.0f, 0.0f, 0.0f, 0.0f);    // zero size: x2 == x1, kept
  const Boxes out = g.decode(64, 48);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_FLOAT_EQ(out[0].x1, 48.5f);
  EXPECT_FLOAT_EQ(out[0].x2, 48.5f);
}

TEST(GridBox, DropsNaNOutputs) {
  Grid g(2, 2);
  g.set(0, 0, 0.9f, NAN, 0, 0, 0);
  g.set(1, 1, NAN, 0, 0, 0, 0);
  EXPECT_TRUE(g.decode(32, 32).empty());
}

TEST(GridBox, ThresholdIsInclusive) {
  Grid g(3, 1);
  g.set(0, 0, 0.2f, 0, 0, 0, 0);
  g.set(1, 0, std::nextafter(0.2f, 0.0f), 0, 0, 0, 0);
  g.set(2, 0, 0.21f, 0, 0, 0, 0);
  const Boxes out = g.decode(48, 16, 0.2f);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_FLOAT_EQ(out[0].conf, 0.2f);
  EXPECT_FLOAT_EQ(out[1].conf, 0.21f);
}

TEST(Geometry, ResizeScalesEachAxisBackToSource) {
  // Source 1000×500 resized to 736×416: x by 1000/736, y by 500/416.
  const FrameTransform t = resizeTransform(1000, 500, 736, 416);
  const Box s = toSource(Box{73.6f, 41.6f, 368.0f, 208.0f, 0.7f}, t);
  EXPECT_NEAR(s.x1, 100.0f, 1e-3);
  EXPECT_NEAR(s.y1, 50.0f, 1e-3);
  EXPECT_NEAR(s.x2, 500.0f, 1e-3);
  EXPECT_NEAR(s.y2, 250.0f, 1e-3);
  EXPECT_FLOAT_EQ(s.conf, 0.7f);
}

TEST(Geometry, LetterboxUndoesPaddingAndScale) {
  // 200×100 into 256×256: scale 1.28, content 256×128, 64 px bars top and bottom.
  const FrameTransform t = letterboxTransform(200, 100, 256, 256);
  EXPECT_FLOAT_EQ(t.scaleX, 1.28f);
  EXPECT_FLOAT_EQ(t.padX, 0.0f);
  EXPECT_FLOAT_EQ(t.padY, 64.0f);
  const Box s = toSource(Box{12.8f, 76.8f, 128.0f, 128.0f, 1}, t);
  EXPECT_NEAR(s.x1, 10.0f, 1e-4);
  EXPECT_NEAR(s.y1, 10.0f, 1e-4);
  EXPECT_NEAR(s.x2, 100.0f, 1e-4);
  EXPECT_NEAR(s.y2, 50.0f, 1e-4);
  // Inside the bar -> clipped to the frame.
  const Box c = toSource(Box{0, 0, 300, 300, 1}, t);
  EXPECT_FLOAT_EQ(c.y1, 0.0f);
  EXPECT_FLOAT_EQ(c.y2, 100.0f);
  EXPECT_FLOAT_EQ(c.x2, 200.0f);
}

TEST(DetectNetV2Decoder, MatchesExactNamesAndSubstrings) {
  Grid g(4, 3);
  g.set(2, 1, 0.9f, 0.1f, 0.2f, 0.3f, 0.4f);
  const NetworkInfo net{64, 48};
  DecodeOptions opt;
  for (const auto& names : {std::pair<std::string, std::string>{"output_bbox/BiasAdd", "output_cov/Sigmoid"},
                            {"my_bbox_head", "the_cov_head"}}) {
    // Order of outputs must not matter.
    std::vector<TensorView> outs{{names.second, {1, 1, 3, 4}, g.cov.data()},
                                 {names.first, {1, 4, 3, 4}, g.bbox.data()}};
    Boxes b;
    decodeDetectNetV2(outs, net, opt, b);
    ASSERT_EQ(b.size(), 1u) << names.first;
    EXPECT_FLOAT_EQ(b[0].x1, 29.0f);
    EXPECT_FLOAT_EQ(b[0].y2, 30.5f);
  }
}

TEST(DetectNetV2Decoder, RejectsMissingOrMisshapenOutputs) {
  Grid g(4, 3);
  const NetworkInfo net{64, 48};
  Boxes b;
  std::vector<TensorView> onlyCov{{"output_cov/Sigmoid", {1, 1, 3, 4}, g.cov.data()}};
  EXPECT_THROW(decodeDetectNetV2(onlyCov, net, {}, b), std::runtime_error);
  std::vector<TensorView> twoClasses{{"output_cov/Sigmoid", {1, 2, 3, 4}, g.bbox.data()},
                                     {"output_bbox/BiasAdd", {1, 4, 3, 4}, g.bbox.data()}};
  EXPECT_THROW(decodeDetectNetV2(twoClasses, net, {}, b), std::runtime_error);
}

TEST(BlazeFaceDecoder, AnchorCentreOffsetsAndSigmoid) {
  std::vector<float> s16(512, -10.0f), b16(512 * 16, 0.0f), s8(384, -10.0f), b8(384 * 16, 0.0f);
  // 16×16 head: cell x=3, y=5, anchor 1 -> row (5*16+3)*2+1.
  const int r = (5 * 16 + 3) * 2 + 1;
  s16[r] = 2.0f;
  b16[r * 16 + 0] = 4.0f;   // dx
  b16[r * 16 + 1] = -2.0f;  // dy
  b16[r * 16 + 2] = 20.0f;  // w
  b16[r * 16 + 3] = 30.0f;  // h
  // 8×8 head: cell x=7, y=0, anchor 5 -> row (0*8+7)*6+5; score just below threshold: dropped.
  const int q = 7 * 6 + 5;
  s8[q] = -0.01f;
  b8[q * 16 + 2] = 10.0f;
  b8[q * 16 + 3] = 10.0f;
  std::vector<TensorView> outs{{"Identity:0", {1, 512, 1}, s16.data()},
                               {"Identity_1:0", {1, 384, 1}, s8.data()},
                               {"Identity_2:0", {1, 512, 16}, b16.data()},
                               {"Identity_3:0", {1, 384, 16}, b8.data()}};
  DecodeOptions opt;
  opt.threshold = 0.5f;
  Boxes b;
  decodeBlazeFace(outs, NetworkInfo{256, 256}, opt, b);
  ASSERT_EQ(b.size(), 1u);
  // cx = 3.5/16*256 + 4 = 60, cy = 5.5/16*256 - 2 = 86.
  EXPECT_FLOAT_EQ(b[0].x1, 50.0f);
  EXPECT_FLOAT_EQ(b[0].x2, 70.0f);
  EXPECT_FLOAT_EQ(b[0].y1, 71.0f);
  EXPECT_FLOAT_EQ(b[0].y2, 101.0f);
  EXPECT_NEAR(b[0].conf, 1.0 / (1.0 + std::exp(-2.0)), 1e-6);
  // Lower the threshold: the 8×8 anchor (centre 7.5/8*256 = 240, 0.5/8*256 = 16) appears.
  opt.threshold = 0.49f;
  b.clear();
  decodeBlazeFace(outs, NetworkInfo{256, 256}, opt, b);
  ASSERT_EQ(b.size(), 2u);
  EXPECT_FLOAT_EQ(b[1].x1, 235.0f);
  EXPECT_FLOAT_EQ(b[1].y1, 11.0f);
}

TEST(Decoders, CreateByName) {
  EXPECT_EQ(Decoder::create("detectnet_v2").defaultInput.width, 736);
  EXPECT_EQ(Decoder::create("blazeface").defaultInput.layout, Layout::NHWC);
  EXPECT_THROW(Decoder::create("yolo"), std::invalid_argument);
}

// A batched backend output [2,4,H,W] / [2,1,H,W]: frame b's slice has shape [1,...] and starts b
// frames in, so the decoder sees exactly what a single-frame run would have given it.
TEST(BatchSlice, EachFrameDecodesAsIfItRanAlone) {
  Grid a(4, 3), b(4, 3);
  a.set(1, 1, 0.9f, 0.5f, 0.5f, 0.5f, 0.5f);
  b.set(2, 0, 0.8f, 0.2f, 0.1f, 0.3f, 0.4f);
  b.set(3, 2, 0.7f, 0.1f, 0.1f, 0.1f, 0.1f);
  std::vector<float> bbox = a.bbox, cov = a.cov;
  bbox.insert(bbox.end(), b.bbox.begin(), b.bbox.end());
  cov.insert(cov.end(), b.cov.begin(), b.cov.end());
  const std::vector<TensorView> outs = {{"output_bbox/BiasAdd", {2, 4, 3, 4}, bbox.data()},
                                        {"output_cov/Sigmoid", {2, 1, 3, 4}, cov.data()}};
  std::vector<TensorView> slices;
  frameSlices(outs, 1, slices);
  ASSERT_EQ(slices.size(), 2u);
  EXPECT_EQ(slices[0].shape, (std::vector<int>{1, 4, 3, 4}));
  EXPECT_EQ(slices[0].data, bbox.data() + 48);
  EXPECT_EQ(slices[1].data, cov.data() + 12);
  for (int f = 0; f < 2; ++f) {
    frameSlices(outs, f, slices);
    Boxes got;
    decodeDetectNetV2(slices, NetworkInfo{64, 48}, DecodeOptions{}, got);
    const Boxes want = (f == 0 ? a : b).decode(64, 48);
    ASSERT_EQ(got.size(), want.size()) << "frame " << f;
    for (std::size_t k = 0; k < got.size(); ++k) {
      EXPECT_EQ(got[k].x1, want[k].x1);
      EXPECT_EQ(got[k].conf, want[k].conf);
    }
  }
}

// DeepStream's DetectNet_v2 parser clamps corners to the last pixel (W − 1, H − 1); TAO clips to
// the image size. Same cells as ClipsAtEachEdge: only the right and bottom edges differ, by 1 px.
TEST(GridBox, DeepStreamClampsToTheLastPixel) {
  Grid g(4, 3);
  g.set(0, 1, 0.9f, 1.0f, 0.0f, 0.1f, 0.1f);  // x1 -> 0 (both)
  g.set(3, 1, 0.9f, 0.1f, 0.0f, 1.0f, 0.1f);  // x2 = 83.5 -> 63 (DeepStream) / 64 (TAO)
  g.set(1, 0, 0.9f, 0.1f, 1.0f, 0.1f, 0.1f);  // y1 -> 0 (both)
  g.set(1, 2, 0.9f, 0.1f, 0.1f, 0.1f, 1.0f);  // y2 = 67.5 -> 47 (DeepStream) / 48 (TAO)
  GridBoxParams p;
  p.clip = BoxClip::DeepStream;
  Boxes ds;
  decodeGridBox(g.bbox.data(), g.cov.data(), g.w, g.h, 64, 48, p, ds);
  const Boxes tao = g.decode(64, 48);
  ASSERT_EQ(ds.size(), 4u);
  ASSERT_EQ(tao.size(), 4u);
  EXPECT_FLOAT_EQ(ds[0].y1, 0.0f);
  EXPECT_FLOAT_EQ(ds[1].x1, 0.0f);
  EXPECT_FLOAT_EQ(ds[2].x2, 63.0f);
  EXPECT_FLOAT_EQ(tao[2].x2, 64.0f);
  EXPECT_FLOAT_EQ(ds[3].y2, 47.0f);
  EXPECT_FLOAT_EQ(tao[3].y2, 48.0f);
  // A corner inside the last pixel is clamped too: x2 = 48.5 + 35·0.43 = 63.55 -> 63.
  Grid in(4, 3);
  in.set(3, 1, 0.9f, 0.1f, 0.1f, 0.43f, 0.1f);
  Boxes one;
  decodeGridBox(in.bbox.data(), in.cov.data(), in.w, in.h, 64, 48, p, one);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_FLOAT_EQ(one[0].x2, 63.0f);
  EXPECT_NEAR(in.decode(64, 48)[0].x2, 63.55f, 1e-4);
  // Through the decoder table the clip travels in DecodeOptions.
  const std::vector<TensorView> outs = {{"output_bbox/BiasAdd", {1, 4, 3, 4}, g.bbox.data()},
                                        {"output_cov/Sigmoid", {1, 1, 3, 4}, g.cov.data()}};
  DecodeOptions o;
  o.clip = BoxClip::DeepStream;
  Boxes viaTable;
  decodeDetectNetV2(outs, NetworkInfo{64, 48}, o, viaTable);
  ASSERT_EQ(viaTable.size(), 4u);
  EXPECT_FLOAT_EQ(viaTable[2].x2, 63.0f);
}
