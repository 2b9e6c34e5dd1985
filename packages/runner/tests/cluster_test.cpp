// NMS and DBSCAN (TAO semantics) on constructed clusters with known answers.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "facefleet/cluster.hpp"

using namespace facefleet;

TEST(Iou, KnownValues) {
  EXPECT_FLOAT_EQ(iou(Box{0, 0, 10, 10}, Box{0, 0, 10, 5}), 0.5f);
  EXPECT_FLOAT_EQ(iou(Box{0, 0, 10, 10}, Box{10, 0, 20, 10}), 0.0f);  // touching
  EXPECT_FLOAT_EQ(iou(Box{0, 0, 10, 10}, Box{5, 0, 15, 10}), 50.0f / 150.0f);
}

TEST(Nms, SuppressesOverlapsKeepsDistinctInConfidenceOrder) {
  const Boxes in{{20, 20, 30, 30, 0.7f}, {1, 0, 11, 10, 0.8f}, {0, 0, 10, 10, 0.9f}};
  const Boxes out = nms(in, 0.5f, -1);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_FLOAT_EQ(out[0].conf, 0.9f);
  EXPECT_FLOAT_EQ(out[1].conf, 0.7f);
}

TEST(Nms, ThresholdIsStrictlyGreater) {
  const Boxes in{{0, 0, 10, 10, 0.9f}, {0, 0, 10, 5, 0.8f}};  // IoU exactly 0.5
  EXPECT_EQ(nms(in, 0.5f, -1).size(), 2u);
  EXPECT_EQ(nms(in, 0.49f, -1).size(), 1u);
}

TEST(Nms, TopKKeepsHighest) {
  Boxes in;
  for (int i = 0; i < 5; ++i) in.push_back(Box{20.0f * i, 0, 20.0f * i + 10, 10, 0.1f * (i + 1)});
  const Boxes out = nms(in, 0.5f, 3);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_FLOAT_EQ(out[0].conf, 0.5f);
  EXPECT_FLOAT_EQ(out[2].conf, 0.3f);
  EXPECT_EQ(nms(in, 0.5f, 0).size(), 5u);  // <= 0 keeps all
}

TEST(Dbscan, WeightedMeanBoxAndConfidenceSum) {
  const Boxes in{
      {0, 0, 10, 10, 0.5f}, {2, 0, 12, 10, 0.3f}, {0, 2, 10, 12, 0.2f},  // cluster A
      {100, 100, 120, 120, 0.4f}, {100, 100, 120, 122, 0.4f},           // cluster B
  };
  const Boxes out = dbscan(in, 0.5f, 0.1f, 0.0f, 0.0f);
  ASSERT_EQ(out.size(), 2u);
  // Sorted by confidence: A (1.0) then B (0.8).
  EXPECT_NEAR(out[0].conf, 1.0f, 1e-6);
  EXPECT_NEAR(out[0].x1, 0.6f, 1e-5);   // (.5*0 + .3*2 + .2*0) / 1.0
  EXPECT_NEAR(out[0].y1, 0.4f, 1e-5);   // (.2*2) / 1.0
  EXPECT_NEAR(out[0].x2, 10.6f, 1e-5);  // (.5*10 + .3*12 + .2*10)
  EXPECT_NEAR(out[0].y2, 10.4f, 1e-5);
  EXPECT_NEAR(out[1].conf, 0.8f, 1e-6);
  EXPECT_NEAR(out[1].y2, 121.0f, 1e-5);
}

TEST(Dbscan, MinSamplesCountsTheNeighbourhoodWeightIncludingItself) {
  const Boxes pair{{0, 0, 10, 10, 0.25f}, {0, 0, 10, 10, 0.25f}};
  EXPECT_EQ(dbscan(pair, 0.5f, 0.5f, 0, 0).size(), 1u);      // .25 + .25 >= .5: core
  EXPECT_TRUE(dbscan(pair, 0.5f, 0.5001f, 0, 0).empty());    // below: both noise
  const Boxes single{{0, 0, 10, 10, 0.4f}};
  EXPECT_EQ(dbscan(single, 0.5f, 0.4f, 0, 0).size(), 1u);    // itself counts
  EXPECT_TRUE(dbscan(single, 0.5f, 0.41f, 0, 0).empty());
}

TEST(Dbscan, BorderPointJoinsTheClusterOfItsCore) {
  // A - B neighbours, B - C neighbours, A - C not (IoU(A,C) = 0). minSamples .75:
  // A: .6+.2 = .8 core, B: 1.1 core, C: .3+.2 = .5 border -> one cluster with all three.
  const Boxes in{{0, 0, 10, 10, 0.6f}, {3, 0, 13, 10, 0.2f}, {6, 0, 16, 10, 0.3f}};
  ASSERT_LT(1.0f - iou(in[0], in[1]), 0.6f);
  ASSERT_GT(1.0f - iou(in[0], in[2]), 0.6f);
  const Boxes out = dbscan(in, 0.6f, 0.75f, 0, 0);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_NEAR(out[0].conf, 1.1f, 1e-6);
  // Without B, A alone (.6) is not core and C alone (.3) is not: nothing.
  EXPECT_TRUE(dbscan(Boxes{in[0], in[2]}, 0.6f, 0.75f, 0, 0).empty());
}

TEST(Dbscan, EpsBoundaryIsInclusive) {
  const Boxes in{{0, 0, 10, 10, 0.5f}, {0, 0, 10, 5, 0.5f}};  // 1 - IoU = 0.5 exactly
  EXPECT_EQ(dbscan(in, 0.5f, 0.1f, 0, 0).size(), 1u);
  EXPECT_EQ(dbscan(in, 0.49f, 0.1f, 0, 0).size(), 2u);
}

TEST(Dbscan, EpsOneJoinsEvenDisjointBoxes) {
  const Boxes in{{0, 0, 10, 10, 0.5f}, {50, 50, 60, 60, 0.5f}};
  EXPECT_EQ(dbscan(in, 1.0f, 0.1f, 0, 0).size(), 1u);
  EXPECT_EQ(dbscan(in, 0.99f, 0.1f, 0, 0).size(), 2u);
}

TEST(Dbscan, DropsLowConfidenceAndShortClusters) {
  const Boxes in{{0, 0, 10, 10, 0.5f}, {0, 0, 10, 10, 0.5f}, {50, 50, 60, 70, 0.3f}};
  // Confidences 1.0 (height 10) and 0.3 (height 20).
  EXPECT_EQ(dbscan(in, 0.5f, 0.1f, 1.0f, 0).size(), 1u);
  EXPECT_EQ(dbscan(in, 0.5f, 0.1f, 1.01f, 0).size(), 0u);
  EXPECT_EQ(dbscan(in, 0.5f, 0.1f, 0, 9.99f).size(), 2u);
  EXPECT_EQ(dbscan(in, 0.5f, 0.1f, 0, 10.0f).size(), 1u);  // height <= minimum: dropped (TAO)
  const Boxes tall = dbscan(in, 0.5f, 0.1f, 0, 10.5f);
  ASSERT_EQ(tall.size(), 1u);
  EXPECT_FLOAT_EQ(tall[0].height(), 20.0f);
}

TEST(Clusterer, DbscanTopKAndHybridNms) {
  ClusterParams p;
  p.mode = ClusterMode::Dbscan;
  p.eps = 0.1f;  // only near-identical boxes join
  p.minSamples = 0.1f;
  const Boxes in{{0, 0, 10, 10, 0.9f}, {1, 0, 11, 10, 0.5f}, {40, 40, 50, 50, 0.3f}};
  Boxes a = in;
  Clusterer(p).run(a);
  EXPECT_EQ(a.size(), 3u);  // IoU(0,1) = .818 -> distance .18 > .1
  p.topk = 2;
  a = in;
  Clusterer(p).run(a);
  ASSERT_EQ(a.size(), 2u);
  EXPECT_FLOAT_EQ(a[1].conf, 0.5f);
  p.topk = -1;
  p.mode = ClusterMode::Hybrid;  // DBSCAN keeps both; NMS at .5 removes the 0.5 one
  a = in;
  Clusterer(p).run(a);
  ASSERT_EQ(a.size(), 2u);
  EXPECT_FLOAT_EQ(a[0].conf, 0.9f);
  EXPECT_FLOAT_EQ(a[1].conf, 0.3f);
}

TEST(Clusterer, NoneSortsAndAppliesMinHeight) {
  ClusterParams p;
  p.mode = ClusterMode::None;
  p.minHeight = 5;
  Boxes b{{0, 0, 10, 4, 0.9f}, {0, 0, 10, 10, 0.2f}, {0, 0, 10, 10, 0.6f}};
  Clusterer(p).run(b);
  ASSERT_EQ(b.size(), 2u);
  EXPECT_FLOAT_EQ(b[0].conf, 0.6f);
  EXPECT_FLOAT_EQ(b[1].conf, 0.2f);
}

// The x-sweep in DBSCAN must find exactly the neighbours a brute-force O(n²) scan finds.
TEST(Dbscan, SweepMatchesBruteForceOnRandomBoxes) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> pos(0, 200), size(5, 60), cov(0.2f, 1.0f);
  for (int round = 0; round < 50; ++round) {
    Boxes in;
    for (int i = 0; i < 60; ++i) {
      const float x = pos(rng), y = pos(rng), s = size(rng);
      in.push_back(Box{x, y, x + s, y + s * 1.2f, cov(rng)});
    }
    const float eps = 0.6f, minSamples = 1.5f;
    // Brute force: same algorithm without the sweep.
    const int n = static_cast<int>(in.size());
    std::vector<std::vector<int>> nb(n);
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j)
        if (i != j && 1.0f - iou(in[i], in[j]) <= eps) nb[i].push_back(j);
    std::vector<int> core(n), label(n, -1);
    for (int i = 0; i < n; ++i) {
      float w = in[i].conf;
      for (int j : nb[i]) w += in[j].conf;
      core[i] = w >= minSamples;
    }
    int k = 0;
    for (int i = 0; i < n; ++i) {
      if (label[i] != -1 || !core[i]) continue;
      std::vector<int> st{i};
      label[i] = k;
      while (!st.empty()) {
        int q = st.back();
        st.pop_back();
        if (!core[q]) continue;
        for (int r : nb[q])
          if (label[r] == -1) label[r] = k, st.push_back(r);
      }
      ++k;
    }
    std::vector<float> sums(k, 0.0f);
    for (int i = 0; i < n; ++i)
      if (label[i] >= 0) sums[label[i]] += in[i].conf;
    std::sort(sums.rbegin(), sums.rend());
    const Boxes out = dbscan(in, eps, minSamples, 0, 0);
    ASSERT_EQ(out.size(), sums.size()) << "round " << round;
    for (std::size_t c = 0; c < sums.size(); ++c) EXPECT_NEAR(out[c].conf, sums[c], 1e-4);
  }
}

// TAO's DBSCAN is scikit-learn's over the 1 − IoU matrix: a box with no area has IoU 0 with
// itself, so it is at distance 1 from itself and (eps < 1) in nobody's neighbourhood, itself
// included. With full coverage it would be a core point if it counted itself; here it is noise.
TEST(Dbscan, ZeroAreaBoxIsNoiseNotItsOwnNeighbour) {
  const Boxes flat{{10, 10, 30, 10, 1.0f}};  // height 0 (clipped at a border)
  EXPECT_TRUE(dbscan(flat, 0.7f, 1.0f, 0, -1.0f).empty());
  // Beside a real face it does not join or shift that face's cluster.
  const Boxes mixed{{10, 10, 30, 10, 1.0f}, {10, 10, 30, 30, 1.0f}};
  const Boxes out = dbscan(mixed, 0.7f, 1.0f, 0, 0);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_FLOAT_EQ(out[0].y2, 30.0f);
  EXPECT_FLOAT_EQ(out[0].conf, 1.0f);
  // eps >= 1: distance 1 is within reach, so the zero-area box is its own neighbour again.
  EXPECT_EQ(dbscan(flat, 1.0f, 1.0f, 0, -1.0f).size(), 1u);
}

// TAO drops clusters whose height is <= the minimum (not <): exactly-at-minimum goes, and a
// zero-height cluster goes even with minimum 0.
TEST(Dbscan, HeightFilterDropsAtTheMinimum) {
  const Boxes tall{{0, 0, 10, 20, 1.0f}};
  EXPECT_TRUE(dbscan(tall, 0.7f, 1.0f, 0, 20.0f).empty());
  EXPECT_EQ(dbscan(tall, 0.7f, 1.0f, 0, 19.99f).size(), 1u);
  // Two zero-height boxes that would average to a zero-height cluster if eps let them meet.
  const Boxes flats{{0, 5, 10, 5, 1.0f}, {0, 5, 10, 5, 1.0f}};
  EXPECT_TRUE(dbscan(flats, 1.0f, 1.0f, 0, 0.0f).empty());
  // NMS keeps DeepStream's candidate filter: lower than the minimum (<) goes, at the minimum stays.
  ClusterParams p;
  p.mode = ClusterMode::Nms;
  p.minHeight = 20.0f;
  Boxes viaNms = tall;
  Clusterer(p).run(viaNms);
  EXPECT_EQ(viaNms.size(), 1u);
}
