#include "box_model_detector.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "lookout/core/error.h"

namespace lookout {
namespace {

constexpr int kYoloPad = 114;  // the gray YOLO's training letterboxes with

std::string prefix(const Options& options) {
  return options.context().empty() ? std::string() : options.context() + ": ";
}

std::string trim(const std::string& text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string::npos) return "";
  return text.substr(first, text.find_last_not_of(" \t") - first + 1);
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> items;
  std::size_t start = 0;
  while (start <= text.size()) {
    const auto comma = text.find(',', start);
    const std::string item =
        trim(text.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (!item.empty()) items.push_back(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return items;
}

// An output as rows x columns if it is 1 x A x B (or, with `batchless`, A x B); nullopt for any
// other shape. YOLO exports always keep the batch dimension; some SSD exports drop it.
struct Table {
  int rows = 0;
  int cols = 0;
};
std::optional<Table> as_table(const cv::Mat& out, bool batchless = false) {
  if (out.type() != CV_32F) return std::nullopt;
  if (out.dims == 3 && out.size[0] == 1) return Table{out.size[1], out.size[2]};
  if (batchless && out.dims == 2) return Table{out.size[0], out.size[1]};
  return std::nullopt;
}

bool contains_box(const std::string& name) {
  std::string lower = name;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return lower.find("box") != std::string::npos;
}

// Options every family shares; `family` is "yolo" or "ssd".
BoxModelParams parse_common(Options& options, const std::string& family, cv::Size default_size,
                            float default_score) {
  BoxModelParams params;
  params.score_threshold = default_score;
  if (!options.has("model")) {
    throw ConfigError(prefix(options) + "option 'model' is required: the path of the " + family +
                      " model's .onnx file");
  }
  const std::string model = options.get_string("model", "");
  const std::string labels = options.get_string("labels", "");
  params.input_size = options.get_size("input_size", default_size, 16, 4096);
  params.score_threshold =
      static_cast<float>(options.get_double("score_threshold", params.score_threshold, 0.0, 1.0));
  params.nms_threshold =
      static_cast<float>(options.get_double("nms_threshold", params.nms_threshold, 0.0, 1.0));
  if (options.has("labels")) {
    if (labels.empty())
      options.reject("labels", "the path of a text file with one class name a line");
    params.labels = read_labels(labels, prefix(options));
  }
  if (model.empty()) options.reject("model", "the path of an .onnx file");
  try {
    params.bytes =
        std::make_shared<const ModelBytes>(model, family, "check the path in option 'model'");
  } catch (const ConfigError& error) {
    throw ConfigError(prefix(options) + error.what());
  }
  return params;
}

// Class ids named by option `classes` (labels, or numbers without a labels file). `classes` is the
// model's class count, 0 if the layout does not tell it.
std::set<int> parse_classes(Options& options, const std::vector<std::string>& labels, int classes) {
  std::set<int> keep;
  if (!options.has("classes")) return keep;
  const auto names = split_list(options.get_string("classes", ""));
  if (names.empty()) options.reject("classes", "a list of class names such as [person, car]");
  for (const auto& name : names) {
    if (!labels.empty()) {
      bool found = false;
      for (int id = 0; id < static_cast<int>(labels.size()); ++id) {
        if (labels[static_cast<std::size_t>(id)] == name) {
          keep.insert(id);
          found = true;
        }
      }
      if (!found) {
        std::string expected = "names from the labels file; '" + name + "' is not one";
        if (const auto suggestion = nearest(name, labels))
          expected += "; did you mean '" + *suggestion + "'?";
        options.reject("classes", expected);
      }
      continue;
    }
    const bool number =
        !name.empty() && name.size() < 7 &&
        std::all_of(name.begin(), name.end(), [](unsigned char c) { return std::isdigit(c); });
    const int id = number ? std::stoi(name) : -1;
    if (!number || (classes > 0 && id >= classes)) {
      options.reject("classes", "class numbers" +
                                    (classes > 0 ? " from 0 to " + std::to_string(classes - 1)
                                                 : std::string()) +
                                    " (or set 'labels' to a labels file to use names)");
    }
    keep.insert(id);
  }
  return keep;
}

// Runs the model once on a blank frame and returns its outputs; ConfigError if it fails.
std::vector<cv::Mat> probe(const BoxModelParams& params, cv::dnn::Net& net,
                           std::vector<std::string>& names) {
  const cv::Size size = params.input_size;
  const cv::Mat blob =
      cv::dnn::blobFromImage(cv::Mat(size, CV_8UC3, cv::Scalar::all(0)), params.scale, cv::Size(),
                             cv::Scalar::all(params.mean), params.rgb);
  return probe_forward(net, blob, *params.bytes,
                       "1x3x" + std::to_string(size.height) + "x" + std::to_string(size.width),
                       "set option 'input_size' (now " + std::to_string(size.width) + "x" +
                           std::to_string(size.height) +
                           ") to the size the model was exported for, and check that it takes one "
                           "3-channel image",
                       names);
}

std::string layout_error(const BoxModelParams& params, const std::string& family,
                         const std::string& expected, const std::vector<std::string>& names,
                         const std::vector<cv::Mat>& outputs) {
  return family + " model '" + params.bytes->path() +
         "' does not have the expected layout: expected " + expected +
         "; found outputs: " + describe_outputs(names, outputs);
}

// Loads the model and runs it once on a blank input: its output names go to `names`, its outputs
// are returned. A model that does not load or run is a ConfigError naming the stage.
std::vector<cv::Mat> load_and_probe(const BoxModelParams& params, const Options& options,
                                    std::vector<std::string>& names) {
  QuietOpenCvLog quiet;
  try {
    cv::dnn::Net net = params.bytes->load();
    return probe(params, net, names);
  } catch (const ConfigError& error) {
    throw ConfigError(prefix(options) + error.what());
  }
}

}  // namespace

std::vector<std::string> yolo_option_keys() {
  return {"model", "labels", "input_size", "score_threshold", "nms_threshold", "classes", "layout"};
}

std::vector<std::string> ssd_option_keys() {
  return {"model",   "labels", "input_size", "score_threshold", "nms_threshold",
          "classes", "layout", "mean",       "scale",           "rgb"};
}

BoxModelParams parse_yolo(Options& options) {
  const std::string layout = options.get_string("layout", "auto");
  if (layout != "auto" && layout != "v5" && layout != "v8")
    options.reject("layout", "auto, v5 or v8");
  BoxModelParams params = parse_common(options, "yolo", {640, 640}, 0.25F);
  params.mean = 0.0;
  params.scale = 1.0 / 255.0;
  params.rgb = true;

  const int labels = static_cast<int>(params.labels.size());
  std::vector<std::string> names;
  const std::vector<cv::Mat> outputs = load_and_probe(params, options, names);

  // The first output that fits the layout asked for (with a labels file, its class count too).
  int classes = 0;
  std::string mismatch;
  for (std::size_t i = 0; i < outputs.size() && params.outputs.empty(); ++i) {
    const auto table = as_table(outputs[i]);
    if (!table) continue;
    const bool v5 = table->cols >= 6;
    const bool v8 = table->rows >= 5;
    const bool v5_labels = v5 && (labels == 0 || table->cols == 5 + labels);
    const bool v8_labels = v8 && (labels == 0 || table->rows == 4 + labels);
    bool use_v5 = false;
    if (layout == "v5") {
      use_v5 = true;
    } else if (layout == "v8") {
      use_v5 = false;
    } else if (v5_labels != v8_labels) {
      use_v5 = v5_labels;
    } else {
      use_v5 = table->rows > table->cols;
    }
    const bool fits = use_v5 ? v5 : v8;
    const bool fits_labels = use_v5 ? v5_labels : v8_labels;
    if (fits && !fits_labels && mismatch.empty()) {
      const int model_classes = use_v5 ? table->cols - 5 : table->rows - 4;
      mismatch = "the labels file has " + std::to_string(labels) + " classes but output '" +
                 names[i] + "' (" + shape_text(outputs[i]) + ", " + (use_v5 ? "v5" : "v8") +
                 ") has " + std::to_string(model_classes);
    }
    if (!fits_labels) continue;
    params.layout = use_v5 ? BoxLayout::kYoloV5 : BoxLayout::kYoloV8;
    params.outputs = {names[i]};
    classes = use_v5 ? table->cols - 5 : table->rows - 4;
  }
  if (params.outputs.empty()) {
    std::string expected;
    if (layout != "v8") expected += "1 x N x (5+C) (v5: cx, cy, w, h, objectness, C class scores)";
    if (layout == "auto") expected += " or ";
    if (layout != "v5") expected += "1 x (4+C) x N (v8: cx, cy, w, h, C class scores)";
    if (labels > 0) expected += ", C = " + std::to_string(labels) + " as in the labels file";
    std::string message = prefix(options) + layout_error(params, "yolo", expected, names, outputs);
    if (!mismatch.empty()) message += " (" + mismatch + ")";
    throw ConfigError(message);
  }
  params.keep = parse_classes(options, params.labels, classes);
  return params;
}

BoxModelParams parse_ssd(Options& options) {
  const std::string layout = options.get_string("layout", "auto");
  if (layout != "auto" && layout != "detection_output" && layout != "boxes_scores") {
    options.reject("layout", "auto, detection_output or boxes_scores");
  }
  BoxModelParams params = parse_common(options, "ssd", {300, 300}, 0.5F);
  params.mean = options.get_double("mean", 127.5, 0.0, 255.0);
  params.scale = options.get_double("scale", 1.0 / 127.5, 1e-6, 1e6);
  params.rgb = options.get_bool("rgb", true);

  std::vector<std::string> names;
  const std::vector<cv::Mat> outputs = load_and_probe(params, options, names);

  int classes = 0;
  if (layout != "boxes_scores") {
    for (std::size_t i = 0; i < outputs.size(); ++i) {
      const cv::Mat& out = outputs[i];
      const bool four = out.dims == 4 && out.size[0] == 1 && out.size[1] == 1 && out.size[3] == 7;
      const auto table = as_table(out, true);
      if (out.type() == CV_32F && (four || (table && table->cols == 7))) {
        params.layout = BoxLayout::kSsdDetectionOutput;
        params.outputs = {names[i]};
        break;
      }
    }
  }
  if (params.outputs.empty() && layout != "detection_output" && outputs.size() == 2) {
    const auto first = as_table(outputs[0], true);
    const auto second = as_table(outputs[1], true);
    if (first && second && first->rows == second->rows) {
      std::optional<std::size_t> boxes;
      if (first->cols == 4 && second->cols == 4) {
        boxes = contains_box(names[1]) && !contains_box(names[0]) ? 1 : 0;
      } else if (first->cols == 4) {
        boxes = 0;
      } else if (second->cols == 4) {
        boxes = 1;
      }
      const std::size_t scores = boxes ? 1 - *boxes : 0;
      if (boxes && as_table(outputs[scores], true)->cols >= 2) {
        params.layout = BoxLayout::kSsdBoxesScores;
        params.outputs = {names[*boxes], names[scores]};
        classes = as_table(outputs[scores], true)->cols;
      }
    }
  }
  if (params.outputs.empty()) {
    std::string expected;
    if (layout != "boxes_scores") expected += "one output 1 x 1 x N x 7 (detection_output)";
    if (layout == "auto") expected += " or ";
    if (layout != "detection_output") {
      expected += "two outputs, 1 x N x 4 boxes and 1 x N x C scores (boxes_scores)";
    }
    throw ConfigError(prefix(options) + layout_error(params, "ssd", expected, names, outputs));
  }
  params.keep = parse_classes(options, params.labels, classes);
  return params;
}

BoxModelDetector::BoxModelDetector(BoxModelParams params)
    : params_(std::move(params)), net_(params_.bytes->load()) {}

std::vector<Candidate> BoxModelDetector::decode() const {
  std::vector<Candidate> candidates;
  const float threshold = params_.score_threshold;
  const float width = static_cast<float>(params_.input_size.width);
  const float height = static_cast<float>(params_.input_size.height);
  auto keep = [&](int class_id) {
    return params_.keep.empty() || params_.keep.count(class_id) != 0;
  };
  // Negated comparisons, so that NaN, which a broken model can produce, is rejected as well.
  auto add = [&](cv::Rect2f box, int class_id, float score) {
    if (!(score >= threshold) || !(box.width > 0.0F) || !(box.height > 0.0F) ||
        !std::isfinite(box.x) || !std::isfinite(box.y) || !std::isfinite(box.width) ||
        !std::isfinite(box.height) || !keep(class_id)) {
      return;
    }
    candidates.push_back({box, class_id, score});
  };

  switch (params_.layout) {
    case BoxLayout::kYoloV5:
    case BoxLayout::kYoloV8: {
      const bool v5 = params_.layout == BoxLayout::kYoloV5;
      const Table table = *as_table(outputs_[0]);
      const float* data = outputs_[0].ptr<float>();
      // v5 rows are boxes; v8 is transposed, its columns are boxes.
      const int boxes = v5 ? table.rows : table.cols;
      const int values = v5 ? table.cols : table.rows;
      const int first_class = v5 ? 5 : 4;
      auto at = [&](int box, int value) {
        return v5 ? data[static_cast<std::ptrdiff_t>(box) * values + value]
                  : data[static_cast<std::ptrdiff_t>(value) * boxes + box];
      };
      for (int i = 0; i < boxes; ++i) {
        const float objectness = v5 ? at(i, 4) : 1.0F;
        if (!(objectness >= threshold)) continue;
        int best = first_class;
        for (int v = first_class + 1; v < values; ++v) {
          if (at(i, v) > at(i, best)) best = v;
        }
        const float score = objectness * at(i, best);
        const float w = at(i, 2);
        const float h = at(i, 3);
        add(cv::Rect2f(at(i, 0) - w / 2.0F, at(i, 1) - h / 2.0F, w, h), best - first_class, score);
      }
      break;
    }
    case BoxLayout::kSsdDetectionOutput: {
      const cv::Mat& out = outputs_[0];
      const int rows = static_cast<int>(out.total() / 7);
      const float* data = out.ptr<float>();
      for (int i = 0; i < rows; ++i) {
        const float* row = data + static_cast<std::ptrdiff_t>(i) * 7;
        // The class is a float in the tensor; anything but a plausible class number is garbage.
        if (row[0] < 0.0F || !(row[1] >= 0.0F && row[1] < 1e6F)) continue;
        add(cv::Rect2f(row[3] * width, row[4] * height, (row[5] - row[3]) * width,
                       (row[6] - row[4]) * height),
            static_cast<int>(row[1]), row[2]);
      }
      break;
    }
    case BoxLayout::kSsdBoxesScores: {
      const Table table = *as_table(outputs_[1], true);
      const float* boxes = outputs_[0].ptr<float>();
      const float* scores = outputs_[1].ptr<float>();
      for (int i = 0; i < table.rows; ++i) {
        const float* row = scores + static_cast<std::ptrdiff_t>(i) * table.cols;
        int best = 1;  // class 0 is the background
        for (int c = 2; c < table.cols; ++c) {
          if (row[c] > row[best]) best = c;
        }
        const float* box = boxes + static_cast<std::ptrdiff_t>(i) * 4;
        add(cv::Rect2f(box[0] * width, box[1] * height, (box[2] - box[0]) * width,
                       (box[3] - box[1]) * height),
            best, row[best]);
      }
      break;
    }
  }
  return candidates;
}

std::vector<Detection> BoxModelDetector::detect(const cv::Mat& image) {
  std::vector<Detection> detections;
  if (image.empty()) return detections;

  const cv::Mat bgr = as_bgr(image, bgr_);
  const Letterbox letterbox = Letterbox::fit(bgr.size(), params_.input_size);
  const bool yolo = params_.layout == BoxLayout::kYoloV5 || params_.layout == BoxLayout::kYoloV8;
  letterbox.apply(bgr, boxed_, cv::Scalar::all(yolo ? kYoloPad : params_.mean));
  cv::dnn::blobFromImage(boxed_, blob_, params_.scale, cv::Size(), cv::Scalar::all(params_.mean),
                         params_.rgb);
  net_.setInput(blob_);
  net_.forward(outputs_, params_.outputs);

  const std::vector<Candidate> candidates = decode();
  for (const int index : class_wise_nms(candidates, params_.nms_threshold)) {
    const Candidate& candidate = candidates[static_cast<std::size_t>(index)];
    Detection detection;
    detection.box = letterbox.to_frame(candidate.box);
    if (detection.box.empty()) continue;
    const auto id = static_cast<std::size_t>(candidate.class_id);
    detection.label =
        candidate.class_id >= 0 && id < params_.labels.size() && !params_.labels[id].empty()
            ? params_.labels[id]
            : std::to_string(candidate.class_id);
    detection.score = candidate.score;
    detections.push_back(std::move(detection));
  }
  sort_by_position(detections);
  return detections;
}

}  // namespace lookout
