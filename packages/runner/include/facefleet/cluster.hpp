// Clustering of decoded candidates: NMS, DBSCAN with TAO semantics, hybrid, none.
// Pure code; DeepStream's cluster-mode numbering maps onto ClusterMode in config.cpp.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "facefleet/box.hpp"

namespace facefleet {

enum class ClusterMode { None, Nms, Dbscan, Hybrid };

struct ClusterParams {
  ClusterMode mode = ClusterMode::Nms;
  // NMS: a box is suppressed when its IoU with a kept, higher-confidence box is > nmsIou.
  float nmsIou = 0.5f;
  // Keep at most topk boxes after clustering (highest confidence first); <= 0 keeps all.
  int topk = -1;
  // DBSCAN (TAO): distance = 1 − IoU; neighbours at distance <= eps (scikit-learn's radius test).
  float eps = 0.7f;
  // A point is core when the summed coverage of its eps-neighbourhood (itself included) >= minSamples.
  float minSamples = 1.0f;
  // Clusters whose confidence (sum of member coverage) is below this are dropped.
  float minScore = 0.0f;
  // DBSCAN: clusters whose height is <= this are dropped (TAO). NMS/none: candidates lower than
  // this (<) are dropped before clustering (DeepStream's detected-min-h).
  float minHeight = 0.0f;
};

const char* clusterModeName(ClusterMode mode);
// Accepts none|nms|dbscan|hybrid; returns false for anything else.
bool parseClusterMode(const std::string& name, ClusterMode& out);
std::string clusterUsage();

// Greedy NMS in confidence order (stable for equal confidences).
Boxes nms(const Boxes& boxes, float iouThreshold, int topk);

// DBSCAN over candidates as TAO's DetectNet_v2 post-processor does it. Each returned box is the
// coverage-weighted mean of its cluster's members, with conf = sum of member coverage; clusters with
// conf < minScore or height <= minHeight are dropped. A candidate with no area is at distance 1 from
// itself (IoU 0), so with eps < 1 it is noise. Output sorted by confidence, highest first.
Boxes dbscan(const Boxes& boxes, float eps, float minSamples, float minScore, float minHeight);

// Runs the configured mode, reusing its buffers between calls (one per pipeline thread).
class Clusterer {
 public:
  explicit Clusterer(const ClusterParams& params) : params_(params) {}
  static Clusterer create(const ClusterParams& params) { return Clusterer(params); }

  // Replaces `boxes` (candidates) with the clustered result.
  void run(Boxes& boxes);
  const ClusterParams& params() const { return params_; }

 private:
  void runNms(Boxes& boxes, float iouThreshold, int topk);
  void runDbscan(Boxes& boxes);

  ClusterParams params_;
  std::vector<int> order_;
  std::vector<char> flag_;
  std::vector<std::pair<int, int>> edges_;
  std::vector<int> offsets_, adjacency_, labels_, stack_;
  std::vector<float> weight_;
  Boxes tmp_;
};

}  // namespace facefleet
