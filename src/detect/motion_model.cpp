#include "lookout/detect/motion_model.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include <fmt/core.h>
#include <opencv2/imgproc.hpp>
#include <opencv2/video/background_segm.hpp>

#include "lookout/core/error.h"

namespace lookout {
namespace {

constexpr int kForeground = 255;  // MOG2 and KNN mark shadows 127, moving pixels 255

// "x,y x,y x,y; x,y x,y x,y": polygons separated by ';', points by spaces.
std::vector<std::vector<cv::Point>> parse_polygons(const std::string& text, Options& options) {
  std::vector<std::vector<cv::Point>> polygons;
  std::stringstream all(text);
  std::string polygon_text;
  while (std::getline(all, polygon_text, ';')) {
    std::stringstream points(polygon_text);
    std::vector<cv::Point> polygon;
    std::string point;
    while (points >> point) {
      int x = 0, y = 0;
      char comma = 0;
      std::stringstream parse(point);
      if (!(parse >> x >> comma >> y) || comma != ',' || !parse.eof() || x < 0 || y < 0) {
        options.reject("ignore", "polygons as 'x,y x,y x,y; x,y x,y x,y' in input pixels");
      }
      polygon.emplace_back(x, y);
    }
    if (polygon.empty()) continue;
    if (polygon.size() < 3) options.reject("ignore", "at least three points per polygon");
    polygons.push_back(std::move(polygon));
  }
  return polygons;
}

}  // namespace

std::vector<std::string> motion_option_keys() {
  return {"method", "history",  "threshold", "learning_rate", "shadows", "downscale",
          "blur",   "dilate",   "min_area",  "warmup",        "ignore"};
}

MotionParams parse_motion_params(Options& options) {
  MotionParams params;
  const std::string method = options.get_string("method", "mog2");
  if (method == "mog2") {
    params.method = MotionParams::Method::kMog2;
  } else if (method == "knn") {
    params.method = MotionParams::Method::kKnn;
  } else {
    options.reject("method", "mog2 or knn");
  }
  params.history = options.get_int("history", params.history, 1, 100'000);
  params.threshold = options.get_double("threshold", params.threshold, -1, 1e6);
  if (params.threshold != -1 && params.threshold <= 0) {
    options.reject("threshold", "a positive number (MOG2: 16; KNN: 400), or -1 for the default");
  }
  params.learning_rate = options.get_double("learning_rate", params.learning_rate, -1, 1);
  if (params.learning_rate < 0 && params.learning_rate != -1) {
    options.reject("learning_rate", "a number from 0 to 1, or -1 to follow the history");
  }
  params.shadows = options.get_bool("shadows", params.shadows);
  params.downscale = options.get_double("downscale", params.downscale, 0, 1);
  if (params.downscale <= 0) options.reject("downscale", "a number greater than 0 and at most 1");
  params.blur = options.get_int("blur", params.blur, 0, 99);
  if (params.blur > 0 && params.blur % 2 == 0) options.reject("blur", "0 or an odd kernel size such as 5");
  params.dilate = options.get_int("dilate", params.dilate, 0, 50);
  params.min_area = options.get_int("min_area", params.min_area, 1, 1 << 28);
  params.warmup = options.get_int("warmup", params.warmup, 0, 100'000);
  params.ignore = parse_polygons(options.get_string("ignore", ""), options);
  return params;
}

MotionModel::MotionModel(MotionParams params) : params_(std::move(params)) {
  if (params_.method == MotionParams::Method::kMog2) {
    model_ = cv::createBackgroundSubtractorMOG2(params_.history,
                                                params_.threshold > 0 ? params_.threshold : 16.0,
                                                params_.shadows);
  } else {
    model_ = cv::createBackgroundSubtractorKNN(params_.history,
                                               params_.threshold > 0 ? params_.threshold : 400.0,
                                               params_.shadows);
  }
}

MotionModel::~MotionModel() = default;

std::vector<Detection> MotionModel::apply(const cv::Mat& image) {
  if (image.empty()) return {};
  const cv::Size work(std::max(1, static_cast<int>(std::lround(image.cols * params_.downscale))),
                      std::max(1, static_cast<int>(std::lround(image.rows * params_.downscale))));
  const double sx = static_cast<double>(image.cols) / work.width;
  const double sy = static_cast<double>(image.rows) / work.height;
  if (work != work_size_) {
    // A new size (the first frame, or a stream that renegotiated) starts a new background.
    work_size_ = work;
    frames_ = 0;
    model_->clear();
    ignore_mask_.release();
    if (!params_.ignore.empty()) {
      ignore_mask_ = cv::Mat(work, CV_8UC1, cv::Scalar(255));
      std::vector<std::vector<cv::Point>> scaled;
      for (const auto& polygon : params_.ignore) {
        std::vector<cv::Point> points;
        for (const auto& p : polygon) {
          points.emplace_back(static_cast<int>(std::lround(p.x / sx)), static_cast<int>(std::lround(p.y / sy)));
        }
        scaled.push_back(std::move(points));
      }
      cv::fillPoly(ignore_mask_, scaled, cv::Scalar(0));
    }
  }

  if (work == image.size()) {
    image.copyTo(small_);
  } else {
    cv::resize(image, small_, work, 0, 0, cv::INTER_LINEAR);
  }
  if (params_.blur > 0) cv::GaussianBlur(small_, small_, cv::Size(params_.blur, params_.blur), 0);
  model_->apply(small_, mask_, params_.learning_rate);
  if (++frames_ <= params_.warmup) return {};

  // Shadows (127) are not motion.
  cv::threshold(mask_, mask_, kForeground - 1, 255, cv::THRESH_BINARY);
  if (!ignore_mask_.empty()) cv::bitwise_and(mask_, ignore_mask_, mask_);
  if (params_.dilate > 0) cv::dilate(mask_, mask_, cv::Mat(), cv::Point(-1, -1), params_.dilate);

  cv::Mat labels, stats, centroids;
  const int count = cv::connectedComponentsWithStats(mask_, labels, stats, centroids, 8, CV_32S);
  std::vector<Detection> regions;
  const cv::Rect bounds(0, 0, image.cols, image.rows);
  for (int i = 1; i < count; ++i) {  // 0 is the background
    const int x = stats.at<int>(i, cv::CC_STAT_LEFT);
    const int y = stats.at<int>(i, cv::CC_STAT_TOP);
    const int w = stats.at<int>(i, cv::CC_STAT_WIDTH);
    const int h = stats.at<int>(i, cv::CC_STAT_HEIGHT);
    const int x0 = static_cast<int>(std::lround(x * sx));
    const int y0 = static_cast<int>(std::lround(y * sy));
    const int x1 = static_cast<int>(std::lround((x + w) * sx));
    const int y1 = static_cast<int>(std::lround((y + h) * sy));
    const cv::Rect box = cv::Rect(x0, y0, x1 - x0, y1 - y0) & bounds;
    if (box.area() < params_.min_area) continue;
    const double moving = stats.at<int>(i, cv::CC_STAT_AREA);
    regions.push_back(Detection{box, "motion", moving / (static_cast<double>(w) * h), {}, {}});
  }
  sort_by_position(regions);
  return regions;
}

}  // namespace lookout
