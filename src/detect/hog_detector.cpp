#include "hog_detector.h"

#include <algorithm>
#include <utility>

namespace lookout {

HogDetector::HogDetector(const HogParams& params) : params_(params) {
  hog_.setSVMDetector(cv::HOGDescriptor::getDefaultPeopleDetector());
}

std::vector<Detection> HogDetector::detect(const cv::Mat& image) {
  std::vector<Detection> detections;
  if (image.cols < hog_.winSize.width || image.rows < hog_.winSize.height) return detections;

  std::vector<cv::Rect> boxes;
  std::vector<double> weights;
  hog_.detectMultiScale(image, boxes, weights, params_.hit_threshold, params_.win_stride,
                        params_.padding, params_.scale, params_.group_threshold);

  detections.reserve(boxes.size());
  for (std::size_t i = 0; i < boxes.size(); ++i) {
    Detection detection;
    detection.box = boxes[i];
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

}  // namespace lookout
