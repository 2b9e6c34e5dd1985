// Average precision for faces against KITTI-format labels. Pure code. Four modes, named for what
// they compute:
//   voc2007    11-point interpolated AP (PASCAL VOC 2007: recall levels 0, 0.1, ..., 1);
//   voc2010    all-points AP: area under the monotone precision envelope (PASCAL VOC 2010 on);
//   tao        TAO DetectNet_v2's evaluation, average_precision_mode INTEGRATE;
//   tao-sample TAO DetectNet_v2's evaluation, average_precision_mode SAMPLE.
// The voc* modes use this runner's matching (below); the tao* modes reproduce TAO's own matching
// as well as its AP sums (see evaluate()).
#pragma once

#include <string>
#include <vector>

#include "facefleet/box.hpp"

namespace facefleet {

struct GroundTruth {
  Box box;
  bool dontCare = false;
};

struct ImageEval {
  Boxes detections;  // conf = score
  std::vector<GroundTruth> truths;
};

enum class ApMode { Voc2007, Voc2010, Tao, TaoSample };
const char* apModeName(ApMode mode);  // voc2007 | voc2010 | tao | tao-sample
bool parseApMode(const std::string& name, ApMode& out);

struct EvalResult {
  ApMode mode = ApMode::Voc2010;
  double ap = 0;
  double precision = 0;  // at scoreThreshold (0 when nothing is detected there)
  double recall = 0;     // at scoreThreshold
  long long truePositives = 0, falsePositives = 0;  // at scoreThreshold
  long long groundTruths = 0;                       // DontCare excluded
  long long detections = 0;                         // counted ones (voc*: DontCare-matched excluded)
  long long images = 0;
};

// Matching, detections in descending score over all images (stable for equal scores):
//  voc2007/voc2010: continuous coordinates; each detection goes to the face of highest IoU in its
//    image; IoU > iouThreshold with an unmatched face is a true positive, with an already matched
//    face a false positive (duplicate). A detection matching no face but covering a DontCare region
//    (intersection / detection area > iouThreshold, as KITTI's devkit measures DontCare overlap) is
//    ignored. Everything else is a false positive.
//  tao/tao-sample: as TAO's ComputeMetrics: coordinates of detections and faces rounded to integers
//    (half to even, Python's round), IoU with inclusive pixels (sides x2 − x1 + 1), a detection goes
//    to the face of highest IoU and matches when IoU >= iouThreshold; there is no DontCare (such
//    regions are neither faces nor ignored). TAO sorts with numpy's unstable quicksort, so equal
//    scores may be taken in another order there.
EvalResult evaluate(const std::vector<ImageEval>& images, double iouThreshold, double scoreThreshold,
                    ApMode mode = ApMode::Voc2010);

// AP of one precision/recall curve (one point per detection, in descending score order).
// voc2007: mean over t = k/10 (k = 0..10) of the best precision at recall >= t.
double apVoc2007(const std::vector<double>& precision, const std::vector<double>& recall);
// voc2010: recall bracketed by 0 and 1, precision by 0 and 0; precision made monotone from the
// right; sum of (r[i+1] − r[i]) · p[i+1].
double apVoc2010(const std::vector<double>& precision, const std::vector<double>& recall);
// TAO SAMPLE: mean over t in numpy.linspace(0, 1, 11) — computed as i · 0.1 in floating point, so
// t = 0.30000000000000004, 0.6000000000000001, 0.7000000000000001 — of the best precision at
// recall >= t (0 where none).
double apTaoSample(const std::vector<double>& precision, const std::vector<double>& recall);
// TAO INTEGRATE: over the distinct recall values u[0] < … < u[m−1], the sum of
// (u[i+1] − u[i]) · max(precision at recall in u[i..m−2]): it starts at the first recall reached (not
// at 0) and leaves out the precisions at the last recall value.
double apTaoIntegrate(const std::vector<double>& precision, const std::vector<double>& recall);

// KITTI label text: one object per line, class name first, fields 5-8 left top right bottom.
// Lines of class `faceClass` (case-insensitive) are faces, DontCare lines are ignore regions, other
// classes are skipped. Throws std::runtime_error("<label>:<line>: ...") on malformed lines.
std::vector<GroundTruth> parseKittiLabels(const std::string& text, const std::string& faceClass,
                                          const std::string& label);

}  // namespace facefleet
