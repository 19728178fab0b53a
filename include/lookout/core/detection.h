#pragma once
// A detection is a plain value: where, what, how sure. Boxes are always in the pixels of the
// frame as captured, whatever size a detector worked at.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core/types.hpp>

namespace lookout {

struct Detection {
  cv::Rect box;                          // input pixels: x, y, width, height
  std::string label;                     // e.g. "person", "face"
  double score = 0.0;                    // detector-specific confidence; higher is surer
  std::optional<std::int64_t> track_id;  // set by a tracker, if any
  std::optional<std::string> text;       // decoded payload (codes), if any
  std::vector<cv::Point2f> keypoints{};  // input pixels; detector-defined points (e.g. eyes), if any
  std::string stage{};                   // the pipeline stage that found it (set by the pipeline)

  friend bool operator==(const Detection& a, const Detection& b) {
    return a.box == b.box && a.label == b.label && a.score == b.score &&
           a.track_id == b.track_id && a.text == b.text && a.keypoints == b.keypoints &&
           a.stage == b.stage;
  }
};

// Sorts by position (y, x, width, height, then score), a total order that makes a detector's output a
// function of the image alone, whatever order its internals gathered boxes in.
void sort_by_position(std::vector<Detection>& detections);

// Replaces rectangles that overlap by their bounding box until none overlap (a merged box can
// overlap one that neither of its parts did). The survivors keep their first part's place.
void merge_overlapping(std::vector<cv::Rect>& rects);

}  // namespace lookout
