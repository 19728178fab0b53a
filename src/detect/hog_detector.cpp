#include "hog_detector.h"

#include <algorithm>
#include <opencv2/imgproc.hpp>
#include <utility>

namespace lookout {
namespace {

// Rounds down to a multiple of `step`, towards minus infinity.
int align_down(int value, int step) {
  return value >= 0 ? value / step * step : -((-value + step - 1) / step * step);
}

}  // namespace

HogDetector::HogDetector(const HogParams& params) : params_(params) {
  hog_.setSVMDetector(cv::HOGDescriptor::getDefaultPeopleDetector());
}

std::vector<Detection> HogDetector::to_detections(std::vector<cv::Rect>& boxes,
                                                  std::vector<double>& weights,
                                                  cv::Size image) const {
  const cv::Rect bounds(0, 0, image.width, image.height);
  std::vector<Detection> detections;
  detections.reserve(boxes.size());
  for (std::size_t i = 0; i < boxes.size(); ++i) {
    Detection detection;
    detection.box = boxes[i] & bounds;
    if (detection.box.empty()) continue;
    detection.label = "person";
    // OpenCV returns no weights on some paths (e.g. mean-shift grouping); keep the box anyway.
    detection.score = i < weights.size() ? weights[i] : 0.0;
    detections.push_back(std::move(detection));
  }
  // HOG collects windows per scale in parallel when OpenCV's pool is on, so the raw order can
  // depend on thread timing; a total order makes the result a function of the image alone.
  sort_by_position(detections);
  return detections;
}

std::vector<Detection> HogDetector::detect(const cv::Mat& image) {
  if (image.cols < hog_.winSize.width || image.rows < hog_.winSize.height) return {};
  std::vector<cv::Rect> boxes;
  std::vector<double> weights;
  hog_.detectMultiScale(image, boxes, weights, params_.hit_threshold, params_.win_stride,
                        params_.padding, params_.scale, params_.group_threshold);
  return to_detections(boxes, weights, image.size());
}

std::optional<RegionSearch> HogDetector::detect_in(const cv::Mat& image,
                                                   const std::vector<cv::Rect>& regions) {
  RegionSearch search;
  if (image.cols < hog_.winSize.width || image.rows < hog_.winSize.height) return search;
  const cv::Size window = hog_.winSize;
  const cv::Size stride = params_.win_stride;
  // detect() rounds the padding up to the block stride (which divides the window stride); the
  // first window of an image starts that far outside it.
  const int pad_x = (params_.padding.width + kBlockStride - 1) / kBlockStride * kBlockStride;
  const int pad_y = (params_.padding.height + kBlockStride - 1) / kBlockStride * kBlockStride;

  std::vector<cv::Rect> hits;
  std::vector<double> weights;
  cv::Mat level;
  std::vector<cv::Point> found;
  std::vector<double> found_weights;
  // The pyramid detectMultiScale builds: levels 1, s, s^2... while the window still fits.
  double scale = 1.0;
  for (int index = 0; index < hog_.nlevels; ++index, scale *= params_.scale) {
    const cv::Size size(cvRound(image.cols / scale), cvRound(image.rows / scale));
    if (size.width < window.width || size.height < window.height) break;
    // The view of this level holding every window (on the whole level's grid, which starts at
    // -padding and steps by the stride) whose centre lies in the region.
    std::vector<cv::Rect> views;
    const cv::Rect level_bounds(0, 0, size.width, size.height);
    for (const cv::Rect& region : regions) {
      const int first_x = cvFloor(region.x / scale) - window.width / 2;
      const int first_y = cvFloor(region.y / scale) - window.height / 2;
      const int last_x = cvCeil((region.x + region.width) / scale) - window.width / 2;
      const int last_y = cvCeil((region.y + region.height) / scale) - window.height / 2;
      const int left = std::max(0, align_down(first_x + pad_x, stride.width));
      const int top = std::max(0, align_down(first_y + pad_y, stride.height));
      const cv::Rect view =
          cv::Rect(cv::Point(left, top),
                   cv::Point(last_x + window.width - pad_x, last_y + window.height - pad_y)) &
          level_bounds;
      if (view.width + 2 * pad_x >= window.width && view.height + 2 * pad_y >= window.height) {
        views.push_back(view);
      }
    }
    if (views.empty()) continue;
    // Views that overlap would score their shared windows twice; merged ones start on the grid
    // still (the smaller left and top of two that do).
    merge_overlapping(views);
    if (size == image.size()) {
      // A fresh header, as detectMultiScale makes: if `image` is a view of a larger picture, HOG
      // must not read that picture's pixels around it.
      level = cv::Mat(size, image.type(), image.data, image.step);
      for (const cv::Rect& view : views) search.pixels += view.area();
    } else {
      cv::resize(image, level, size, 0, 0, cv::INTER_LINEAR_EXACT);  // as detectMultiScale does
    }
    const cv::Size scaled_window(cvRound(window.width * scale), cvRound(window.height * scale));
    for (const cv::Rect& view : views) {
      hog_.detect(level(view), found, found_weights, params_.hit_threshold, stride,
                  params_.padding);
      for (std::size_t i = 0; i < found.size(); ++i) {
        hits.emplace_back(cvRound((found[i].x + view.x) * scale),
                          cvRound((found[i].y + view.y) * scale), scaled_window.width,
                          scaled_window.height);
        weights.push_back(i < found_weights.size() ? found_weights[i] : 0.0);
      }
    }
  }
  hog_.groupRectangles(hits, weights, params_.group_threshold, 0.2);
  search.detections = to_detections(hits, weights, image.size());
  return search;
}

}  // namespace lookout
