// Average precision for faces against KITTI-format labels, in TAO's two modes
// (SAMPLE: 11-point interpolated; INTEGRATE: area under the precision envelope). Pure code.
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

struct EvalResult {
  double apSampled = 0;     // 11-point (recall 0, 0.1, ..., 1)
  double apIntegrated = 0;  // area under the monotone precision envelope
  double precision = 0;     // at scoreThreshold (0 when nothing is detected there)
  double recall = 0;        // at scoreThreshold
  long long truePositives = 0, falsePositives = 0;  // at scoreThreshold
  long long groundTruths = 0;                       // DontCare excluded
  long long detections = 0;                         // all, DontCare-matched excluded
  long long images = 0;
};

// Detections are matched greedily in descending score over all images: to the unmatched-or-not
// ground truth of highest IoU in their image; IoU > iouThreshold with an unmatched face is a true
// positive, with an already matched face a false positive (duplicate). A detection that matches no
// face but covers a DontCare region (intersection / detection area > iouThreshold, as KITTI's devkit
// measures DontCare overlap) is ignored: neither TP nor FP. Everything else is a false positive.
EvalResult evaluate(const std::vector<ImageEval>& images, double iouThreshold, double scoreThreshold);

// KITTI label text: one object per line, class name first, fields 5-8 left top right bottom.
// Lines of class `faceClass` (case-insensitive) are faces, DontCare lines are ignore regions, other
// classes are skipped. Throws std::runtime_error("<label>:<line>: ...") on malformed lines.
std::vector<GroundTruth> parseKittiLabels(const std::string& text, const std::string& faceClass,
                                          const std::string& label);

}  // namespace facefleet
