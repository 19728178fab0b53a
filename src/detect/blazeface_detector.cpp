#include "blazeface_detector.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <numeric>
#include <opencv2/imgproc.hpp>
#include <optional>

#include "lookout/core/error.h"

namespace lookout {
namespace {

constexpr int kRegressors = 16;  // box centre x, y, width, height, then six keypoints (x, y)
constexpr int kKeypoints = 6;

struct KnownModel {
  const char* name;
  const char* file;
  int size;
};
constexpr KnownModel kFront{"front", "face_detection_front_128x128_barracuda.onnx", 128};
constexpr KnownModel kBack{"back", "face_detection_back_256x256_barracuda.onnx", 256};

std::vector<int> strides_for(int size) {
  return size == kFront.size ? std::vector<int>{8, 16, 16, 16} : std::vector<int>{16, 32, 32, 32};
}

// Anchors in each of the two grids, in output order.
std::vector<int> grid_counts(int size) {
  std::vector<int> counts;
  const auto strides = strides_for(size);
  for (std::size_t layer = 0; layer < strides.size();) {
    std::size_t same = layer;
    while (same < strides.size() && strides[same] == strides[layer]) ++same;
    const int cells = (size + strides[layer] - 1) / strides[layer];
    counts.push_back(cells * cells * 2 * static_cast<int>(same - layer));
    layer = same;
  }
  return counts;
}

float iou(const cv::Rect2f& a, const cv::Rect2f& b) {
  const float inter = (a & b).area();
  const float uni = a.area() + b.area() - inter;
  return uni > 0.0F ? inter / uni : 0.0F;
}

std::string prefix(const Options& options) {
  return options.context().empty() ? std::string() : options.context() + ": ";
}

std::string expected_outputs(int size) {
  const auto counts = grid_counts(size);
  return "1x" + std::to_string(counts[0]) + "x1, 1x" + std::to_string(counts[1]) + "x1, 1x" +
         std::to_string(counts[0]) + "x" + std::to_string(kRegressors) + " and 1x" +
         std::to_string(counts[1]) + "x" + std::to_string(kRegressors);
}

// The output names in decoding order if `outputs` are BlazeFace's for an input of `size`.
std::optional<std::vector<std::string>> match_outputs(int size,
                                                      const std::vector<std::string>& names,
                                                      const std::vector<cv::Mat>& outputs) {
  if (outputs.size() != 4) return std::nullopt;
  const auto counts = grid_counts(size);
  std::vector<std::string> ordered(4);
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    const cv::Mat& out = outputs[i];
    if (out.dims != 3 || out.size[0] != 1 || out.type() != CV_32F) return std::nullopt;
    const int anchors = out.size[1];
    const int values = out.size[2];
    const int grid = anchors == counts[0] ? 0 : anchors == counts[1] ? 1 : -1;
    const int kind = values == 1 ? 0 : values == kRegressors ? 1 : -1;
    if (grid < 0 || kind < 0) return std::nullopt;
    std::string& slot = ordered[static_cast<std::size_t>(kind * 2 + grid)];
    if (!slot.empty()) return std::nullopt;
    slot = names[i];
  }
  return ordered;
}

BlazeFaceModel load_model(const std::string& path, const std::vector<int>& sizes,
                          const std::string& missing_hint) {
  BlazeFaceModel model;
  model.bytes = std::make_shared<const ModelBytes>(path, "blazeface", missing_hint);
  QuietOpenCvLog quiet;
  std::string found;
  for (const int size : sizes) {
    cv::dnn::Net net = model.bytes->load();
    const std::string input_text = "1x" + std::to_string(size) + "x" + std::to_string(size) + "x3";
    std::vector<std::string> names;
    std::vector<cv::Mat> outputs;
    try {
      const int shape[] = {1, size, size, 3};
      outputs = probe_forward(net, cv::Mat(4, shape, CV_32F, cv::Scalar(0)), *model.bytes,
                              input_text, "", names);
    } catch (const ConfigError&) {
      found += (found.empty() ? "" : "; ") + std::string("it does not run on ") + input_text;
      continue;
    }
    if (auto ordered = match_outputs(size, names, outputs)) {
      model.size = size;
      model.anchors = blazeface_anchors(size, strides_for(size));
      model.outputs = std::move(*ordered);
      return model;
    }
    found += (found.empty() ? "" : "; ") + std::string("on ") + input_text + " it gives " +
             describe_outputs(names, outputs);
  }
  std::string expected;
  for (const int size : sizes) {
    expected += (expected.empty() ? "" : ", or ") + expected_outputs(size) + " for a 1x" +
                std::to_string(size) + "x" + std::to_string(size) + "x3 input";
  }
  throw ConfigError("blazeface model '" + path +
                    "' does not have BlazeFace's layout: expected four outputs (any order), " +
                    expected + "; found: " + found);
}

}  // namespace

std::string models_dir() {
  const char* overridden = std::getenv("LOOKOUT_MODELS_DIR");
  if (overridden != nullptr && *overridden != '\0') return overridden;
  return LOOKOUT_MODELS_DIR;
}

std::vector<Anchor> blazeface_anchors(int size, const std::vector<int>& strides) {
  std::vector<Anchor> anchors;
  for (std::size_t layer = 0; layer < strides.size();) {
    std::size_t same = layer;
    while (same < strides.size() && strides[same] == strides[layer]) ++same;
    // Each layer gives two anchors per cell (aspect ratio 1 and its interpolated scale); with a
    // fixed anchor size they differ only in which output row they feed.
    const int per_cell = 2 * static_cast<int>(same - layer);
    const int cells = (size + strides[layer] - 1) / strides[layer];
    for (int y = 0; y < cells; ++y) {
      for (int x = 0; x < cells; ++x) {
        for (int k = 0; k < per_cell; ++k) {
          anchors.push_back({(static_cast<float>(x) + 0.5F) / static_cast<float>(cells),
                             (static_cast<float>(y) + 0.5F) / static_cast<float>(cells)});
        }
      }
    }
    layer = same;
  }
  return anchors;
}

std::vector<FaceCandidate> weighted_nms(std::vector<FaceCandidate> faces, float threshold) {
  std::vector<std::size_t> remaining(faces.size());
  std::iota(remaining.begin(), remaining.end(), 0);
  std::stable_sort(remaining.begin(), remaining.end(),
                   [&](std::size_t a, std::size_t b) { return faces[a].score > faces[b].score; });
  std::vector<FaceCandidate> merged;
  std::vector<std::size_t> rest;
  while (!remaining.empty()) {
    const FaceCandidate& best = faces[remaining.front()];
    FaceCandidate sum;
    sum.keypoints.assign(best.keypoints.size(), cv::Point2f());
    double weight = 0.0;
    double x0 = 0.0, y0 = 0.0, x1 = 0.0, y1 = 0.0;
    rest.clear();
    for (const std::size_t index : remaining) {
      const FaceCandidate& face = faces[index];
      if (index != remaining.front() && iou(best.box, face.box) <= threshold) {
        rest.push_back(index);
        continue;
      }
      weight += face.score;
      x0 += static_cast<double>(face.score) * face.box.x;
      y0 += static_cast<double>(face.score) * face.box.y;
      x1 += static_cast<double>(face.score) * (face.box.x + face.box.width);
      y1 += static_cast<double>(face.score) * (face.box.y + face.box.height);
      for (std::size_t k = 0; k < sum.keypoints.size() && k < face.keypoints.size(); ++k) {
        sum.keypoints[k] += face.keypoints[k] * face.score;
      }
    }
    if (weight > 0.0) {
      sum.box = cv::Rect2f(static_cast<float>(x0 / weight), static_cast<float>(y0 / weight),
                           static_cast<float>((x1 - x0) / weight),
                           static_cast<float>((y1 - y0) / weight));
      for (auto& point : sum.keypoints) point /= static_cast<float>(weight);
    } else {
      sum = best;
    }
    sum.score = best.score;
    merged.push_back(std::move(sum));
    remaining.swap(rest);
  }
  return merged;
}

BlazeFaceDetector::BlazeFaceDetector(BlazeFaceParams params)
    : params_(std::move(params)), net_(params_.model.bytes->load()) {}

std::vector<Detection> BlazeFaceDetector::detect(const cv::Mat& image) {
  std::vector<Detection> detections;
  if (image.empty()) return detections;
  const int size = params_.model.size;

  const cv::Mat bgr = as_bgr(image, bgr_);
  const Letterbox letterbox = Letterbox::fit(bgr.size(), {size, size});
  letterbox.apply(bgr, boxed_, cv::Scalar::all(0));
  cv::cvtColor(boxed_, rgb_, cv::COLOR_BGR2RGB);
  // Pixels to -1..1, laid out as height x width x channels: already the model's NHWC input.
  rgb_.convertTo(input_, CV_32F, 1.0 / 127.5, -1.0);
  const int shape[] = {1, size, size, 3};
  net_.setInput(cv::Mat(4, shape, CV_32F, input_.ptr<float>()));
  net_.forward(outputs_, params_.model.outputs);

  const int first = outputs_[0].size[1];
  const auto& anchors = params_.model.anchors;
  std::vector<FaceCandidate> faces;
  for (std::size_t i = 0; i < anchors.size(); ++i) {
    const bool in_first = static_cast<int>(i) < first;
    const int row = in_first ? static_cast<int>(i) : static_cast<int>(i) - first;
    const float logit = outputs_[in_first ? 0 : 1].ptr<float>()[row];
    const float score = static_cast<float>(1.0 / (1.0 + std::exp(-static_cast<double>(logit))));
    if (!(score >= params_.score_threshold)) continue;  // NaN too
    const float* r =
        outputs_[in_first ? 2 : 3].ptr<float>() + static_cast<std::ptrdiff_t>(row) * kRegressors;
    // Regressors are offsets in network pixels from the anchor's centre (anchor size 1 x the
    // input).
    const float ax = anchors[i].x * static_cast<float>(size);
    const float ay = anchors[i].y * static_cast<float>(size);
    FaceCandidate face;
    face.score = score;
    face.box = cv::Rect2f(ax + r[0] - r[2] / 2.0F, ay + r[1] - r[3] / 2.0F, r[2], r[3]);
    if (!std::isfinite(face.box.x + face.box.y + face.box.width + face.box.height) ||
        !(face.box.width > 0.0F) || !(face.box.height > 0.0F)) {
      continue;
    }
    if (params_.keypoints) {
      for (int k = 0; k < kKeypoints; ++k)
        face.keypoints.emplace_back(ax + r[4 + 2 * k], ay + r[5 + 2 * k]);
    }
    faces.push_back(std::move(face));
  }

  for (auto& face : weighted_nms(std::move(faces), params_.nms_threshold)) {
    Detection detection;
    detection.box = letterbox.to_frame(face.box);
    if (detection.box.empty()) continue;
    detection.label = "face";
    detection.score = face.score;
    for (const auto& point : face.keypoints)
      detection.keypoints.push_back(letterbox.to_frame(point));
    detections.push_back(std::move(detection));
  }
  sort_by_position(detections);
  return detections;
}

std::vector<std::string> blazeface_option_keys() {
  return {"model", "score_threshold", "nms_threshold", "keypoints"};
}

BlazeFaceParams parse_blazeface(Options& options) {
  BlazeFaceParams params;
  const std::string model = options.get_string("model", kBack.name);
  params.score_threshold =
      static_cast<float>(options.get_double("score_threshold", params.score_threshold, 0.0, 1.0));
  params.nms_threshold =
      static_cast<float>(options.get_double("nms_threshold", params.nms_threshold, 0.0, 1.0));
  params.keypoints = options.get_bool("keypoints", params.keypoints);
  if (model.empty()) options.reject("model", "front, back or the path of an .onnx file");

  try {
    if (model == kFront.name || model == kBack.name) {
      const KnownModel& known = model == kFront.name ? kFront : kBack;
      params.model = load_model(models_dir() + "/" + known.file, {known.size},
                                "run models/fetch to download the BlazeFace models (or set "
                                "LOOKOUT_MODELS_DIR to the folder that holds them)");
    } else {
      params.model = load_model(model, {kFront.size, kBack.size},
                                "set option 'model' to front, back or the path of an .onnx file");
    }
  } catch (const ConfigError& error) {
    throw ConfigError(prefix(options) + error.what());
  }
  return params;
}

}  // namespace lookout
