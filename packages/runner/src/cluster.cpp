#include "facefleet/cluster.hpp"

#include <algorithm>
#include <numeric>

namespace facefleet {

const char* clusterModeName(ClusterMode mode) {
  switch (mode) {
    case ClusterMode::None: return "none";
    case ClusterMode::Nms: return "nms";
    case ClusterMode::Dbscan: return "dbscan";
    case ClusterMode::Hybrid: return "hybrid";
  }
  return "none";
}

bool parseClusterMode(const std::string& name, ClusterMode& out) {
  for (ClusterMode m : {ClusterMode::None, ClusterMode::Nms, ClusterMode::Dbscan, ClusterMode::Hybrid}) {
    if (name == clusterModeName(m)) {
      out = m;
      return true;
    }
  }
  return false;
}

std::string clusterUsage() {
  return "  --cluster none|nms|dbscan|hybrid  clustering of candidates (default nms)\n"
         "  --pre-cluster-threshold F         candidate threshold on coverage/score\n"
         "                                    (default 0.2 detectnet_v2, 0.5 blazeface)\n"
         "  --nms-iou-threshold F             NMS suppresses IoU > F (default 0.5)\n"
         "  --topk N                          keep at most N boxes, <= 0 keeps all (default -1)\n"
         "  --eps F                           DBSCAN: neighbours at 1-IoU <= F (default 0.7)\n"
         "  --min-boxes F                     DBSCAN: min summed coverage of a core point's\n"
         "                                    neighbourhood, itself included (default 1.0)\n"
         "  --dbscan-min-score F              DBSCAN: drop clusters with coverage sum < F (default 0)\n"
         "  --detected-min-h F                drop boxes lower than F network pixels (default 0;\n"
         "                                    DBSCAN drops clusters of height <= F, as TAO does)\n"
         "  --bbox-clip tao|deepstream        detectnet_v2 corners clipped to [0,W] (TAO) or [0,W-1]\n"
         "                                    (DeepStream); default deepstream with --config, else tao\n";
}

void Clusterer::runNms(Boxes& boxes, float iouThreshold, int topk) {
  const int n = static_cast<int>(boxes.size());
  order_.resize(n);
  std::iota(order_.begin(), order_.end(), 0);
  std::stable_sort(order_.begin(), order_.end(),
                   [&](int a, int b) { return boxes[a].conf > boxes[b].conf; });
  tmp_.clear();
  for (int idx : order_) {
    if (topk > 0 && static_cast<int>(tmp_.size()) >= topk) break;
    const Box& b = boxes[idx];
    bool keep = true;
    for (const Box& k : tmp_) {
      if (iou(b, k) > iouThreshold) {
        keep = false;
        break;
      }
    }
    if (keep) tmp_.push_back(b);
  }
  boxes.swap(tmp_);
}

void Clusterer::runDbscan(Boxes& boxes) {
  const ClusterParams& p = params_;
  const int n = static_cast<int>(boxes.size());
  // Neighbour pairs. Boxes that do not overlap in x have IoU 0 (distance 1), so when eps < 1 only
  // pairs whose x-ranges overlap can be neighbours: sweep in x1 order and stop early.
  order_.resize(n);
  std::iota(order_.begin(), order_.end(), 0);
  std::sort(order_.begin(), order_.end(), [&](int a, int b) { return boxes[a].x1 < boxes[b].x1; });
  edges_.clear();
  const bool everyone = p.eps >= 1.0f;
  for (int a = 0; a < n; ++a) {
    const Box& ba = boxes[order_[a]];
    for (int b = a + 1; b < n; ++b) {
      const Box& bb = boxes[order_[b]];
      if (!everyone && bb.x1 >= ba.x2) break;
      if (1.0f - iou(ba, bb) <= p.eps) edges_.emplace_back(order_[a], order_[b]);
    }
  }
  // Compressed adjacency lists.
  offsets_.assign(n + 1, 0);
  for (const auto& e : edges_) {
    ++offsets_[e.first + 1];
    ++offsets_[e.second + 1];
  }
  for (int i = 0; i < n; ++i) offsets_[i + 1] += offsets_[i];
  adjacency_.resize(offsets_[n]);
  stack_.assign(offsets_.begin(), offsets_.end() - 1);  // insert cursors
  for (const auto& e : edges_) {
    adjacency_[stack_[e.first]++] = e.second;
    adjacency_[stack_[e.second]++] = e.first;
  }
  // Core points: summed sample weight (coverage) of the neighbourhood, the point itself included.
  weight_.resize(n);
  flag_.assign(n, 0);
  for (int i = 0; i < n; ++i) {
    // A point is its own neighbour only at distance 1 − IoU(i, i) <= eps: a box with no area has
    // IoU 0 with itself (distance 1), so unless eps >= 1 it does not count itself, as in TAO's
    // scikit-learn DBSCAN over the 1 − IoU matrix.
    const bool self = boxes[i].area() > 0 ? true : 1.0f <= p.eps;
    float w = self ? boxes[i].conf : 0.0f;
    for (int k = offsets_[i]; k < offsets_[i + 1]; ++k) w += boxes[adjacency_[k]].conf;
    weight_[i] = w;
    flag_[i] = w >= p.minSamples ? 1 : 0;
  }
  // Expand clusters from core points in input order (scikit-learn's dbscan_inner): a border point
  // joins the first cluster that reaches it; points reached by no core point are noise (-1).
  labels_.assign(n, -1);
  int clusters = 0;
  for (int i = 0; i < n; ++i) {
    if (labels_[i] != -1 || !flag_[i]) continue;
    stack_.clear();
    stack_.push_back(i);
    labels_[i] = clusters;
    while (!stack_.empty()) {
      const int q = stack_.back();
      stack_.pop_back();
      if (!flag_[q]) continue;  // border points do not expand
      for (int k = offsets_[q]; k < offsets_[q + 1]; ++k) {
        const int r = adjacency_[k];
        if (labels_[r] == -1) {
          labels_[r] = clusters;
          stack_.push_back(r);
        }
      }
    }
    ++clusters;
  }
  // Coverage-weighted mean box and summed coverage per cluster.
  tmp_.assign(clusters, Box{});
  for (int i = 0; i < n; ++i) {
    if (labels_[i] < 0) continue;
    Box& c = tmp_[labels_[i]];
    const Box& b = boxes[i];
    c.x1 += b.conf * b.x1;
    c.y1 += b.conf * b.y1;
    c.x2 += b.conf * b.x2;
    c.y2 += b.conf * b.y2;
    c.conf += b.conf;
  }
  boxes.clear();
  for (Box c : tmp_) {
    if (!(c.conf > 0)) continue;
    c.x1 /= c.conf;
    c.y1 /= c.conf;
    c.x2 /= c.conf;
    c.y2 /= c.conf;
    // TAO keeps a cluster only when its height is above the minimum (<= drops it, so a cluster of
    // zero height goes even at minimum 0); dbscan-min-score keeps DeepStream's "below" test.
    if (c.conf < p.minScore || c.height() <= p.minHeight) continue;
    boxes.push_back(c);
  }
  std::stable_sort(boxes.begin(), boxes.end(), [](const Box& a, const Box& b) { return a.conf > b.conf; });
}

void Clusterer::run(Boxes& boxes) {
  const ClusterParams& p = params_;
  if (p.mode == ClusterMode::None || p.mode == ClusterMode::Nms) {
    // DeepStream applies detected-min-h to candidates before clustering; DBSCAN applies it to
    // clusters (TAO's minimum_bounding_box_height), inside runDbscan.
    if (p.minHeight > 0) {
      boxes.erase(std::remove_if(boxes.begin(), boxes.end(),
                                 [&](const Box& b) { return b.height() < p.minHeight; }),
                  boxes.end());
    }
  }
  switch (p.mode) {
    case ClusterMode::None:
      std::stable_sort(boxes.begin(), boxes.end(), [](const Box& a, const Box& b) { return a.conf > b.conf; });
      if (p.topk > 0 && static_cast<int>(boxes.size()) > p.topk) boxes.resize(p.topk);
      break;
    case ClusterMode::Nms:
      runNms(boxes, p.nmsIou, p.topk);
      break;
    case ClusterMode::Dbscan:
      runDbscan(boxes);
      if (p.topk > 0 && static_cast<int>(boxes.size()) > p.topk) boxes.resize(p.topk);
      break;
    case ClusterMode::Hybrid:
      runDbscan(boxes);
      runNms(boxes, p.nmsIou, p.topk);
      break;
  }
}

Boxes nms(const Boxes& boxes, float iouThreshold, int topk) {
  ClusterParams p;
  p.mode = ClusterMode::Nms;
  p.nmsIou = iouThreshold;
  p.topk = topk;
  Boxes out = boxes;
  Clusterer(p).run(out);
  return out;
}

Boxes dbscan(const Boxes& boxes, float eps, float minSamples, float minScore, float minHeight) {
  ClusterParams p;
  p.mode = ClusterMode::Dbscan;
  p.eps = eps;
  p.minSamples = minSamples;
  p.minScore = minScore;
  p.minHeight = minHeight;
  Boxes out = boxes;
  Clusterer(p).run(out);
  return out;
}

}  // namespace facefleet
