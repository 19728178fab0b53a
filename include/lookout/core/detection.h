#pragma once
// A detection is a plain value: where, what, how sure. Boxes are always in the pixels of the
// frame as captured, whatever size a detector worked at.

#include <cstdint>
#include <optional>
#include <string>

#include <opencv2/core/types.hpp>

namespace lookout {

struct Detection {
  cv::Rect box;                          // input pixels: x, y, width, height
  std::string label;                     // e.g. "person", "face"
  double score = 0.0;                    // detector-specific confidence; higher is surer
  std::optional<std::int64_t> track_id;  // set by a tracker, if any
  std::optional<std::string> text;       // decoded payload (codes), if any

  friend bool operator==(const Detection& a, const Detection& b) {
    return a.box == b.box && a.label == b.label && a.score == b.score &&
           a.track_id == b.track_id && a.text == b.text;
  }
};

}  // namespace lookout
