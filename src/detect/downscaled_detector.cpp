#include "downscaled_detector.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>

#include <opencv2/imgproc.hpp>

#include "lookout/core/detection.h"

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

cv::Size DownscaledDetector::reduce(const cv::Mat& image) {
  const cv::Size reduced(std::max(1, scaled(image.cols, factor_)),
                         std::max(1, scaled(image.rows, factor_)));
  cv::resize(image, small_, reduced, 0, 0, cv::INTER_AREA);
  return reduced;
}

std::vector<Detection> DownscaledDetector::detect(const cv::Mat& image) {
  if (image.empty()) return inner_->detect(image);
  reduce(image);
  return map_back(inner_->detect(small_), image.size());
}

std::optional<RegionSearch> DownscaledDetector::detect_in(const cv::Mat& image,
                                                          const std::vector<cv::Rect>& regions) {
  if (!inner_searches_regions_) return std::nullopt;
  if (image.empty()) return inner_->detect_in(image, regions);
  const cv::Size reduced = reduce(image);
  const double fx = static_cast<double>(reduced.width) / image.cols;
  const double fy = static_cast<double>(reduced.height) / image.rows;
  const cv::Rect bounds(0, 0, reduced.width, reduced.height);
  std::vector<cv::Rect> small_regions;
  for (const cv::Rect& region : regions) {
    // Outwards: every reduced pixel that any of the region's pixels went into.
    const cv::Point first(cvFloor(region.x * fx), cvFloor(region.y * fy));
    const cv::Point last(cvCeil(region.br().x * fx), cvCeil(region.br().y * fy));
    const cv::Rect small_region = cv::Rect(first, last) & bounds;
    if (!small_region.empty()) small_regions.push_back(small_region);
  }
  merge_overlapping(small_regions);
  std::optional<RegionSearch> search = inner_->detect_in(small_, small_regions);
  if (!search) {
    inner_searches_regions_ = false;
    return std::nullopt;
  }
  search->detections = map_back(std::move(search->detections), image.size());
  search->pixels = static_cast<std::int64_t>(
      std::llround(static_cast<double>(search->pixels) / (fx * fy)));
  return search;
}

std::vector<Detection> DownscaledDetector::map_back(std::vector<Detection> detections,
                                                    cv::Size image) const {
  const cv::Size reduced = small_.size();
  // The rounded reduced size is not exactly size * factor, so mapping back by the actual ratio
  // keeps a box that touches the reduced image's edge on the input image's edge.
  const double sx = static_cast<double>(image.width) / reduced.width;
  const double sy = static_cast<double>(image.height) / reduced.height;
  const cv::Rect bounds(0, 0, image.width, image.height);
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
