// `eval`: average precision for faces over a folder of images with KITTI labels.
#include <opencv2/imgcodecs.hpp>

#include <algorithm>
#include <dirent.h>
#include <fstream>
#include <sstream>

#include "facefleet/cli.hpp"
#include "facefleet/detector.hpp"
#include "facefleet/errors.hpp"
#include "facefleet/eval.hpp"
#include "facefleet/json.hpp"
#include "facefleet/source.hpp"

namespace facefleet {

int evalCommand(const std::vector<std::string>& args) {
  std::vector<std::string> valueFlags = kModelFlags;
  valueFlags.insert(valueFlags.end(), kClusterFlags.begin(), kClusterFlags.end());
  for (const char* f : {"images", "labels", "iou", "threshold", "class", "ap-mode"}) valueFlags.push_back(f);
  const auto flags = parseFlags(args, valueFlags, {});
  RunnerConfig cfg;
  std::vector<std::string> warnings;
  std::string imagesDir, labelsDir, faceClass = "face";
  double iouThreshold = 0.5, scoreThreshold = 0.5;
  ApMode apMode = ApMode::Voc2010;
  for (const Flag& f : flags)
    if (f.name == "config") loadNvinferConfig(cfg, f.value, warnings);
  for (const Flag& f : flags) {
    if (f.name == "images") imagesDir = f.value;
    else if (f.name == "labels") labelsDir = f.value;
    else if (f.name == "class") faceClass = f.value;
    else if (f.name == "ap-mode") {
      if (!parseApMode(f.value, apMode))
        throw RunnerError(ErrorCode::BadArgs, "--ap-mode: '" + f.value + "' is not voc2007, voc2010, tao or tao-sample");
    }
    else if (f.name == "iou") {
      iouThreshold = parseNumber(f.value, "--iou");
      if (iouThreshold < 0 || iouThreshold >= 1) throw RunnerError(ErrorCode::BadArgs, "--iou: must be in [0, 1)");
    } else if (f.name == "threshold") {
      scoreThreshold = parseNumber(f.value, "--threshold");
    } else {
      applyFlag(cfg, f);
    }
  }
  for (const auto& w : warnings) logWarning(w);
  if (imagesDir.empty()) throw RunnerError(ErrorCode::BadArgs, "--images: required (folder of images)");
  if (labelsDir.empty()) throw RunnerError(ErrorCode::BadArgs, "--labels: required (folder of KITTI .txt labels)");
  if (cfg.modelPath().empty()) throw RunnerError(ErrorCode::BadArgs, "--model: required");

  std::vector<std::string> names;
  if (DIR* d = ::opendir(imagesDir.c_str())) {
    while (dirent* e = ::readdir(d))
      if (e->d_name[0] != '.' && isImagePath(e->d_name)) names.push_back(e->d_name);
    ::closedir(d);
  } else {
    throw RunnerError(ErrorCode::Source, "--images: cannot read directory '" + imagesDir + "'");
  }
  std::sort(names.begin(), names.end());
  if (names.empty()) throw RunnerError(ErrorCode::Source, "--images: no images in '" + imagesDir + "'");

  auto detector = Detector::create(cfg);
  std::vector<ImageEval> evals;
  for (const auto& name : names) {
    const cv::Mat img = cv::imread(imagesDir + "/" + name, cv::IMREAD_COLOR);
    if (img.empty()) throw RunnerError(ErrorCode::Source, "--images: cannot decode '" + name + "'");
    const std::string stem = name.substr(0, name.rfind('.'));
    const std::string labelPath = labelsDir + "/" + stem + ".txt";
    std::ifstream lf(labelPath);
    ImageEval ev;
    if (!lf) {
      logWarning("no label file " + labelPath + " (image counted as having no faces)");
    } else {
      std::stringstream ss;
      ss << lf.rdbuf();
      try {
        ev.truths = parseKittiLabels(ss.str(), faceClass, labelPath);
      } catch (const std::runtime_error& e) {
        throw RunnerError(ErrorCode::BadArgs, std::string("--labels: ") + e.what());
      }
    }
    ev.detections = detector->detectFrame(img);
    evals.push_back(std::move(ev));
  }
  const EvalResult r = evaluate(evals, iouThreshold, scoreThreshold, apMode);
  JsonWriter w;
  w.beginObject()
      .key("type").string("eval")
      .key("model").string(detector->decoder().name)
      .key("images").integer(r.images)
      .key("groundTruths").integer(r.groundTruths)
      .key("detections").integer(r.detections)
      .key("iou").number(iouThreshold, 4)
      .key("threshold").number(scoreThreshold, 4)
      .key("apMode").string(apModeName(apMode))
      .key("ap").number(r.ap, 6)
      .key("precision").number(r.precision, 6)
      .key("recall").number(r.recall, 6)
      .key("truePositives").integer(r.truePositives)
      .key("falsePositives").integer(r.falsePositives);
  // Every mode on the same detections, each with its own matching, to compare them at a glance.
  w.key("apAll").beginObject();
  for (ApMode m : {ApMode::Voc2007, ApMode::Voc2010, ApMode::Tao, ApMode::TaoSample})
    w.key(apModeName(m)).number(evaluate(evals, iouThreshold, scoreThreshold, m).ap, 6);
  w.endObject().endObject();
  emitLine(w.str());
  return 0;
}

}  // namespace facefleet
