#include "facefleet/eval.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <sstream>
#include <stdexcept>

namespace facefleet {

EvalResult evaluate(const std::vector<ImageEval>& images, double iouThreshold, double scoreThreshold) {
  struct Det {
    std::size_t image;
    Box box;
  };
  std::vector<Det> dets;
  EvalResult r;
  r.images = static_cast<long long>(images.size());
  std::vector<std::vector<char>> matched(images.size());
  for (std::size_t i = 0; i < images.size(); ++i) {
    for (const Box& b : images[i].detections) dets.push_back({i, b});
    for (const GroundTruth& g : images[i].truths) r.groundTruths += g.dontCare ? 0 : 1;
    matched[i].assign(images[i].truths.size(), 0);
  }
  std::stable_sort(dets.begin(), dets.end(), [](const Det& a, const Det& b) { return a.box.conf > b.box.conf; });

  // Precision/recall after each counted detection, in score order.
  std::vector<double> precision, recall;
  long long tp = 0, fp = 0;
  for (const Det& d : dets) {
    const auto& truths = images[d.image].truths;
    int best = -1;
    float bestIou = 0;
    for (std::size_t g = 0; g < truths.size(); ++g) {
      if (truths[g].dontCare) continue;
      const float o = iou(d.box, truths[g].box);
      if (o > bestIou) bestIou = o, best = static_cast<int>(g);
    }
    bool isTp = false;
    if (best >= 0 && bestIou > iouThreshold) {
      isTp = !matched[d.image][best];
      matched[d.image][best] = 1;
    } else {
      bool ignored = false;
      for (const GroundTruth& g : truths) {
        if (!g.dontCare || d.box.area() <= 0) continue;
        Box in{std::max(d.box.x1, g.box.x1), std::max(d.box.y1, g.box.y1), std::min(d.box.x2, g.box.x2),
               std::min(d.box.y2, g.box.y2), 0};
        const float inter = in.width() > 0 && in.height() > 0 ? in.area() : 0.0f;
        if (inter / d.box.area() > iouThreshold) ignored = true;
      }
      if (ignored) continue;
    }
    (isTp ? tp : fp) += 1;
    ++r.detections;
    precision.push_back(static_cast<double>(tp) / (tp + fp));
    recall.push_back(r.groundTruths ? static_cast<double>(tp) / r.groundTruths : 0.0);
    if (d.box.conf >= scoreThreshold) {
      r.truePositives = tp;
      r.falsePositives = fp;
    }
  }
  r.precision = (r.truePositives + r.falsePositives) ? static_cast<double>(r.truePositives) /
                                                           (r.truePositives + r.falsePositives)
                                                     : 0.0;
  r.recall = r.groundTruths ? static_cast<double>(r.truePositives) / r.groundTruths : 0.0;
  if (r.groundTruths == 0) return r;

  // SAMPLE: mean over recall levels 0, 0.1, ..., 1 of the best precision at recall >= level.
  double sampled = 0;
  for (int k = 0; k <= 10; ++k) {
    const double level = k / 10.0;
    double best = 0;
    for (std::size_t i = 0; i < precision.size(); ++i)
      if (recall[i] >= level - 1e-12) best = std::max(best, precision[i]);
    sampled += best;
  }
  r.apSampled = sampled / 11.0;

  // INTEGRATE: precision made monotone from the right, summed over recall steps.
  std::vector<double> mrec{0.0}, mpre{0.0};
  mrec.insert(mrec.end(), recall.begin(), recall.end());
  mpre.insert(mpre.end(), precision.begin(), precision.end());
  mrec.push_back(1.0);
  mpre.push_back(0.0);
  for (std::size_t i = mpre.size() - 1; i > 0; --i) mpre[i - 1] = std::max(mpre[i - 1], mpre[i]);
  double area = 0;
  for (std::size_t i = 0; i + 1 < mrec.size(); ++i) area += (mrec[i + 1] - mrec[i]) * mpre[i + 1];
  r.apIntegrated = area;
  return r;
}

std::vector<GroundTruth> parseKittiLabels(const std::string& text, const std::string& faceClass,
                                          const std::string& label) {
  auto lower = [](std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  };
  const std::string face = lower(faceClass);
  std::vector<GroundTruth> out;
  std::istringstream lines(text);
  std::string line;
  int lineNo = 0;
  while (std::getline(lines, line)) {
    ++lineNo;
    std::istringstream fields(line);
    std::vector<std::string> f;
    for (std::string t; fields >> t;) f.push_back(t);
    if (f.empty()) continue;
    const std::string cls = lower(f[0]);
    const bool dontCare = cls == "dontcare";
    if (!dontCare && cls != face) continue;
    if (f.size() < 8)
      throw std::runtime_error(label + ":" + std::to_string(lineNo) + ": expected at least 8 fields, got " +
                               std::to_string(f.size()));
    float v[4];
    for (int k = 0; k < 4; ++k) {
      char* end = nullptr;
      v[k] = std::strtof(f[4 + k].c_str(), &end);
      if (end == f[4 + k].c_str() || *end != '\0' || !std::isfinite(v[k]))
        throw std::runtime_error(label + ":" + std::to_string(lineNo) + ": field " + std::to_string(5 + k) +
                                 " '" + f[4 + k] + "' is not a number");
    }
    out.push_back(GroundTruth{Box{v[0], v[1], v[2], v[3], 1.0f}, dontCare});
  }
  return out;
}

}  // namespace facefleet
