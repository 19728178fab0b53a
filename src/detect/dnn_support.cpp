#include "dnn_support.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <opencv2/core/utils/logger.hpp>
#include <opencv2/imgproc.hpp>

#include "lookout/core/error.h"

namespace lookout {
namespace {

// OpenCV's exception text spans lines (file, function, assertion); its first line is enough.
std::string first_line(const std::string& text) {
  std::string line = text.substr(0, text.find('\n'));
  while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
  return line;
}

std::string opencv_reason(const cv::Exception& error) {
  return error.err.empty() ? first_line(error.what()) : first_line(error.err);
}

}  // namespace

ModelBytes::ModelBytes(std::string path, const std::string& what, const std::string& missing_hint)
    : path_(std::move(path)), what_(what) {
  std::error_code error;
  if (!std::filesystem::is_regular_file(path_, error)) {
    throw ConfigError(what_ + " model '" + path_ + "' does not exist" +
                      (missing_hint.empty() ? "" : "; " + missing_hint));
  }
  std::ifstream file(path_, std::ios::binary);
  auto bytes = std::make_shared<std::vector<uchar>>(std::istreambuf_iterator<char>(file),
                                                    std::istreambuf_iterator<char>());
  if (!file.good() && !file.eof()) {
    throw ConfigError(what_ + " model '" + path_ + "' cannot be read; check its permissions");
  }
  bytes_ = std::move(bytes);
}

cv::dnn::Net ModelBytes::load() const {
  cv::dnn::Net net;
  try {
    net = cv::dnn::readNetFromONNX(*bytes_);
  } catch (const cv::Exception& error) {
    throw ConfigError(what_ + " model '" + path_ + "' is not a valid ONNX model (" +
                      opencv_reason(error) + "); replace it with a complete .onnx export");
  }
  if (net.empty()) {
    throw ConfigError(what_ + " model '" + path_ +
                      "' holds no network; replace it with a complete .onnx export");
  }
  net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
  net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
  return net;
}

QuietOpenCvLog::QuietOpenCvLog()
    : previous_(
          static_cast<int>(cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_SILENT))) {
}

QuietOpenCvLog::~QuietOpenCvLog() {
  cv::utils::logging::setLogLevel(static_cast<cv::utils::logging::LogLevel>(previous_));
}

std::string shape_text(const cv::Mat& mat) {
  std::string text;
  for (int d = 0; d < mat.dims; ++d) text += (d ? "x" : "") + std::to_string(mat.size[d]);
  return text.empty() ? "(empty)" : text;
}

std::string describe_outputs(const std::vector<std::string>& names,
                             const std::vector<cv::Mat>& outputs) {
  std::string text;
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    text += (i ? ", " : "") + (i < names.size() ? names[i] + " " : std::string()) +
            shape_text(outputs[i]);
  }
  return text.empty() ? "no outputs" : text;
}

std::vector<cv::Mat> probe_forward(cv::dnn::Net& net, const cv::Mat& input, const ModelBytes& model,
                                   const std::string& input_text, const std::string& hint,
                                   std::vector<std::string>& names) {
  std::vector<cv::Mat> outputs;
  try {
    names = net.getUnconnectedOutLayersNames();
    net.setInput(input);
    net.forward(outputs, names);
  } catch (const cv::Exception& error) {
    throw ConfigError(model.what() + " model '" + model.path() + "' does not run on a " +
                      input_text + " input (" + opencv_reason(error) + ")" +
                      (hint.empty() ? "" : "; " + hint));
  }
  return outputs;
}

Letterbox Letterbox::fit(cv::Size frame, cv::Size network) {
  Letterbox box;
  box.frame = frame;
  box.network = network;
  const double scale = std::min(static_cast<double>(network.width) / frame.width,
                                static_cast<double>(network.height) / frame.height);
  auto scaled = [scale](int length, int limit) {
    return std::clamp(static_cast<int>(std::lround(length * scale)), 1, limit);
  };
  box.resized = {scaled(frame.width, network.width), scaled(frame.height, network.height)};
  box.offset = {(network.width - box.resized.width) / 2, (network.height - box.resized.height) / 2};
  return box;
}

void Letterbox::apply(const cv::Mat& frame_image, cv::Mat& out, const cv::Scalar& pad) const {
  out.create(network, frame_image.type());
  out.setTo(pad);
  cv::Mat inside = out(cv::Rect(offset, resized));
  if (resized == frame_image.size()) {
    frame_image.copyTo(inside);
    return;
  }
  const bool shrinking = resized.width < frame_image.cols;
  // `inside` already has the target size and type, so resize writes into `out` in place.
  cv::resize(frame_image, inside, resized, 0, 0, shrinking ? cv::INTER_AREA : cv::INTER_LINEAR);
}

cv::Point2d Letterbox::to_frame_exact(cv::Point2d point) const {
  const double sx = static_cast<double>(frame.width) / resized.width;
  const double sy = static_cast<double>(frame.height) / resized.height;
  return {(point.x - offset.x) * sx, (point.y - offset.y) * sy};
}

cv::Point2f Letterbox::to_frame(cv::Point2f point) const {
  const cv::Point2d mapped = to_frame_exact(point);
  return {static_cast<float>(mapped.x), static_cast<float>(mapped.y)};
}

cv::Rect Letterbox::to_frame(const cv::Rect2f& box) const {
  const cv::Point2d top_left = to_frame_exact(cv::Point2d(box.x, box.y));
  const cv::Point2d bottom_right = to_frame_exact(
      cv::Point2d(static_cast<double>(box.x) + box.width, static_cast<double>(box.y) + box.height));
  const int x0 = static_cast<int>(std::lround(top_left.x));
  const int y0 = static_cast<int>(std::lround(top_left.y));
  const int x1 = static_cast<int>(std::lround(bottom_right.x));
  const int y1 = static_cast<int>(std::lround(bottom_right.y));
  return cv::Rect(x0, y0, x1 - x0, y1 - y0) & cv::Rect(0, 0, frame.width, frame.height);
}

cv::Mat as_bgr(const cv::Mat& image, cv::Mat& scratch) {
  if (image.channels() == 1) {
    cv::cvtColor(image, scratch, cv::COLOR_GRAY2BGR);
    return scratch;
  }
  if (image.channels() == 4) {
    cv::cvtColor(image, scratch, cv::COLOR_BGRA2BGR);
    return scratch;
  }
  return image;
}

std::vector<std::string> read_labels(const std::string& path, const std::string& context) {
  std::ifstream file(path);
  if (!file) {
    throw ConfigError(context + "labels file '" + path +
                      "' cannot be read; give a text file with one class name a line");
  }
  std::vector<std::string> labels;
  std::string line;
  while (std::getline(file, line)) {
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
    labels.push_back(line);
  }
  while (!labels.empty() && labels.back().empty()) labels.pop_back();
  if (labels.empty()) {
    throw ConfigError(context + "labels file '" + path +
                      "' is empty; give a text file with one class name a line");
  }
  return labels;
}

std::vector<int> class_wise_nms(const std::vector<Candidate>& candidates, float nms_threshold) {
  std::map<int, std::vector<int>> by_class;
  for (int i = 0; i < static_cast<int>(candidates.size()); ++i) {
    by_class[candidates[static_cast<std::size_t>(i)].class_id].push_back(i);
  }
  std::vector<int> kept;
  std::vector<cv::Rect2d> boxes;
  std::vector<float> scores;
  std::vector<int> survivors;
  for (const auto& [class_id, members] : by_class) {
    boxes.clear();
    scores.clear();
    for (const int index : members) {
      const Candidate& candidate = candidates[static_cast<std::size_t>(index)];
      boxes.emplace_back(candidate.box.x, candidate.box.y, candidate.box.width,
                         candidate.box.height);
      scores.push_back(candidate.score);
    }
    // The decoders already applied the score threshold; NMSBoxes insists on one of its own, and
    // 0 lets every candidate with a score take part.
    cv::dnn::NMSBoxes(boxes, scores, 0.0F, nms_threshold, survivors);
    for (const int survivor : survivors)
      kept.push_back(members[static_cast<std::size_t>(survivor)]);
  }
  return kept;
}

}  // namespace lookout
