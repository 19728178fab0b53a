#include "lookout/core/detection.h"

#include <algorithm>
#include <tuple>

namespace lookout {

void sort_by_position(std::vector<Detection>& detections) {
  std::sort(detections.begin(), detections.end(), [](const Detection& a, const Detection& b) {
    return std::make_tuple(a.box.y, a.box.x, a.box.width, a.box.height, a.score) <
           std::make_tuple(b.box.y, b.box.x, b.box.width, b.box.height, b.score);
  });
}

void merge_overlapping(std::vector<cv::Rect>& rects) {
  bool merged = true;
  while (merged) {
    merged = false;
    for (std::size_t i = 0; i < rects.size() && !merged; ++i) {
      for (std::size_t j = i + 1; j < rects.size(); ++j) {
        if ((rects[i] & rects[j]).empty()) continue;
        rects[i] |= rects[j];
        rects.erase(rects.begin() + static_cast<std::ptrdiff_t>(j));
        merged = true;
        break;
      }
    }
  }
}

}  // namespace lookout
