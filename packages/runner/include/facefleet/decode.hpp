// Decoders behind one signature, chosen by name (DeepStream's parse-bbox-func-name idea).
// Pure code: raw float tensors in, candidate boxes in network-input pixels out.
#pragma once

#include <string>
#include <vector>

#include "facefleet/box.hpp"
#include "facefleet/gridbox.hpp"
#include "facefleet/tensor.hpp"

namespace facefleet {

struct NetworkInfo {
  int width = 0;
  int height = 0;
};

struct DecodeOptions {
  float threshold = 0.2f;  // pre-cluster threshold (coverage for detectnet_v2, sigmoid score for blazeface)
  BoxClip clip = BoxClip::Tao;  // detectnet_v2 only (BlazeFace clips to [0, W] as MediaPipe does)
};

// Appends candidates (network-input pixels, unclustered) to `out`. Throws std::runtime_error when
// the outputs do not have the tensors or shapes the decoder needs.
using DecodeFn = void (*)(const std::vector<TensorView>& outputs, const NetworkInfo& net,
                          const DecodeOptions& options, Boxes& out);

struct Decoder {
  std::string name;
  DecodeFn decode = nullptr;
  InputSpec defaultInput;                       // preprocessing the model was trained with
  float defaultThreshold = 0.2f;                // used when no pre-cluster-threshold is configured
  std::vector<std::string> defaultOutputNames;  // empty: all of the model's outputs

  // Throws std::invalid_argument naming the known decoders.
  static Decoder create(const std::string& name);
};

std::string decoderUsage();

// detectnet_v2: outputs named output_bbox/BiasAdd + output_cov/Sigmoid, or any whose name contains
// "bbox" / "cov" (as DeepStream matches them); shapes [1,]4×H×W and [1,]1×H×W.
void decodeDetectNetV2(const std::vector<TensorView>& outputs, const NetworkInfo& net,
                       const DecodeOptions& options, Boxes& out);

// blazeface: MediaPipe BlazeFace heads, recognised by shape: scores N×1 and boxes N×16 with
// N = 512 (16×16 cells, 2 anchors) or 384 (8×8 cells, 6 anchors).
void decodeBlazeFace(const std::vector<TensorView>& outputs, const NetworkInfo& net,
                     const DecodeOptions& options, Boxes& out);

}  // namespace facefleet
