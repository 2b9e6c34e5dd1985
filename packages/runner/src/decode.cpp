#include "facefleet/decode.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "facefleet/gridbox.hpp"

namespace facefleet {
namespace {

std::string shapeText(const std::vector<int>& shape) {
  std::string s;
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? "x" : "") + std::to_string(shape[i]);
  return s.empty() ? "scalar" : s;
}

// Exact name first, then the DeepStream-style substring match.
const TensorView* findOutput(const std::vector<TensorView>& outputs, const std::string& exact,
                             const std::string& part) {
  for (const auto& t : outputs)
    if (t.name == exact) return &t;
  for (const auto& t : outputs)
    if (t.name.find(part) != std::string::npos) return &t;
  return nullptr;
}

}  // namespace

void decodeDetectNetV2(const std::vector<TensorView>& outputs, const NetworkInfo& net,
                       const DecodeOptions& options, Boxes& out) {
  const TensorView* bbox = findOutput(outputs, "output_bbox/BiasAdd", "bbox");
  const TensorView* cov = findOutput(outputs, "output_cov/Sigmoid", "cov");
  if (!bbox || !cov)
    throw std::runtime_error("detectnet_v2: model outputs lack a bbox and a cov tensor (need names "
                             "output_bbox/BiasAdd and output_cov/Sigmoid, or containing bbox/cov)");
  if (cov->shape.size() < 2)
    throw std::runtime_error("detectnet_v2: cov tensor " + cov->name + " has shape " + shapeText(cov->shape));
  const int gridH = cov->shape[cov->shape.size() - 2];
  const int gridW = cov->shape[cov->shape.size() - 1];
  const std::size_t plane = static_cast<std::size_t>(gridW) * gridH;
  if (gridW <= 0 || gridH <= 0 || cov->count() != plane || bbox->count() != 4 * plane)
    throw std::runtime_error("detectnet_v2: expected cov 1x" + std::to_string(gridH) + "x" +
                             std::to_string(gridW) + " and bbox 4x" + std::to_string(gridH) + "x" +
                             std::to_string(gridW) + ", got cov " + shapeText(cov->shape) + " and bbox " +
                             shapeText(bbox->shape) + " (one class only)");
  GridBoxParams p;
  p.threshold = options.threshold;
  p.clip = options.clip;
  decodeGridBox(bbox->data, cov->data, gridW, gridH, net.width, net.height, p, out);
}

void decodeBlazeFace(const std::vector<TensorView>& outputs, const NetworkInfo& net,
                     const DecodeOptions& options, Boxes& out) {
  struct Head {
    int rows, cells, anchors;
    const TensorView* scores = nullptr;
    const TensorView* boxes = nullptr;
  };
  // MediaPipe's SSD anchors for BlazeFace: two feature maps, anchors per cell 2 and 6, fixed size.
  Head heads[2] = {{512, 16, 2}, {384, 8, 6}};
  for (const auto& t : outputs) {
    const int last = t.shape.size() >= 2 ? t.shape.back() : 1;
    const int rows = static_cast<int>(t.count() / static_cast<std::size_t>(last > 0 ? last : 1));
    for (Head& h : heads) {
      if (rows != h.rows) continue;
      if (last == 1) h.scores = &t;
      else if (last >= 4) h.boxes = &t;
    }
  }
  for (const Head& h : heads)
    if (!h.scores || !h.boxes)
      throw std::runtime_error("blazeface: need scores " + std::to_string(h.rows) + "x1 and boxes " +
                               std::to_string(h.rows) + "x16 outputs; model outputs do not match");
  const float w = static_cast<float>(net.width), hgt = static_cast<float>(net.height);
  for (const Head& h : heads) {
    const int cols = h.boxes->shape.back();
    int row = 0;
    for (int y = 0; y < h.cells; ++y) {
      for (int x = 0; x < h.cells; ++x) {
        for (int a = 0; a < h.anchors; ++a, ++row) {
          // MediaPipe clips logits to ±100 before the sigmoid.
          const float logit = std::clamp(h.scores->data[row], -100.0f, 100.0f);
          const float score = 1.0f / (1.0f + std::exp(-logit));
          if (!(score >= options.threshold)) continue;
          const float* r = h.boxes->data + static_cast<std::size_t>(row) * cols;
          // Anchor centre ((x+0.5)/cells, (y+0.5)/cells); offsets and size in input pixels.
          const float cx = (x + 0.5f) / h.cells * w + r[0];
          const float cy = (y + 0.5f) / h.cells * hgt + r[1];
          const float bw = r[2], bh = r[3];
          if (!(bw > 0 && bh > 0)) continue;
          Box b;
          b.x1 = std::clamp(cx - bw * 0.5f, 0.0f, w);
          b.y1 = std::clamp(cy - bh * 0.5f, 0.0f, hgt);
          b.x2 = std::clamp(cx + bw * 0.5f, 0.0f, w);
          b.y2 = std::clamp(cy + bh * 0.5f, 0.0f, hgt);
          if (!(b.x2 > b.x1 && b.y2 > b.y1)) continue;
          b.conf = score;
          out.push_back(b);
        }
      }
    }
  }
}

Decoder Decoder::create(const std::string& name) {
  Decoder d;
  d.name = name;
  if (name == "detectnet_v2") {
    d.decode = decodeDetectNetV2;
    d.defaultInput.name = "input_1";
    d.defaultInput.width = 736;
    d.defaultInput.height = 416;
    d.defaultInput.layout = Layout::NCHW;
    d.defaultInput.netScaleFactor = 1.0f / 255.0f;
    d.defaultInput.rgb = true;
    d.defaultInput.letterbox = false;
    d.defaultThreshold = 0.2f;  // config_infer_primary_facenet.txt pre-cluster-threshold
    d.defaultOutputNames = {"output_bbox/BiasAdd", "output_cov/Sigmoid"};
    return d;
  }
  if (name == "blazeface") {
    d.decode = decodeBlazeFace;
    d.defaultInput.width = 256;
    d.defaultInput.height = 256;
    d.defaultInput.layout = Layout::NHWC;
    d.defaultInput.netScaleFactor = 1.0f / 127.5f;  // [0,255] -> [-1,1]
    d.defaultInput.offsets = {127.5f, 127.5f, 127.5f};
    d.defaultInput.rgb = true;
    d.defaultInput.letterbox = true;
    d.defaultThreshold = 0.5f;  // MediaPipe face detection's min_score_thresh
    return d;
  }
  throw std::invalid_argument("unknown decoder '" + name + "' (known: detectnet_v2, blazeface)");
}

std::string decoderUsage() {
  return "  --decoder detectnet_v2|blazeface  output decoder (default detectnet_v2)\n"
         "      detectnet_v2: FaceNet/DetectNet_v2 GridBox, input 3x416x736 RGB x1/255, plain resize\n"
         "      blazeface:    MediaPipe BlazeFace, NHWC input in [-1,1], letterboxed square\n";
}

}  // namespace facefleet
