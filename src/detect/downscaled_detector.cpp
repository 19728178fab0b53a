#include "downscaled_detector.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <opencv2/imgproc.hpp>

namespace lookout {
namespace {

int scaled(int length, double factor) {
  return static_cast<int>(std::lround(static_cast<double>(length) * factor));
}

}  // namespace

DownscaledDetector::DownscaledDetector(std::unique_ptr<Detector> inner, double factor)
    : inner_(std::move(inner)), factor_(factor) {
  if (!inner_) throw std::invalid_argument("DownscaledDetector needs a detector to wrap");
  if (!(factor_ > 0.0 && factor_ <= 1.0)) {
    throw std::invalid_argument("DownscaledDetector factor must be in (0, 1]");
  }
}

std::vector<Detection> DownscaledDetector::detect(const cv::Mat& image) {
  if (image.empty()) return inner_->detect(image);

  const cv::Size reduced(std::max(1, scaled(image.cols, factor_)),
                         std::max(1, scaled(image.rows, factor_)));
  cv::resize(image, small_, reduced, 0, 0, cv::INTER_AREA);
  std::vector<Detection> detections = inner_->detect(small_);

  // The rounded reduced size is not exactly size * factor, so mapping back by the actual ratio
  // keeps a box that touches the reduced image's edge on the input image's edge.
  const double sx = static_cast<double>(image.cols) / reduced.width;
  const double sy = static_cast<double>(image.rows) / reduced.height;
  const cv::Rect bounds(0, 0, image.cols, image.rows);
  std::vector<Detection> mapped;
  mapped.reserve(detections.size());
  for (auto& detection : detections) {
    const cv::Rect& box = detection.box;
    // Scaling the corners rather than the size keeps adjacent boxes adjacent after rounding.
    const int x0 = static_cast<int>(std::lround(box.x * sx));
    const int y0 = static_cast<int>(std::lround(box.y * sy));
    const int x1 = static_cast<int>(std::lround((box.x + box.width) * sx));
    const int y1 = static_cast<int>(std::lround((box.y + box.height) * sy));
    const cv::Rect clipped = cv::Rect(x0, y0, x1 - x0, y1 - y0) & bounds;
    if (clipped.empty()) continue;
    detection.box = clipped;
    for (auto& point : detection.keypoints) {
      point.x = static_cast<float>(point.x * sx);
      point.y = static_cast<float>(point.y * sy);
    }
    mapped.push_back(std::move(detection));
  }
  return mapped;
}

}  // namespace lookout
