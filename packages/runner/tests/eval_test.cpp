// Average precision (VOC2007 11-point, VOC2010 all-points, TAO INTEGRATE and SAMPLE) with
// hand-computed answers.
#include <gtest/gtest.h>

#include <stdexcept>

#include "facefleet/eval.hpp"

using namespace facefleet;

namespace {
GroundTruth face(float x, float y) { return GroundTruth{Box{x, y, x + 20, y + 20, 1}, false}; }
Box det(float x, float y, float conf) { return Box{x, y, x + 20, y + 20, conf}; }
double ap(const std::vector<ImageEval>& imgs, ApMode mode, double iouThreshold = 0.5) {
  return evaluate(imgs, iouThreshold, 0.5, mode).ap;
}
}  // namespace

TEST(Eval, PerfectDetectionsScoreOne) {
  std::vector<ImageEval> imgs{{{det(0, 0, 0.9f), det(50, 50, 0.8f)}, {face(0, 0), face(50, 50)}},
                              {{det(10, 10, 0.7f)}, {face(10, 10)}}};
  const EvalResult r = evaluate(imgs, 0.5, 0.5);
  for (ApMode m : {ApMode::Voc2007, ApMode::Voc2010, ApMode::TaoSample}) EXPECT_DOUBLE_EQ(ap(imgs, m), 1.0) << apModeName(m);
  // TAO INTEGRATE counts nothing below the first recall reached (1/3) and leaves out the precision
  // at the last one: two steps of 1/3 at precision 1.
  EXPECT_NEAR(ap(imgs, ApMode::Tao), 2.0 / 3.0, 1e-12);
  EXPECT_DOUBLE_EQ(r.precision, 1.0);
  EXPECT_DOUBLE_EQ(r.recall, 1.0);
  EXPECT_EQ(r.groundTruths, 3);
}

TEST(Eval, NoDetectionsOrAllWrongScoreZero) {
  std::vector<ImageEval> none{{{}, {face(0, 0)}}};
  EvalResult r = evaluate(none, 0.5, 0.5);
  EXPECT_DOUBLE_EQ(ap(none, ApMode::Voc2007), 0.0);
  EXPECT_DOUBLE_EQ(ap(none, ApMode::Voc2010), 0.0);
  EXPECT_DOUBLE_EQ(ap(none, ApMode::Tao), 0.0);
  EXPECT_DOUBLE_EQ(r.recall, 0.0);
  std::vector<ImageEval> wrong{{{det(100, 100, 0.9f)}, {face(0, 0)}}};
  r = evaluate(wrong, 0.5, 0.5);
  EXPECT_DOUBLE_EQ(ap(wrong, ApMode::Voc2007), 0.0);
  EXPECT_DOUBLE_EQ(ap(wrong, ApMode::Voc2010), 0.0);
  EXPECT_DOUBLE_EQ(ap(wrong, ApMode::TaoSample), 0.0);
  EXPECT_EQ(r.falsePositives, 1);
}

TEST(Eval, HalfRecall) {
  std::vector<ImageEval> imgs{{{det(0, 0, 0.9f)}, {face(0, 0), face(50, 50)}}};
  const EvalResult r = evaluate(imgs, 0.5, 0.5);
  EXPECT_NEAR(ap(imgs, ApMode::Voc2007), 6.0 / 11.0, 1e-12);  // precision 1 at recall levels 0..0.5
  EXPECT_NEAR(ap(imgs, ApMode::Voc2010), 0.5, 1e-12);
  // TAO INTEGRATE starts at the first recall reached (0.5) and leaves out its precision: 0.
  EXPECT_EQ(ap(imgs, ApMode::Tao), 0.0);
  EXPECT_DOUBLE_EQ(r.recall, 0.5);
  EXPECT_DOUBLE_EQ(r.precision, 1.0);
}

TEST(Eval, DuplicatesAreFalsePositives) {
  // Two faces; detections: on face 1 (.9), again on face 1 (.8), on face 2 (.7).
  // precision 1, .5, .667 at recall .5, .5, 1.
  std::vector<ImageEval> imgs{{{det(0, 0, 0.9f), det(1, 0, 0.8f), det(50, 50, 0.7f)}, {face(0, 0), face(50, 50)}}};
  const EvalResult r = evaluate(imgs, 0.5, 0.0);
  EXPECT_NEAR(ap(imgs, ApMode::Voc2007, 0.5), (6.0 + 5.0 * (2.0 / 3.0)) / 11.0, 1e-9);
  EXPECT_NEAR(ap(imgs, ApMode::Voc2010, 0.5), 0.5 + 0.5 * (2.0 / 3.0), 1e-9);
  EXPECT_EQ(r.truePositives, 2);
  EXPECT_EQ(r.falsePositives, 1);
  EXPECT_NEAR(r.precision, 2.0 / 3.0, 1e-12);
  // At a threshold above the duplicate only the first detection counts.
  const EvalResult hi = evaluate(imgs, 0.5, 0.85);
  EXPECT_EQ(hi.truePositives, 1);
  EXPECT_EQ(hi.falsePositives, 0);
  EXPECT_DOUBLE_EQ(hi.recall, 0.5);
}

TEST(Eval, IouMustExceedThreshold) {
  // Detection shifted by 20/3 px: IoU = (13.33*20)/(2*400 - 266.67) = 0.5 exactly -> not a match.
  std::vector<ImageEval> imgs{{{Box{20.0f / 3.0f, 0, 20.0f / 3.0f + 20, 20, 0.9f}}, {face(0, 0)}}};
  const float o = iou(imgs[0].detections[0], imgs[0].truths[0].box);
  ASSERT_NEAR(o, 0.5f, 1e-5);
  EXPECT_EQ(evaluate(imgs, o, 0).truePositives, 0);
  EXPECT_EQ(evaluate(imgs, o - 1e-4, 0).truePositives, 1);
}

TEST(Eval, DontCareDetectionsAreIgnored) {
  GroundTruth dc{Box{100, 100, 200, 200, 1}, true};
  // One face found, one detection inside a DontCare region, one real false positive.
  std::vector<ImageEval> imgs{{{det(0, 0, 0.9f), det(120, 120, 0.95f)}, {face(0, 0), dc}}};
  EvalResult r = evaluate(imgs, 0.5, 0.5);
  EXPECT_EQ(r.groundTruths, 1);  // DontCare is not a face to find
  EXPECT_EQ(r.falsePositives, 0);
  EXPECT_DOUBLE_EQ(r.ap, 1.0);
  EXPECT_DOUBLE_EQ(ap(imgs, ApMode::Voc2007), 1.0);
  // TAO has no DontCare: the same detection is a false positive, ranked first (0.95).
  const EvalResult t = evaluate(imgs, 0.5, 0.5, ApMode::TaoSample);
  EXPECT_EQ(t.falsePositives, 1);
  EXPECT_NEAR(t.ap, 0.5, 1e-12);  // precision 0.5 (at recall 1) for every level
  imgs[0].truths.pop_back();  // without the DontCare region the same detection is a false positive
  r = evaluate(imgs, 0.5, 0.5);
  EXPECT_EQ(r.falsePositives, 1);
  EXPECT_LT(r.ap, 1.0);
}

TEST(Eval, ParsesKittiLabels) {
  const auto g = parseKittiLabels(
      "face 0.00 0 0.0 10 20 30 40 0 0 0 0 0 0 0\n"
      "DontCare -1 -1 -10 100 110 150 170 -1 -1 -1 -1000 -1000 -1000 -10\n"
      "Car 0 0 0 1 1 2 2 0 0 0 0 0 0 0\n\n"
      "Face 0 0 0 1.5 2.5 3.5 4.5\n",
      "face", "a.txt");
  ASSERT_EQ(g.size(), 3u);
  EXPECT_FLOAT_EQ(g[0].box.x1, 10);
  EXPECT_FLOAT_EQ(g[0].box.y2, 40);
  EXPECT_TRUE(g[1].dontCare);
  EXPECT_FLOAT_EQ(g[1].box.x2, 150);
  EXPECT_FALSE(g[2].dontCare);
  EXPECT_FLOAT_EQ(g[2].box.x1, 1.5f);
  try {
    parseKittiLabels("face 0 0 0 1 2 x 4\n", "face", "b.txt");
    FAIL() << "expected a parse error";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "b.txt:1: field 7 'x' is not a number");
  }
  EXPECT_THROW(parseKittiLabels("face 0 0 0 1 2\n", "face", "c.txt"), std::runtime_error);
}

// The four modes on one curve where they all differ. Ten faces; detections in score order:
// TP, TP, FP, TP, then nothing: precision 1, 1, 2/3, 3/4 at recall .1, .2, .2, .3.
TEST(Eval, TaoModesDifferFromVocOnTheSameCurve) {
  const std::vector<double> p{1.0, 1.0, 2.0 / 3.0, 0.75};
  const std::vector<double> r{1.0 / 10, 2.0 / 10, 2.0 / 10, 3.0 / 10};
  // VOC2007: the best precision at recall >= t is 1 for t = 0, .1, .2 and .75 for t = .3.
  EXPECT_NEAR(apVoc2007(p, r), (3 * 1.0 + 0.75) / 11.0, 1e-12);
  // TAO SAMPLE: numpy's linspace gives 3 · 0.1 = 0.30000000000000004 > 3/10, so recall .3 misses
  // that level and the sum has one term fewer.
  EXPECT_NEAR(apTaoSample(p, r), 3 * 1.0 / 11.0, 1e-12);
  EXPECT_GT(3 * 0.1, 3.0 / 10);  // the floating-point fact the difference rests on
  // VOC2010: .1·1 + .1·1 + .1·.75 (from 0, envelope to the right).
  EXPECT_NEAR(apVoc2010(p, r), 0.1 + 0.1 + 0.1 * 0.75, 1e-12);
  // TAO INTEGRATE: distinct recalls .1, .2, .3; heights max(p of groups i..1) = 1, 1; widths .1, .1;
  // the last group's .75 is left out, and nothing is counted from 0 to .1.
  EXPECT_NEAR(apTaoIntegrate(p, r), 0.1 * 1 + 0.1 * 1, 1e-12);
}

// TAO matches on integer-rounded corners with inclusive pixels (+1 per side) at IoU >= threshold;
// the VOC modes use the continuous boxes and need IoU > threshold.
TEST(Eval, TaoMatchesOnRoundedInclusivePixels) {
  // Face 0..9 (10×10 inclusive pixels); detection 0..9 × 0..4.4 -> rounded 0..4: 10×5 pixels,
  // IoU exactly 50/100 = 0.5 for TAO; continuous IoU 9·4.4 / 81 = 0.489 for VOC.
  std::vector<ImageEval> imgs{{{Box{0, 0, 9, 4.4f, 0.9f}}, {GroundTruth{Box{0, 0, 9, 9, 1}, false}}}};
  EXPECT_EQ(evaluate(imgs, 0.5, 0, ApMode::Tao).truePositives, 1);
  EXPECT_EQ(evaluate(imgs, 0.5, 0, ApMode::Voc2010).truePositives, 0);
  // Half to even, as Python's round(): 4.5 -> 4 (IoU .5, a match), 5.5 -> 6 (7 rows: .7).
  imgs[0].detections[0].y2 = 4.5f;
  EXPECT_EQ(evaluate(imgs, 0.5, 0, ApMode::Tao).truePositives, 1);
  EXPECT_EQ(evaluate(imgs, 0.55, 0, ApMode::Tao).truePositives, 0);
  imgs[0].detections[0].y2 = 5.5f;
  EXPECT_EQ(evaluate(imgs, 0.7, 0, ApMode::Tao).truePositives, 1);
  EXPECT_EQ(evaluate(imgs, 0.71, 0, ApMode::Tao).truePositives, 0);
}

TEST(Eval, ApModeNames) {
  ApMode m;
  for (const char* name : {"voc2007", "voc2010", "tao", "tao-sample"}) {
    ASSERT_TRUE(parseApMode(name, m)) << name;
    EXPECT_STREQ(apModeName(m), name);
  }
  EXPECT_FALSE(parseApMode("integrate", m));
}
