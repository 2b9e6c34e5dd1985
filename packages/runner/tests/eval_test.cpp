// Average precision (TAO's SAMPLE/11-point and INTEGRATE modes) with hand-computed answers.
#include <gtest/gtest.h>

#include <stdexcept>

#include "facefleet/eval.hpp"

using namespace facefleet;

namespace {
GroundTruth face(float x, float y) { return GroundTruth{Box{x, y, x + 20, y + 20, 1}, false}; }
Box det(float x, float y, float conf) { return Box{x, y, x + 20, y + 20, conf}; }
}  // namespace

TEST(Eval, PerfectDetectionsScoreOne) {
  std::vector<ImageEval> imgs{{{det(0, 0, 0.9f), det(50, 50, 0.8f)}, {face(0, 0), face(50, 50)}},
                              {{det(10, 10, 0.7f)}, {face(10, 10)}}};
  const EvalResult r = evaluate(imgs, 0.5, 0.5);
  EXPECT_DOUBLE_EQ(r.apSampled, 1.0);
  EXPECT_DOUBLE_EQ(r.apIntegrated, 1.0);
  EXPECT_DOUBLE_EQ(r.precision, 1.0);
  EXPECT_DOUBLE_EQ(r.recall, 1.0);
  EXPECT_EQ(r.groundTruths, 3);
}

TEST(Eval, NoDetectionsOrAllWrongScoreZero) {
  std::vector<ImageEval> none{{{}, {face(0, 0)}}};
  EvalResult r = evaluate(none, 0.5, 0.5);
  EXPECT_DOUBLE_EQ(r.apSampled, 0.0);
  EXPECT_DOUBLE_EQ(r.apIntegrated, 0.0);
  EXPECT_DOUBLE_EQ(r.recall, 0.0);
  std::vector<ImageEval> wrong{{{det(100, 100, 0.9f)}, {face(0, 0)}}};
  r = evaluate(wrong, 0.5, 0.5);
  EXPECT_DOUBLE_EQ(r.apSampled, 0.0);
  EXPECT_DOUBLE_EQ(r.apIntegrated, 0.0);
  EXPECT_EQ(r.falsePositives, 1);
}

TEST(Eval, HalfRecall) {
  std::vector<ImageEval> imgs{{{det(0, 0, 0.9f)}, {face(0, 0), face(50, 50)}}};
  const EvalResult r = evaluate(imgs, 0.5, 0.5);
  EXPECT_NEAR(r.apSampled, 6.0 / 11.0, 1e-12);  // precision 1 at recall levels 0..0.5
  EXPECT_NEAR(r.apIntegrated, 0.5, 1e-12);
  EXPECT_DOUBLE_EQ(r.recall, 0.5);
  EXPECT_DOUBLE_EQ(r.precision, 1.0);
}

TEST(Eval, DuplicatesAreFalsePositives) {
  // Two faces; detections: on face 1 (.9), again on face 1 (.8), on face 2 (.7).
  // precision 1, .5, .667 at recall .5, .5, 1.
  std::vector<ImageEval> imgs{{{det(0, 0, 0.9f), det(1, 0, 0.8f), det(50, 50, 0.7f)}, {face(0, 0), face(50, 50)}}};
  const EvalResult r = evaluate(imgs, 0.5, 0.0);
  EXPECT_NEAR(r.apSampled, (6.0 + 5.0 * (2.0 / 3.0)) / 11.0, 1e-9);
  EXPECT_NEAR(r.apIntegrated, 0.5 + 0.5 * (2.0 / 3.0), 1e-9);
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
  EXPECT_DOUBLE_EQ(r.apIntegrated, 1.0);
  EXPECT_DOUBLE_EQ(r.apSampled, 1.0);
  imgs[0].truths.pop_back();  // without the DontCare region the same detection is a false positive
  r = evaluate(imgs, 0.5, 0.5);
  EXPECT_EQ(r.falsePositives, 1);
  EXPECT_LT(r.apIntegrated, 1.0);
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
