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

}  // namespace lookout
