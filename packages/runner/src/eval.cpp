#include "facefleet/eval.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <sstream>
#include <stdexcept>

namespace facefleet {

const char* apModeName(ApMode mode) {
  switch (mode) {
    case ApMode::Voc2007: return "voc2007";
    case ApMode::Voc2010: return "voc2010";
    case ApMode::Tao: return "tao";
    case ApMode::TaoSample: return "tao-sample";
  }
  return "voc2010";
}

bool parseApMode(const std::string& name, ApMode& out) {
  for (ApMode m : {ApMode::Voc2007, ApMode::Voc2010, ApMode::Tao, ApMode::TaoSample}) {
    if (name == apModeName(m)) {
      out = m;
      return true;
    }
  }
  return false;
}

namespace {

// TAO's IoU: integer corners, inclusive pixels (border_pixels="include": sides x2 − x1 + 1).
double taoIou(const Box& a, const Box& b) {
  const double iw = std::max(0.0, static_cast<double>(std::min(a.x2, b.x2)) - std::max(a.x1, b.x1) + 1.0);
  const double ih = std::max(0.0, static_cast<double>(std::min(a.y2, b.y2)) - std::max(a.y1, b.y1) + 1.0);
  const double inter = iw * ih;
  const double areaA = (static_cast<double>(a.x2) - a.x1 + 1.0) * (static_cast<double>(a.y2) - a.y1 + 1.0);
  const double areaB = (static_cast<double>(b.x2) - b.x1 + 1.0) * (static_cast<double>(b.y2) - b.y1 + 1.0);
  return inter / (areaA + areaB - inter);
}

// Python's round() on a float: to the nearest integer, halves to even (the default FE_TONEAREST).
Box roundedBox(const Box& b) {
  return Box{static_cast<float>(std::nearbyint(b.x1)), static_cast<float>(std::nearbyint(b.y1)),
             static_cast<float>(std::nearbyint(b.x2)), static_cast<float>(std::nearbyint(b.y2)), b.conf};
}

bool inDontCare(const Box& d, const std::vector<GroundTruth>& truths, double threshold) {
  if (d.area() <= 0) return false;
  for (const GroundTruth& g : truths) {
    if (!g.dontCare) continue;
    Box in{std::max(d.x1, g.box.x1), std::max(d.y1, g.box.y1), std::min(d.x2, g.box.x2), std::min(d.y2, g.box.y2), 0};
    const float inter = in.width() > 0 && in.height() > 0 ? in.area() : 0.0f;
    if (inter / d.area() > threshold) return true;
  }
  return false;
}

}  // namespace

EvalResult evaluate(const std::vector<ImageEval>& images, double iouThreshold, double scoreThreshold, ApMode mode) {
  const bool tao = mode == ApMode::Tao || mode == ApMode::TaoSample;
  struct Det {
    std::size_t image;
    Box box;
  };
  std::vector<Det> dets;
  EvalResult r;
  r.mode = mode;
  r.images = static_cast<long long>(images.size());
  std::vector<std::vector<Box>> faces(images.size());  // the faces to find, per image (rounded for tao)
  std::vector<std::vector<char>> matched(images.size());
  for (std::size_t i = 0; i < images.size(); ++i) {
    for (const Box& b : images[i].detections) dets.push_back({i, tao ? roundedBox(b) : b});
    for (const GroundTruth& g : images[i].truths)
      if (!g.dontCare) faces[i].push_back(tao ? roundedBox(g.box) : g.box);
    r.groundTruths += static_cast<long long>(faces[i].size());
    matched[i].assign(faces[i].size(), 0);
  }
  std::stable_sort(dets.begin(), dets.end(), [](const Det& a, const Det& b) { return a.box.conf > b.box.conf; });

  // Precision/recall after each counted detection, in score order.
  std::vector<double> precision, recall;
  long long tp = 0, fp = 0;
  for (const Det& d : dets) {
    const auto& truths = faces[d.image];
    int best = -1;
    double bestIou = tao ? -1.0 : 0.0;  // TAO: argmax over every face, even at IoU 0
    for (std::size_t g = 0; g < truths.size(); ++g) {
      const double o = tao ? taoIou(d.box, truths[g]) : static_cast<double>(iou(d.box, truths[g]));
      if (o > bestIou) bestIou = o, best = static_cast<int>(g);
    }
    const bool match = best >= 0 && (tao ? bestIou >= iouThreshold : bestIou > iouThreshold);
    bool isTp = false;
    if (match) {
      isTp = !matched[d.image][best];
      matched[d.image][best] = 1;
    } else if (!tao && inDontCare(d.box, images[d.image].truths, iouThreshold)) {
      continue;  // neither a true nor a false positive
    }
    (isTp ? tp : fp) += 1;
    ++r.detections;
    precision.push_back(static_cast<double>(tp) / static_cast<double>(tp + fp));
    recall.push_back(r.groundTruths ? static_cast<double>(tp) / static_cast<double>(r.groundTruths) : 0.0);
    if (d.box.conf >= scoreThreshold) {
      r.truePositives = tp;
      r.falsePositives = fp;
    }
  }
  r.precision = (r.truePositives + r.falsePositives) ? static_cast<double>(r.truePositives) /
                                                           static_cast<double>(r.truePositives + r.falsePositives)
                                                     : 0.0;
  r.recall = r.groundTruths ? static_cast<double>(r.truePositives) / static_cast<double>(r.groundTruths) : 0.0;
  if (r.groundTruths == 0) return r;  // TAO: NaN, reported as 0
  switch (mode) {
    case ApMode::Voc2007: r.ap = apVoc2007(precision, recall); break;
    case ApMode::Voc2010: r.ap = apVoc2010(precision, recall); break;
    case ApMode::Tao: r.ap = apTaoIntegrate(precision, recall); break;
    case ApMode::TaoSample: r.ap = apTaoSample(precision, recall); break;
  }
  return r;
}

namespace {

double bestPrecisionAtOrAbove(const std::vector<double>& precision, const std::vector<double>& recall, double level) {
  double best = 0;
  for (std::size_t i = 0; i < precision.size(); ++i)
    if (recall[i] >= level) best = std::max(best, precision[i]);
  return best;
}

}  // namespace

double apVoc2007(const std::vector<double>& precision, const std::vector<double>& recall) {
  double sum = 0;
  // Levels k/10, with a tolerance so that a recall of exactly 3/10 reaches the level 0.3.
  for (int k = 0; k <= 10; ++k) sum += bestPrecisionAtOrAbove(precision, recall, k / 10.0 - 1e-12);
  return sum / 11.0;
}

double apVoc2010(const std::vector<double>& precision, const std::vector<double>& recall) {
  std::vector<double> mrec{0.0}, mpre{0.0};
  mrec.insert(mrec.end(), recall.begin(), recall.end());
  mpre.insert(mpre.end(), precision.begin(), precision.end());
  mrec.push_back(1.0);
  mpre.push_back(0.0);
  for (std::size_t i = mpre.size() - 1; i > 0; --i) mpre[i - 1] = std::max(mpre[i - 1], mpre[i]);
  double area = 0;
  for (std::size_t i = 0; i + 1 < mrec.size(); ++i) area += (mrec[i + 1] - mrec[i]) * mpre[i + 1];
  return area;
}

double apTaoSample(const std::vector<double>& precision, const std::vector<double>& recall) {
  constexpr int kPoints = 11;
  const double step = 1.0 / (kPoints - 1);  // numpy.linspace: arange(num) * step + start, last = stop
  double sum = 0;
  for (int i = 0; i < kPoints; ++i) {
    const double t = i == kPoints - 1 ? 1.0 : i * step;
    sum += bestPrecisionAtOrAbove(precision, recall, t);
  }
  return sum / kPoints;
}

double apTaoIntegrate(const std::vector<double>& precision, const std::vector<double>& recall) {
  // Distinct recall values and where each first occurs (recall never decreases along the curve).
  std::vector<double> unique;
  std::vector<std::size_t> first;
  for (std::size_t i = 0; i < recall.size(); ++i) {
    if (unique.empty() || recall[i] != unique.back()) {
      unique.push_back(recall[i]);
      first.push_back(i);
    }
  }
  const std::size_t m = unique.size();
  if (m < 2) return 0.0;
  // Heights from the right: the best precision over the groups i..m−2 (group m−1 is left out).
  std::vector<double> height(m, 0.0), width(m, 0.0);
  for (std::size_t i = m - 1; i-- > 0;) {
    double best = 0;
    for (std::size_t k = first[i]; k < first[i + 1]; ++k) best = std::max(best, precision[k]);
    height[i] = std::max(best, height[i + 1]);
    width[i] = unique[i + 1] - unique[i];
  }
  double area = 0;
  for (std::size_t i = 0; i < m; ++i) area += height[i] * width[i];
  return area;
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
