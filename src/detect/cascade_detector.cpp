#include "cascade_detector.h"

#include <algorithm>

#include <opencv2/imgproc.hpp>

#include "lookout/core/error.h"

namespace lookout {
namespace {

bool load(cv::CascadeClassifier& classifier, const std::string& path) {
  // A malformed XML makes OpenCV's parser throw rather than return false.
  try {
    return classifier.load(path) && !classifier.empty();
  } catch (const cv::Exception&) {
    return false;
  }
}

}  // namespace

bool cascade_loads(const std::string& path) {
  cv::CascadeClassifier classifier;
  return load(classifier, path);
}

CascadeDetector::CascadeDetector(const CascadeParams& params) : params_(params) {
  if (!load(classifier_, params_.cascade)) {
    throw ConfigError("cascade '" + params_.cascade + "' is not a valid Haar or LBP cascade XML");
  }
}

std::vector<Detection> CascadeDetector::detect(const cv::Mat& image) {
  std::vector<Detection> detections;
  if (image.empty()) return detections;

  // The classifier works on one 8-bit channel only.
  if (image.channels() == 3) {
    cv::cvtColor(image, gray_, cv::COLOR_BGR2GRAY);
  } else if (image.channels() == 4) {
    cv::cvtColor(image, gray_, cv::COLOR_BGRA2GRAY);
  } else {
    image.copyTo(gray_);
  }
  if (params_.equalize) cv::equalizeHist(gray_, gray_);

  // The score is the neighbour count. The rejectLevels/levelWeights overload finds the same boxes,
  // but its weight is only the last stage's sum for the best window: negative for many true Haar
  // faces and limited to a few distinct values for LBP, so it does not rank boxes usefully.
  std::vector<cv::Rect> boxes;
  std::vector<int> neighbours;
  classifier_.detectMultiScale(gray_, boxes, neighbours, params_.scale_factor,
                               params_.min_neighbors, 0, params_.min_size, params_.max_size);

  detections.reserve(boxes.size());
  for (std::size_t i = 0; i < boxes.size(); ++i) {
    Detection detection;
    detection.box = boxes[i];
    detection.label = params_.label;
    detection.score = i < neighbours.size() ? static_cast<double>(neighbours[i]) : 0.0;
    detections.push_back(std::move(detection));
  }
  // The classifier gathers windows from parallel strips when OpenCV's pool is on; sorting makes
  // the order independent of thread timing.
  sort_by_position(detections);
  return detections;
}

}  // namespace lookout
